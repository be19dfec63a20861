/// Serialises float32 arrays as NumPy `.npy` (format version 1.0, little-endian,
/// C order), which `numpy.load` reads directly.
public enum NPYWriter {
    /// The complete file contents for `values` with the given `shape`.
    /// Throws `ImageError.invalidArgument` when the shape does not match the count.
    public static func float32(_ values: [Float], shape: [Int]) throws -> [UInt8] {
        var elements = 1
        for dimension in shape {
            let (product, overflow) = elements.multipliedReportingOverflow(by: dimension)
            guard dimension >= 0, !overflow else {
                throw ImageError.invalidArgument("invalid .npy shape \(shape)")
            }
            elements = product
        }
        guard elements == values.count else {
            throw ImageError.invalidArgument("shape \(shape) holds \(elements) values, got \(values.count)")
        }
        let shapeText = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': \(shapeText), }"
        // Magic (6) + version (2) + length (2) + header + newline, padded to 64 bytes.
        let unpadded = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0]
        let length = UInt16(header.utf8.count)
        bytes += [UInt8(length & 0xFF), UInt8(length >> 8)]
        bytes += Array(header.utf8)
        bytes.reserveCapacity(bytes.count + values.count * 4)
        for value in values {
            let bits = value.bitPattern.littleEndian
            bytes += [UInt8(bits & 0xFF), UInt8((bits >> 8) & 0xFF), UInt8((bits >> 16) & 0xFF), UInt8(bits >> 24)]
        }
        return bytes
    }
}
