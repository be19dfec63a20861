/// Conversions from 16-bit float formats, done once when a tensor is loaded.
///
/// Written with bit operations rather than `Float16` because `Float16` is unavailable on some
/// platforms (macOS on x86_64); both are exact, including subnormals, infinities and NaN.
enum HalfFloat {
    /// IEEE 754 binary16 bits → Float.
    static func f16ToFloat(_ bits: UInt16) -> Float {
        let sign = UInt32(bits & 0x8000) << 16
        let exponent = UInt32(bits >> 10) & 0x1F
        var mantissa = UInt32(bits & 0x03FF)
        if exponent == 0x1F {  // infinity or NaN (payload kept)
            return Float(bitPattern: sign | 0x7F80_0000 | mantissa << 13)
        }
        if exponent != 0 {
            return Float(bitPattern: sign | (exponent + 112) << 23 | mantissa << 13)
        }
        if mantissa == 0 { return Float(bitPattern: sign) }
        // Subnormal: normalise; every f16 subnormal is a normal Float.
        var shiftedExponent: UInt32 = 113
        while mantissa & 0x0400 == 0 {
            mantissa <<= 1
            shiftedExponent -= 1
        }
        return Float(bitPattern: sign | shiftedExponent << 23 | (mantissa & 0x03FF) << 13)
    }

    /// bfloat16 bits (the upper half of a Float) → Float.
    static func bf16ToFloat(_ bits: UInt16) -> Float {
        Float(bitPattern: UInt32(bits) << 16)
    }
}
