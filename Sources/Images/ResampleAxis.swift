/// Pillow's bilinear resampling coefficients for one axis (`precompute_coeffs` and
/// `normalize_coeffs_8bpc` in Pillow's `Resample.c`), reimplemented.
///
/// For output index `i` the filter is centred on `(i + 0.5) * scale` in input
/// coordinates and stretched by the downscale factor (antialiasing); the taps cover
/// `[start, start + count)`. Weights are normalised in double precision, then rounded
/// half away from zero to fixed point with 22 fractional bits. Every floating-point
/// step follows Pillow's operation order, because one ulp can move a rounding.
struct ResampleAxis: Sendable {
    /// Fractional bits of the fixed-point weights (Pillow: 32 - 8 - 2).
    static let precisionBits: Int32 = 22
    /// Added before the final shift so it rounds to nearest.
    static let rounding: Int32 = 1 << (precisionBits - 1)

    let inSize: Int
    let outSize: Int
    let scale: Double
    let support: Double
    let inverseFilterScale: Double
    /// Pillow's `ksize`: an upper bound on `count`.
    let maxTaps: Int

    init(inSize: Int, outSize: Int) {
        precondition(inSize >= 1 && outSize >= 1)
        self.inSize = inSize
        self.outSize = outSize
        // Pillow receives the box as C floats: (double)(in1 - in0) with in0 = 0.
        let scale = Double(Float(inSize)) / Double(outSize)
        let filterScale = max(scale, 1.0)
        self.scale = scale
        self.support = 1.0 * filterScale  // bilinear support is 1
        self.inverseFilterScale = 1.0 / filterScale
        self.maxTaps = Int(support.rounded(.up)) * 2 + 1
    }

    /// First input index and number of taps for output `index`.
    @inline(__always)
    func bounds(_ index: Int) -> (start: Int, count: Int) {
        let center = (Double(index) + 0.5) * scale
        var start = Int(center - support + 0.5)  // C (int) cast: truncates toward zero
        if start < 0 { start = 0 }
        var end = Int(center + support + 0.5)
        if end > inSize { end = inSize }
        return (start, max(0, end - start))
    }

    @inline(__always)
    private static func bilinear(_ x: Double) -> Double {
        let a = x < 0 ? -x : x
        return a < 1.0 ? 1.0 - a : 0.0
    }

    /// Writes the fixed-point weights of output `index` into `weights` (at least
    /// `count` entries), using `scratch` (same size) for the double-precision pass.
    @inline(__always)
    func weights(_ index: Int, start: Int, count: Int,
                 into weights: UnsafeMutablePointer<Int32>, scratch: UnsafeMutablePointer<Double>) {
        let center = (Double(index) + 0.5) * scale
        var total = 0.0
        for x in 0..<count {
            let w = Self.bilinear((Double(x + start) - center + 0.5) * inverseFilterScale)
            scratch[x] = w
            total += w
        }
        let one = Double(1 << Int(Self.precisionBits))
        for x in 0..<count {
            let k = total != 0.0 ? scratch[x] / total : scratch[x]
            weights[x] = k < 0 ? Int32(-0.5 + k * one) : Int32(0.5 + k * one)
        }
    }
}
