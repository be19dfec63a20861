/// Vectorised `erf` and `exp` for the elementwise kernels.
///
/// GELU runs over `[rows, intermediate_size]` in every layer and softmax over every attention
/// score, so calling libm's scalar `erff`/`expf` per element would cost more than the matrix
/// products. These evaluate eight lanes at once with only multiply, add, divide, compare and
/// bit operations, which the compiler lowers to plain SSE2/AVX instructions (no FMA, no
/// rounding instructions, so no libm fallbacks on baseline x86-64).
///
/// Sixteen lanes per call: on baseline x86-64 that is four independent SSE dependency chains,
/// which hides the latency of the polynomial and division steps (eight lanes ran about twice
/// as slow per element).
package enum FastMath {
    package typealias Vector = SIMD16<Float>
    typealias Bits = SIMD16<Int32>

    // erf(x) ≈ x·P(x²)/Q(x²) on |x| ≤ 4: a rational fit of the relative error, made offline
    // with numpy (linearised least squares, reweighted by Lawson iterations towards minimax;
    // 2.5e-8 in double precision). Max relative error of this
    // Float evaluation against the exact erf: 4e-7 over [1e-30, 4] (measured on 2·10⁶ points;
    // KernelsTests checks 1e-6). Beyond 4, erf(x) rounds to ±1 in Float.
    private static let p0: Float = 1.1283791396101095
    private static let p1: Float = 0.193533979889531
    private static let p2: Float = 0.05309989634784646
    private static let p3: Float = 0.0038827605645285947
    private static let p4: Float = 0.00028453519121437174
    private static let p5: Float = 1.9866447739808886e-06
    private static let q1: Float = 0.5048475841522029
    private static let q2: Float = 0.11534507119326927
    private static let q3: Float = 0.015206100228629707
    private static let q4: Float = 0.0011853964182055611
    private static let q5: Float = 3.741711780790914e-05

    /// erf on sixteen lanes.
    @inline(__always)
    package static func erf(_ x: Vector) -> Vector {
        var clamped = x
        clamped.replace(with: -4, where: x .< -4)
        clamped.replace(with: 4, where: x .> 4)
        let t = clamped * clamped
        var p = Vector(repeating: p5)
        p = p * t + p4
        p = p * t + p3
        p = p * t + p2
        p = p * t + p1
        p = p * t + p0
        var q = Vector(repeating: q5)
        q = q * t + q4
        q = q * t + q3
        q = q * t + q2
        q = q * t + q1
        q = q * t + 1
        let r = clamped * p / q
        var result = r
        result.replace(with: -1, where: r .< -1)
        result.replace(with: 1, where: r .> 1)
        return result
    }

    // The standard library's pointwiseMin/pointwiseMax/clamped are generic and, as of Swift
    // 6.3, compiled to out-of-line calls that cost more than the whole polynomial; the
    // compare-and-select forms used here inline to a few instructions. NaN lanes pass through.
    @inline(__always)
    package static func minimum(_ a: Vector, _ b: Vector) -> Vector { a.replacing(with: b, where: b .< a) }

    @inline(__always)
    package static func maximum(_ a: Vector, _ b: Vector) -> Vector { a.replacing(with: b, where: b .> a) }

    /// erf of one value (same approximation as the vector version).
    package static func erf(_ x: Float) -> Float {
        erf(Vector(repeating: x))[0]
    }

    private static let log2e: Float = 1.4426950408889634
    // ln 2 split in two so that n·ln2Hi is exact for |n| < 2^9.
    private static let ln2Hi: Float = 0.693145751953125
    private static let ln2Lo: Float = 1.428606765330187e-06
    // Adding 1.5·2^23 rounds a Float to an integer (round-to-nearest) and leaves that integer
    // in the low mantissa bits, avoiding a float→int conversion instruction.
    private static let roundingMagic: Float = 12582912

    /// exp on sixteen lanes: 2^n · e^r with |r| ≤ ln2/2 and a degree-7 Taylor polynomial
    /// (truncation error < 6e-9 relative). Inputs below -87.3 give 0 (so -inf gives 0),
    /// inputs above 88.7 give +inf.
    @inline(__always)
    package static func exp(_ x: Vector) -> Vector {
        let lower = Vector(repeating: -87.33)
        let upper = Vector(repeating: 88.72)
        var xc = x
        xc.replace(with: lower, where: x .< lower)
        xc.replace(with: upper, where: x .> upper)
        let shifted = xc * log2e + roundingMagic
        let n = shifted - roundingMagic
        let r = (xc - n * ln2Hi) - n * ln2Lo
        var p = Vector(repeating: 1.0 / 5040)
        p = p * r + 1.0 / 720
        p = p * r + 1.0 / 120
        p = p * r + 1.0 / 24
        p = p * r + 1.0 / 6
        p = p * r + 0.5
        p = p * r + 1
        p = p * r + 1
        // 2^n built from its exponent bits: n sits in the low bits of `shifted`'s pattern.
        // Split in two factors so that n = 128 (x near 88.7) does not overflow the exponent.
        let magicBits = Bits(repeating: Int32(bitPattern: roundingMagic.bitPattern))
        let nInt = unsafeBitCast(shifted, to: Bits.self) &- magicBits
        let half = nInt &>> 1
        let scale1 = unsafeBitCast((half &+ 127) &<< 23, to: Vector.self)
        let scale2 = unsafeBitCast((nInt &- half &+ 127) &<< 23, to: Vector.self)
        var result = p * scale1 * scale2
        result.replace(with: 0, where: x .< lower)
        result.replace(with: .infinity, where: x .> upper)
        return result
    }

    /// exp for inputs ≤ 0 (softmax after subtracting the row maximum): the same polynomial
    /// without the overflow handling, and 0 below -87.3 (so -inf gives 0). Inputs above 0
    /// are outside its contract.
    @inline(__always)
    package static func expNonPositive(_ x: Vector) -> Vector {
        let lower = Vector(repeating: -87.33)
        var xc = x
        xc.replace(with: lower, where: x .< lower)
        let shifted = xc * log2e + roundingMagic
        let n = shifted - roundingMagic
        let r = (xc - n * ln2Hi) - n * ln2Lo
        var p = Vector(repeating: 1.0 / 5040)
        p = p * r + 1.0 / 720
        p = p * r + 1.0 / 120
        p = p * r + 1.0 / 24
        p = p * r + 1.0 / 6
        p = p * r + 0.5
        p = p * r + 1
        p = p * r + 1
        // n ∈ [-126, 0]: 2^n is a normal Float, one exponent field suffices.
        let magicBits = Bits(repeating: Int32(bitPattern: roundingMagic.bitPattern))
        let nInt = unsafeBitCast(shifted, to: Bits.self) &- magicBits
        var result = p * unsafeBitCast((nInt &+ 127) &<< 23, to: Vector.self)
        result.replace(with: 0, where: x .< lower)
        return result
    }

    /// exp of one value (same approximation as the vector version).
    package static func exp(_ x: Float) -> Float {
        exp(Vector(repeating: x))[0]
    }
}

