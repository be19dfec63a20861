import Testing
@testable import Kernels

/// `PackedLinear` (the small-layer kernel) against a double-precision product: partial last
/// panels (n not a multiple of 16), row counts off the 6-row tile, strided input and output,
/// from the bias, from nothing, onto a residual, and split across threads.
struct PackedLinearTests {
    @Test(.enabled(if: PackedLinear.isSupported, "no AVX2+FMA on this CPU: small layers use OpenBLAS here"),
          arguments: [(1, 1, 1), (5, 17, 3), (6, 16, 64), (13, 40, 33), (197, 64, 64), (1576, 192, 64),
                      (7, 2, 128), (32, 384, 128), (2, 300, 768)])
    func matchesADoublePrecisionProduct(rows: Int, n: Int, k: Int) throws {
        var random = TestRandom(seed: UInt64(rows * 7919 + n * 31 + k))
        let lda = k + 3, ldc = n + 5
        let input = random.floats(rows * lda), weight = random.floats(n * k), bias = random.floats(n)
        let residual = random.floats(rows * ldc)
        let layer = try #require(weight.withUnsafeBufferPointer { PackedLinear(weight: $0.baseAddress!, outFeatures: n, inFeatures: k) })
        for mode in ["bias", "zero", "accumulate"] {
            var out = mode == "accumulate" ? residual : [Float](repeating: .nan, count: rows * ldc)
            for (r, c) in (0..<rows).flatMap({ r in (n..<ldc).map { (r, $0) } }) { out[r * ldc + c] = -7 }  // past n: untouched
            input.withUnsafeBufferPointer { a in bias.withUnsafeBufferPointer { b in out.withUnsafeMutableBufferPointer { o in
                layer.apply(a.baseAddress!, rows: rows, ldInput: lda, bias: mode == "bias" ? b.baseAddress : nil,
                            accumulate: mode == "accumulate", into: o.baseAddress!, ldOutput: ldc, log: nil)
            } } }
            var worst = 0.0
            for r in 0..<rows {
                for c in 0..<n {
                    var expected = mode == "bias" ? Double(bias[c]) : mode == "accumulate" ? Double(residual[r * ldc + c]) : 0
                    for i in 0..<k { expected += Double(input[r * lda + i]) * Double(weight[c * k + i]) }
                    worst = max(worst, abs(Double(out[r * ldc + c]) - expected))
                }
                #expect(out[r * ldc + n..<(r + 1) * ldc].allSatisfy { $0 == -7 }, "\(mode): a column past n was written")
            }
            #expect(worst < 1e-4 * Double(max(1, k / 64)), "\(mode): \(rows)x\(n)x\(k) off by \(worst)")
        }
    }

    @Test(.enabled(if: PackedLinear.isSupported, "no AVX2+FMA on this CPU"))
    func largeLayersStayOnBLAS() {
        let weight = [Float](repeating: 1, count: 768 * 3072)
        let tooWide = weight.withUnsafeBufferPointer { PackedLinear(weight: $0.baseAddress!, outFeatures: 768, inFeatures: 3072) }
        let tooBig = weight.withUnsafeBufferPointer { PackedLinear(weight: $0.baseAddress!, outFeatures: 768, inFeatures: 768) }
        #expect(tooWide == nil && tooBig == nil)
    }
}
