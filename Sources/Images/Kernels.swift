import CCPUFeatures
import CImageKernels

/// The integer inner loops of the resampler, on raw pointers the callers obtained from
/// `with…` closures. Arithmetic is Pillow's: 32-bit accumulators seeded with half an
/// output unit, 22-bit fixed-point weights, arithmetic shift, clamp to 0...255.
enum Kernels {
    /// Whether this CPU can run the AVX2 loops of `CImageKernels`, asked once (every AVX2 CPU
    /// has FMA too).
    static let cpuHasAVX2 = ccpu_has_avx2_fma() != 0

    /// `accumulators[i] += source[i] * weight` for `count` bytes (the vertical pass): the AVX2
    /// loop in C where the CPU has it (the same integers), else this one.
    @inline(__always)
    static func multiplyAdd(_ source: UnsafePointer<UInt8>, _ weight: Int32,
                            _ accumulators: UnsafeMutablePointer<Int32>, _ count: Int) {
        if cpuHasAVX2 {
            cik_multiply_add_avx2(source, weight, accumulators, Int32(count))
            return
        }
        for i in 0..<count {
            accumulators[i] &+= Int32(source[i]) &* weight
        }
    }

    /// Pillow's `clip8`: shift out the fraction and clamp.
    @inline(__always)
    static func clip8(_ accumulators: UnsafePointer<Int32>, _ out: UnsafeMutablePointer<UInt8>, _ count: Int) {
        for i in 0..<count {
            out[i] = UInt8(clamping: accumulators[i] >> ResampleAxis.precisionBits)
        }
    }

    /// One horizontal pass over an RGB row: output pixel `x` is the weighted sum of
    /// `counts[x]` input pixels from `starts[x]`, weights at `weights[offsets[x]...]`.
    @inline(__always)
    static func horizontalRGB(_ source: UnsafePointer<UInt8>, _ destination: UnsafeMutablePointer<UInt8>,
                              _ outWidth: Int, _ starts: UnsafePointer<Int32>, _ counts: UnsafePointer<Int32>,
                              _ offsets: UnsafePointer<Int32>, _ weights: UnsafePointer<Int32>) {
        for x in 0..<outWidth {
            var p = source + Int(starts[x]) * 3
            let w = weights + Int(offsets[x])
            var r = ResampleAxis.rounding
            var g = ResampleAxis.rounding
            var b = ResampleAxis.rounding
            for i in 0..<Int(counts[x]) {
                let k = w[i]
                r &+= Int32(p[0]) &* k
                g &+= Int32(p[1]) &* k
                b &+= Int32(p[2]) &* k
                p += 3
            }
            let o = destination + x * 3
            o[0] = UInt8(clamping: r >> ResampleAxis.precisionBits)
            o[1] = UInt8(clamping: g >> ResampleAxis.precisionBits)
            o[2] = UInt8(clamping: b >> ResampleAxis.precisionBits)
        }
    }
}
