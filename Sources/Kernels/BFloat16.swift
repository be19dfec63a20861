import CCPUFeatures

/// bfloat16: the upper half of an IEEE binary32, as the `bf16` precision mode feeds oneDNN.
///
/// Conversion from Float rounds to nearest, ties to even, like `torch.Tensor.bfloat16()`, oneDNN's
/// reorders and `vcvtneps2bf16`; a NaN stays a (quiet) NaN instead of rounding into infinity.
package enum BFloat16 {
    /// Whether this CPU has AVX512_BF16, which the `bf16` precision mode requires.
    package static let cpuHasAVX512BF16 = ccpu_has_avx512_bf16() != 0

    /// The bf16 nearest to `value` (ties to even); values past the largest bf16 round to ±infinity.
    @inline(__always)
    package static func bits(_ value: Float) -> UInt16 {
        let bits = value.bitPattern
        if value.isNaN { return UInt16(truncatingIfNeeded: bits >> 16) | 0x0040 }
        let lsb = (bits >> 16) & 1
        return UInt16(truncatingIfNeeded: (bits &+ 0x7FFF &+ lsb) >> 16)
    }

    /// The Float a bf16 stands for (exact).
    @inline(__always)
    package static func float(_ bits: UInt16) -> Float {
        Float(bitPattern: UInt32(bits) << 16)
    }

    /// Rounds `rows` rows of `columns` floats, `ldSource` apart, into dense bf16 rows.
    package static func round(_ source: UnsafePointer<Float>, rows: Int, columns: Int, ldSource: Int,
                              into destination: UnsafeMutablePointer<UInt16>) {
        for r in 0..<rows {
            let from = source + r * ldSource, to = destination + r * columns
            for c in 0..<columns { to[c] = bits(from[c]) }
        }
    }
}
