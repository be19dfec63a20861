import Foundation

/// Why a `.npy` file was rejected.
public enum NPYError: Error, CustomStringConvertible, Equatable {
    /// The file could not be read.
    case io(path: String, reason: String)
    /// The file is larger than the caller's limit.
    case tooLarge(path: String, size: Int, limit: Int)
    /// The file is not a valid NPY file (magic, version, header or data length).
    case invalid(path: String, reason: String)
    /// The array is valid NPY but not little-endian float32 in C order.
    case unsupported(path: String, reason: String)

    public var description: String {
        switch self {
        case let .io(path, reason): return "\(path): \(reason)"
        case let .tooLarge(path, size, limit): return "\(path): \(size) bytes exceeds the \(limit)-byte limit"
        case let .invalid(path, reason): return "\(path): not a valid .npy file: \(reason)"
        case let .unsupported(path, reason): return "\(path): unsupported .npy array: \(reason)"
        }
    }
}

/// A float32 array read from a NumPy `.npy` file.
public struct NPYArray: Sendable, Equatable {
    /// The array's shape (`[]` for a scalar).
    public let shape: [Int]
    /// The values in C order.
    public let values: [Float]
}

/// A strict reader for NumPy `.npy` files holding little-endian float32 arrays in C order
/// (`np.save(path, array.astype("<f4"))`), versions 1.0 to 3.0.
///
/// Strict: the header must be the dictionary NumPy writes (keys `descr`, `fortran_order`,
/// `shape` and nothing else), and the data must be exactly `product(shape) × 4` bytes.
public enum NPYFile {
    private static let magic: [UInt8] = [0x93] + Array("NUMPY".utf8)
    /// Longest header accepted (NumPy's own limit for version 1.0 headers is 64 KiB).
    static let maxHeaderLength = 1 << 16

