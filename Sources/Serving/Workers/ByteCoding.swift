/// Appends little-endian values to a byte array (the IPC wire format; both ends run on the
/// same host, and every platform Swift targets here is little-endian).
struct ByteWriter {
    private(set) var bytes: [UInt8] = []

    init(reservingCapacity capacity: Int = 0) { bytes.reserveCapacity(capacity) }

    mutating func u8(_ value: UInt8) { bytes.append(value) }
    mutating func u16(_ value: UInt16) { withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func u32(_ value: UInt32) { withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func u64(_ value: UInt64) { withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) } }
    /// Overwrites four bytes already written (a length known only at the end).
    mutating func patchU32(at offset: Int, _ value: UInt32) {
        withUnsafeBytes(of: value.littleEndian) { raw in
            for (i, byte) in raw.enumerated() { bytes[offset + i] = byte }
        }
    }

    mutating func i32(_ value: Int32) { u32(UInt32(bitPattern: value)) }
    mutating func f32(_ value: Float) { u32(value.bitPattern) }

    /// A count as u32, then the floats' raw bytes in one copy.
    mutating func floats(_ values: [Float]) {
        u32(UInt32(values.count))
        values.withUnsafeBytes { bytes.append(contentsOf: $0) }
    }

    /// A count as u32, then the integers' raw bytes in one copy.
    mutating func int32s(_ values: [Int32]) {
        u32(UInt32(values.count))
        values.withUnsafeBytes { bytes.append(contentsOf: $0) }
    }

    /// A count as u32, then the bytes.
    mutating func bytes(_ values: [UInt8]) {
        u32(UInt32(values.count))
        bytes.append(contentsOf: values)
    }

    mutating func string(_ value: String) {
        let utf8 = Array(value.utf8)
        u32(UInt32(utf8.count))
        bytes.append(contentsOf: utf8)
    }
}

/// Reads little-endian values from a byte array, checking every length against what is left
/// and against a caller's limit, so a corrupt frame gives a `WireError`, never a bad read.
struct ByteReader {
    private let bytes: [UInt8]
    private(set) var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var remaining: Int { bytes.count - offset }

    private mutating func take<T: FixedWidthInteger>(_: T.Type, _ what: String) throws -> T {
        let size = MemoryLayout<T>.size
        guard remaining >= size else { throw WireError.truncated(what) }
        var value: T = 0
        withUnsafeMutableBytes(of: &value) { target in
            bytes.withUnsafeBytes { source in
                target.copyMemory(from: UnsafeRawBufferPointer(rebasing: source[offset..<offset + size]))
            }
        }
        offset += size
        return T(littleEndian: value)
    }

    mutating func u8(_ what: String) throws -> UInt8 { try take(UInt8.self, what) }
    mutating func u16(_ what: String) throws -> UInt16 { try take(UInt16.self, what) }
    mutating func u32(_ what: String) throws -> UInt32 { try take(UInt32.self, what) }
    mutating func u64(_ what: String) throws -> UInt64 { try take(UInt64.self, what) }
    mutating func i32(_ what: String) throws -> Int32 { Int32(bitPattern: try u32(what)) }
    mutating func f32(_ what: String) throws -> Float { Float(bitPattern: try u32(what)) }

    private mutating func count(_ what: String, elementSize: Int, limit: Int) throws -> Int {
        let count = Int(try u32("\(what) count"))
        guard count <= limit else { throw WireError.countTooLarge(what, count: count, limit: limit) }
        guard remaining >= count * elementSize else { throw WireError.truncated(what) }
        return count
    }

    private mutating func raw<T>(_: T.Type, count: Int) -> [T] {
        // `Array(unsafeUninitializedCapacity: 0)` stores its count into the shared empty-array
        // singleton, a write that ThreadSanitizer reports as a race when two threads decode at once.
        guard count > 0 else { return [] }
        let size = MemoryLayout<T>.size * count
        let values = [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            bytes.withUnsafeBytes { source in
                UnsafeMutableRawBufferPointer(buffer).copyMemory(
                    from: UnsafeRawBufferPointer(rebasing: source[offset..<offset + size]))
            }
            initialized = count
        }
        offset += size
        return values
    }

    mutating func floats(_ what: String, limit: Int) throws -> [Float] {
        let n = try count(what, elementSize: 4, limit: limit)
        return raw(Float.self, count: n)
    }

    mutating func bytes(_ what: String, limit: Int) throws -> [UInt8] {
        let n = try count(what, elementSize: 1, limit: limit)
        return raw(UInt8.self, count: n)
    }

    mutating func int32s(_ what: String, limit: Int) throws -> [Int32] {
        let n = try count(what, elementSize: 4, limit: limit)
        return raw(Int32.self, count: n)
    }

    mutating func string(_ what: String, limit: Int) throws -> String {
        let n = try count(what, elementSize: 1, limit: limit)
        let utf8 = Array(bytes[offset..<offset + n])
        offset += n
        guard let text = String(validating: utf8, as: UTF8.self) else { throw WireError.invalidUTF8(what) }
        return text
    }
}