extension UnsafePointer where Pointee == Float {
    /// Loads eight floats starting at element `offset` (no alignment needed).
    @inline(__always)
    func loadVector(at offset: Int) -> SIMD8<Float> {
        UnsafeRawPointer(self + offset).loadUnaligned(as: SIMD8<Float>.self)
    }

    /// Loads sixteen floats starting at element `offset` (no alignment needed).
    @inline(__always)
    func loadVector16(at offset: Int) -> SIMD16<Float> {
        UnsafeRawPointer(self + offset).loadUnaligned(as: SIMD16<Float>.self)
    }
}

extension UnsafeMutablePointer where Pointee == Float {
    /// Loads eight floats starting at element `offset` (no alignment needed).
    @inline(__always)
    func loadVector(at offset: Int) -> SIMD8<Float> {
        UnsafeRawPointer(self + offset).loadUnaligned(as: SIMD8<Float>.self)
    }

    /// Stores eight floats starting at element `offset` (no alignment needed).
    @inline(__always)
    func storeVector(_ value: SIMD8<Float>, at offset: Int) {
        UnsafeMutableRawPointer(self + offset).storeBytes(of: value, as: SIMD8<Float>.self)
    }

    /// Loads sixteen floats starting at element `offset` (no alignment needed).
    @inline(__always)
    func loadVector16(at offset: Int) -> SIMD16<Float> {
        UnsafeRawPointer(self + offset).loadUnaligned(as: SIMD16<Float>.self)
    }

    /// Stores sixteen floats starting at element `offset` (no alignment needed).
    @inline(__always)
    func storeVector16(_ value: SIMD16<Float>, at offset: Int) {
        UnsafeMutableRawPointer(self + offset).storeBytes(of: value, as: SIMD16<Float>.self)
    }
}