    /// Reads a float32 array from `path`; files over `maxBytes` are rejected before reading.
    public static func readFloat32(path: String, maxBytes: Int = 256 << 20) throws(NPYError) -> NPYArray {
        let data: Data
        do {
            let attributes = try FileManager.default.attributesOfItem(atPath: path)
            if let type = attributes[.type] as? FileAttributeType, type != .typeRegular {
                throw NPYError.io(path: path, reason: "not a regular file")
            }
            if let size = attributes[.size] as? Int, size > maxBytes {
                throw NPYError.tooLarge(path: path, size: size, limit: maxBytes)
            }
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch let error as NPYError {
            throw error
        } catch {
            throw .io(path: path, reason: "cannot read: \((error as NSError).localizedDescription)")
        }
        guard data.count <= maxBytes else { throw .tooLarge(path: path, size: data.count, limit: maxBytes) }
        return try decodeFloat32([UInt8](data), path: path)
    }

    /// Decodes the bytes of a `.npy` file; `path` names it in errors.
    public static func decodeFloat32(_ bytes: [UInt8], path: String = "<npy>") throws(NPYError) -> NPYArray {
        func invalid(_ reason: String) -> NPYError { .invalid(path: path, reason: reason) }
        guard bytes.count >= 10, Array(bytes[0..<6]) == magic else { throw invalid("missing \\x93NUMPY magic") }
        let major = bytes[6]
        let headerStart: Int, headerLength: Int
        switch major {
        case 1:
            headerStart = 10
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
        case 2, 3:
            guard bytes.count >= 12 else { throw invalid("truncated header length") }
            headerStart = 12
            headerLength = (8..<12).reduce(0) { $0 | Int(bytes[$1]) << (8 * ($1 - 8)) }
        default:
            throw invalid("unknown format version \(major).\(bytes[7])")
        }
        guard headerLength <= maxHeaderLength else { throw invalid("header of \(headerLength) bytes is too long") }
        guard headerStart + headerLength <= bytes.count else { throw invalid("truncated header") }
        let header = Array(bytes[headerStart..<(headerStart + headerLength)])
        guard header.allSatisfy({ $0 >= 0x20 && $0 < 0x7F || $0 == 0x0A }) else {
            throw invalid("header is not printable ASCII")
        }
        var parser = HeaderParser(text: header, path: path)
        let fields = try parser.parse()
        guard fields.descr == "<f4" else {
            throw .unsupported(path: path, reason: "dtype '\(fields.descr)', expected little-endian float32 '<f4'")
        }
        guard !fields.fortranOrder else { throw .unsupported(path: path, reason: "Fortran order, expected C order") }
        var count = 1
        for dim in fields.shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: dim)
            guard !overflow else { throw invalid("shape \(fields.shape) overflows") }
            count = product
        }
        let dataStart = headerStart + headerLength
        let (byteCount, overflow) = count.multipliedReportingOverflow(by: 4)
        guard !overflow, bytes.count - dataStart == byteCount else {
            throw invalid("shape \(fields.shape) needs \(count) × 4 bytes of data, file has \(bytes.count - dataStart)")
        }
        let values = bytes.withUnsafeBytes { raw in
            (0..<count).map { raw.loadUnaligned(fromByteOffset: dataStart + 4 * $0, as: Float.self) }
        }
        return NPYArray(shape: fields.shape, values: values)
    }

    /// Parses the Python dict literal of a header: `{'descr': '<f4', 'fortran_order': False,
    /// 'shape': (3, 224, 224), }` followed by space padding and a newline.
    private struct HeaderParser {
        let text: [UInt8]
        let path: String
        var index = 0

        init(text: [UInt8], path: String) {
            self.text = text
            self.path = path
        }

        private func fail(_ reason: String) -> NPYError { .invalid(path: path, reason: "header: \(reason)") }

        private mutating func skipSpaces() {
            while index < text.count, text[index] == 0x20 { index += 1 }
        }

        private mutating func expect(_ byte: UInt8) throws(NPYError) {
            skipSpaces()
            guard index < text.count, text[index] == byte else {
                throw fail("expected '\(Character(Unicode.Scalar(byte)))' at byte \(index)")
            }
            index += 1
        }

        private mutating func peek(_ byte: UInt8) -> Bool {
            skipSpaces()
            return index < text.count && text[index] == byte
        }

        private mutating func string() throws(NPYError) -> String {
            skipSpaces()
            guard index < text.count, text[index] == UInt8(ascii: "'") || text[index] == UInt8(ascii: "\"") else {
                throw fail("expected a string at byte \(index)")
            }
            let quote = text[index]
            index += 1
            let start = index
            while index < text.count, text[index] != quote {
                guard text[index] != UInt8(ascii: "\\") else { throw fail("escapes are not supported") }
                index += 1
            }
            guard index < text.count else { throw fail("unterminated string") }
            defer { index += 1 }
            return String(decoding: text[start..<index], as: UTF8.self)
        }

        private mutating func boolean() throws(NPYError) -> Bool {
            skipSpaces()
            for (word, value) in [("True", true), ("False", false)] {
                let bytes = Array(word.utf8)
                if index + bytes.count <= text.count, Array(text[index..<(index + bytes.count)]) == bytes {
                    index += bytes.count
                    return value
                }
            }
            throw fail("expected True or False at byte \(index)")
        }

        private mutating func integer() throws(NPYError) -> Int {
            skipSpaces()
            var value = 0, digits = 0
            while index < text.count, text[index] >= UInt8(ascii: "0"), text[index] <= UInt8(ascii: "9") {
                let (times10, o1) = value.multipliedReportingOverflow(by: 10)
                let (sum, o2) = times10.addingReportingOverflow(Int(text[index] - UInt8(ascii: "0")))
                guard !o1, !o2 else { throw fail("dimension too large") }
                value = sum
                digits += 1
                index += 1
            }
            guard digits > 0 else { throw fail("expected a non-negative integer at byte \(index)") }
            if index < text.count, text[index] == UInt8(ascii: "L") { index += 1 }  // Python 2 longs
            return value
        }

        private mutating func tuple() throws(NPYError) -> [Int] {
            try expect(UInt8(ascii: "("))
            var values: [Int] = []
            while !peek(UInt8(ascii: ")")) {
                values.append(try integer())
                guard values.count <= 32 else { throw fail("more than 32 dimensions") }
                if peek(UInt8(ascii: ",")) { index += 1 } else { break }
            }
            try expect(UInt8(ascii: ")"))
            return values
        }

        mutating func parse() throws(NPYError) -> (descr: String, fortranOrder: Bool, shape: [Int]) {
            var descr: String?, fortranOrder: Bool?, shape: [Int]?
            try expect(UInt8(ascii: "{"))
            while !peek(UInt8(ascii: "}")) {
                let key = try string()
                try expect(UInt8(ascii: ":"))
                switch key {
                case "descr" where descr == nil: descr = try string()
                case "fortran_order" where fortranOrder == nil: fortranOrder = try boolean()
                case "shape" where shape == nil: shape = try tuple()
                default: throw fail("unexpected or repeated key '\(key)'")
                }
                if peek(UInt8(ascii: ",")) { index += 1 } else { break }
            }
            try expect(UInt8(ascii: "}"))
            skipSpaces()
            guard index == text.count - 1, text[index] == 0x0A else { throw fail("must end with padding and a newline") }
            guard let descr, let fortranOrder, let shape else { throw fail("needs descr, fortran_order and shape") }
            return (descr, fortranOrder, shape)
        }
    }
}
