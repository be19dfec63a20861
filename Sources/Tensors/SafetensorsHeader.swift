import JSON

/// One tensor's entry in a safetensors header, validated.
public struct TensorEntry: Sendable, Equatable {
    /// The tensor's name as written in the file.
    public let name: String
    /// Its element type.
    public let dtype: DType
    /// Its shape; `[]` is a scalar (one element).
    public let shape: [Int]
    /// Its byte range relative to the start of the data section.
    public let dataRange: Range<Int>

    /// Number of elements (product of `shape`).
    public var count: Int { shape.reduce(1, *) }
}

/// A parsed and fully validated safetensors header.
///
/// Validation guarantees: every entry has a known dtype, a shape whose element count and byte
/// size fit in `Int`, a byte range equal to that size and inside the data section; the ranges
/// do not overlap and cover the data section without gaps (as the format requires). After this,
/// reading a tensor's bytes can never leave the file.
package struct SafetensorsHeader {
    /// Upper bound on the JSON header's length; real headers are kilobytes.
    static let maxHeaderLength = 100 * 1024 * 1024

    package let entries: [TensorEntry]
    package let metadata: [String: String]
    /// Offset of the data section from the start of the file.
    package let dataOffset: Int

    /// Parses and validates the header of a file of `fileSize` bytes; `readBytes` returns the
    /// file's bytes in a range, and is only called with ranges inside the file.
    package static func parse(path: String, fileSize: Int,
                      readBytes: (Range<Int>) -> [UInt8]) throws(SafetensorsError) -> SafetensorsHeader {
        guard fileSize >= 8 else { throw .truncated(path: path, fileSize: fileSize, needed: "at least 8 bytes") }
        let lengthBytes = readBytes(0..<8)
        var length: UInt64 = 0
        for (i, byte) in lengthBytes.enumerated() { length |= UInt64(byte) << (8 * UInt64(i)) }
        guard length <= UInt64(maxHeaderLength) else {
            throw .headerTooLarge(path: path, length: length, limit: maxHeaderLength)
        }
        let headerLength = Int(length)
        guard headerLength <= fileSize - 8 else {
            throw .truncated(path: path, fileSize: fileSize, needed: "\(8 + headerLength) bytes for its header")
        }
        let json: JSONValue
        do {
            json = try JSONParser.parse(readBytes(8..<(8 + headerLength)))
        } catch {
            throw .malformedJSON(path: path, offset: error.offset, reason: error.reason)
        }
        let dataOffset = 8 + headerLength
        let header = try validate(json, path: path, dataSize: fileSize - dataOffset)
        return SafetensorsHeader(entries: header.entries, metadata: header.metadata, dataOffset: dataOffset)
    }

    private static func validate(_ json: JSONValue, path: String,
                                 dataSize: Int) throws(SafetensorsError) -> (entries: [TensorEntry], metadata: [String: String]) {
        guard case let .object(members) = json else {
            throw .invalidHeader(path: path, reason: "top level is a \(json.summary), expected an object")
        }
        var entries: [TensorEntry] = []
        var metadata: [String: String] = [:]
        entries.reserveCapacity(members.count)
        for (name, value) in members {
            if name == "__metadata__" {
                guard case let .object(pairs) = value else {
                    throw .invalidHeader(path: path, reason: "__metadata__ is a \(value.summary), expected an object")
                }
                for (key, item) in pairs {
                    guard case let .string(text) = item else {
                        throw .invalidHeader(path: path, reason: "__metadata__[\"\(key)\"] is a \(item.summary), expected a string")
                    }
                    metadata[key] = text
                }
                continue
            }
            entries.append(try entry(name: name, value: value, path: path, dataSize: dataSize))
        }
        try checkLayout(entries, path: path, dataSize: dataSize)
        return (entries, metadata)
    }

    private static func entry(name: String, value: JSONValue, path: String,
                              dataSize: Int) throws(SafetensorsError) -> TensorEntry {
        func fail(_ reason: String) -> SafetensorsError { .invalidTensor(path: path, tensor: name, reason: reason) }
        guard case let .object(fields) = value else { throw fail("entry is a \(value.summary), expected an object") }
        var dtypeValue: JSONValue?, shapeValue: JSONValue?, offsetsValue: JSONValue?
        for (key, field) in fields {
            switch key {
            case "dtype": dtypeValue = field
            case "shape": shapeValue = field
            case "data_offsets": offsetsValue = field
            default: throw fail("unexpected field \"\(key)\"")
            }
        }
        guard case let .string(dtypeName)? = dtypeValue else { throw fail("missing or non-string \"dtype\"") }
        guard let dtype = DType(rawValue: dtypeName) else { throw fail("unknown dtype \"\(dtypeName.prefix(40))\"") }
        guard case let .array(dims)? = shapeValue else { throw fail("missing or non-array \"shape\"") }
        var shape: [Int] = []
        var count = 1
        for dim in dims {
            guard let size = dim.nonNegativeInteger else {
                throw fail("shape entry \(dim.summary) is not a non-negative integer")
            }
            shape.append(size)
            let (product, overflow) = count.multipliedReportingOverflow(by: size)
            guard !overflow else { throw fail("shape \(dims.count)-dimensional element count overflows") }
            count = product
        }
        let (byteCount, overflow) = count.multipliedReportingOverflow(by: dtype.size)
        guard !overflow else { throw fail("byte size of shape \(shape) overflows") }
        guard case let .array(offsets)? = offsetsValue, offsets.count == 2 else {
            throw fail("missing \"data_offsets\" or not a [begin, end] pair")
        }
        guard let begin = offsets[0].nonNegativeInteger, let end = offsets[1].nonNegativeInteger else {
            throw fail("data_offsets must be non-negative integers that fit in 64 bits")
        }
        guard begin <= end else { throw fail("data_offsets [\(begin), \(end)] end before they begin") }
        guard end <= dataSize else {
            throw fail("data_offsets [\(begin), \(end)] exceed the data section (\(dataSize) bytes)")
        }
        guard end - begin == byteCount else {
            throw fail("data_offsets span \(end - begin) bytes but shape \(shape) of \(dtypeName) needs \(byteCount)")
        }
        return TensorEntry(name: name, dtype: dtype, shape: shape, dataRange: begin..<end)
    }

    private static func checkLayout(_ entries: [TensorEntry], path: String, dataSize: Int) throws(SafetensorsError) {
        let sorted = entries.sorted {
            ($0.dataRange.lowerBound, $0.dataRange.upperBound) < ($1.dataRange.lowerBound, $1.dataRange.upperBound)
        }
        var position = 0
        var previous = "start of the data section"
        for entry in sorted {
            if entry.dataRange.lowerBound < position {
                throw .invalidLayout(path: path, reason: "tensor \"\(entry.name)\" overlaps \(previous)")
            }
            if entry.dataRange.lowerBound > position {
                throw .invalidLayout(path: path, reason: "bytes \(position)..<\(entry.dataRange.lowerBound) before tensor \"\(entry.name)\" belong to no tensor")
            }
            position = entry.dataRange.upperBound
            previous = "tensor \"\(entry.name)\""
        }
        if position != dataSize {
            throw .invalidLayout(path: path, reason: "data section has \(dataSize) bytes but tensors cover \(position)")
        }
    }
}
