import CCPUFeatures
import CSmallGEMM
import Dispatch

/// A small layer's weight packed once, at load, for `csg_gemm_avx2` (`CSmallGEMM`): panels of 16
/// output columns, so a product reads the activations in place and packs nothing per call, and
/// starts from the bias or the residual already in the output instead of a separate pass.
///
/// Only for layers where this measured faster than OpenBLAS on the development machine (AMD EPYC,
/// AVX2 + FMA; `docs/benchmarks.md`): `inFeatures ≤ 1024` and a weight of at most 256 Ki floats
/// (1 MiB) — every layer of the default model. Larger layers (the seed-size model's) stay on
/// OpenBLAS, whose cache blocking wins for k = 3072, and keep their memory (the packed copy sits
/// beside the weight). `init` returns nil for those and on CPUs without AVX2 + FMA.
package struct PackedLinear: Sendable {
    /// Whether this CPU can run the kernel, asked once.
    package static let isSupported = ccpu_has_avx2_fma() != 0
    package static let maxInFeatures = 1024
    package static let maxWeightCount = 1 << 18

    package let outFeatures: Int
    package let inFeatures: Int
    private let packed: [Float]

    package init?(weight: UnsafePointer<Float>, outFeatures: Int, inFeatures: Int) {
        guard Self.isSupported, outFeatures > 0, inFeatures > 0 else { return nil }
        guard inFeatures <= Self.maxInFeatures, outFeatures * inFeatures <= Self.maxWeightCount else { return nil }
        self.outFeatures = outFeatures
        self.inFeatures = inFeatures
        packed = [Float](unsafeUninitializedCapacity: csg_packed_count(Int32(outFeatures), Int32(inFeatures))) { buffer, count in
            csg_pack(weight, Int32(outFeatures), Int32(inFeatures), buffer.baseAddress)
            count = buffer.count
        }
    }

    /// `output = init + input · Wᵀ` for `rows` rows, `init` being `output` itself when
    /// `accumulate` (a residual), else `bias` broadcast to every row (zero when nil). Rows are
    /// split across the BLAS thread count in blocks of six (the kernel's tile height).
    package func apply(_ input: UnsafePointer<Float>, rows: Int, ldInput: Int, bias: UnsafePointer<Float>?,
                       accumulate: Bool, into output: UnsafeMutablePointer<Float>, ldOutput: Int, log: GEMMLog?) {
        guard rows > 0 else { return }
        let start = log == nil ? 0 : DispatchTime.now().uptimeNanoseconds
        let n = outFeatures, k = inFeatures
        packed.withUnsafeBufferPointer { packed in
            let blocks = (rows + 5) / 6
            // A thread dispatch costs a few µs: about 1 M multiply-adds per chunk at least.
            parallelChunks(blocks, minimumChunk: max(1, (1 << 20) / max(1, 6 * n * k))) { range in
                let first = range.lowerBound * 6, count = min(rows, range.upperBound * 6) - first
                csg_gemm_avx2(Int32(count), Int32(n), Int32(k), input + first * ldInput, Int32(ldInput),
                              packed.baseAddress, bias, accumulate ? 1 : 0, output + first * ldOutput, Int32(ldOutput))
            }
        }
        if let log {
            log.record(GEMMShape(transposeA: false, transposeB: true, m: rows, n: n, k: k, lda: ldInput, ldb: k, ldc: ldOutput),
                       nanoseconds: DispatchTime.now().uptimeNanoseconds - start)
        }
    }
}
