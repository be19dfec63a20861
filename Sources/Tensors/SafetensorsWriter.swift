import JSON

/// Builds safetensors files in memory: used by tests, tools and benchmarks to make model
/// directories without Python.
public struct SafetensorsWriter: Sendable {
    private var tensors: [(name: String, dtype: DType, shape: [Int], bytes: [UInt8])] = []
    private var metadata: [(String, String)] = []

    /// An empty file.
    public init() {}

    /// Adds a tensor with raw little-endian `bytes` (the caller chooses the encoding).
    public mutating func add(_ name: String, dtype: DType, shape: [Int], bytes: [UInt8]) {
        tensors.append((name, dtype, shape, bytes))
    }

    /// Adds a tensor of `values` stored as `dtype` (`.f32`, `.f16` or `.bf16`; F16 and BF16
    /// round to nearest even).
    public mutating func add(_ name: String, shape: [Int], values: [Float], dtype: DType = .f32) {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(values.count * dtype.size)
        for value in values {
            switch dtype {
            case .f16:
                let bits = Self.floatToF16(value)
                bytes += [UInt8(bits & 0xFF), UInt8(bits >> 8)]
            case .bf16:
                let bits = Self.floatToBF16(value)
                bytes += [UInt8(bits & 0xFF), UInt8(bits >> 8)]
            default:
                let bits = value.bitPattern
                bytes += [UInt8(bits & 0xFF), UInt8(bits >> 8 & 0xFF), UInt8(bits >> 16 & 0xFF), UInt8(bits >> 24)]
            }
        }
        add(name, dtype: dtype == .f16 || dtype == .bf16 ? dtype : .f32, shape: shape, bytes: bytes)
    }

    /// Adds a `__metadata__` entry.
    public mutating func addMetadata(_ key: String, _ value: String) {
        metadata.append((key, value))
    }

    /// The file's bytes: 8-byte header length, JSON header padded with spaces to a multiple of
    /// 8 (so F32 data is aligned), then the tensors' data in insertion order.
    public func serialize() -> [UInt8] {
        var members: [(String, String)] = []
        if !metadata.isEmpty {
            members.append(("__metadata__", JSONText.object(metadata.map { ($0.0, JSONText.string($0.1)) })))
        }
        var offset = 0
        for tensor in tensors {
            let shape = tensor.shape.map(String.init).joined(separator: ",")
            let end = offset + tensor.bytes.count
            members.append((tensor.name, JSONText.object([("dtype", JSONText.string(tensor.dtype.rawValue)),
                                                          ("shape", "[\(shape)]"), ("data_offsets", "[\(offset),\(end)]")])))
            offset = end
        }
        var header = Array(JSONText.object(members).utf8)
        while header.count % 8 != 0 { header.append(0x20) }
        var out: [UInt8] = []
        out.reserveCapacity(8 + header.count + offset)
        let length = UInt64(header.count)
        for i in 0..<8 { out.append(UInt8(truncatingIfNeeded: length >> (8 * UInt64(i)))) }
        out += header
        for tensor in tensors { out += tensor.bytes }
        return out
    }

    /// Float → binary16, round to nearest even, overflow to infinity.
    static func floatToF16(_ value: Float) -> UInt16 {
        let bits = value.bitPattern
        let sign = UInt16(bits >> 16) & 0x8000
        let exponent = Int((bits >> 23) & 0xFF)
        let mantissa = bits & 0x7F_FFFF
        if exponent == 0xFF { return sign | 0x7C00 | (mantissa != 0 ? 0x200 : 0) }
        let unbiased = exponent - 127
        if unbiased > 15 { return sign | 0x7C00 }
        if unbiased >= -14 {
            // Normal half: keep 10 mantissa bits, round the 13 dropped ones to nearest even.
            var half = UInt32(unbiased + 15) << 10 | mantissa >> 13
            let dropped = mantissa & 0x1FFF
            if dropped > 0x1000 || (dropped == 0x1000 && half & 1 == 1) { half += 1 }  // may carry into the exponent: correct
            return sign | UInt16(half)
        }
        if unbiased < -25 { return sign }
        // Subnormal half: value = m × 2^-24 with m = full mantissa >> shift.
        let full = mantissa | 0x80_0000
        let shift = UInt32(-unbiased - 14 + 13)
        var half = full >> shift
        let dropped = full & ((1 << shift) - 1)
        let halfway: UInt32 = 1 << (shift - 1)
        if dropped > halfway || (dropped == halfway && half & 1 == 1) { half += 1 }
        return sign | UInt16(half)
    }

    /// Float → bfloat16, round to nearest even (NaN stays NaN).
    static func floatToBF16(_ value: Float) -> UInt16 {
        let bits = value.bitPattern
        if value.isNaN { return UInt16(bits >> 16) | 0x40 }
        let rounding = UInt32(0x7FFF) + (bits >> 16 & 1)
        return UInt16((bits &+ rounding) >> 16)
    }
}
