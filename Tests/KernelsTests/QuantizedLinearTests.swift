import Testing
@testable import Kernels

struct QuantizedLinearTests {
    /// `quantizedLinear` on plain arrays; `output` starts as `initial` (for `accumulate`).
    static func run(_ input: [Float], rows: Int, ldInput: Int, weights: QuantizedWeights,
                    initial: [Float], ldOutput: Int, accumulate: Bool) -> [Float] {
        var output = initial
        input.withUnsafeBufferPointer { x in
            output.withUnsafeMutableBufferPointer { y in
                quantizedLinear(input: x.baseAddress!, rows: rows, ldInput: ldInput, weights: weights,
                                output: y.baseAddress!, ldOutput: ldOutput, accumulate: accumulate)
            }
        }
        return output
    }

    @Test func weightsRoundTripWithinHalfAStepPerRow() {
        var random = TestRandom(seed: 11)
        let n = 6, k = 40
        var weight = random.floats(n * k, scale: 2)
        for i in 0..<k { weight[3 * k + i] = 0 }  // an all-zero row
        let q = weight.withUnsafeBufferPointer { QuantizedWeights(weight: $0, outFeatures: n, inFeatures: k, levels: 63) }
        #expect(q.values.allSatisfy { abs(Int($0)) <= 63 })
        let back = q.dequantized()
        for j in 0..<n {
            let row = weight[(j * k)..<((j + 1) * k)]
            let step = row.map(abs).max()! / 63
            for i in 0..<k { #expect(abs(back[j * k + i] - weight[j * k + i]) <= step / 2 + 1e-7) }
            // The largest magnitude is a whole number of steps: it maps to ±63 exactly.
            if step > 0 { #expect(q.values[(j * k)..<((j + 1) * k)].contains { abs(Int($0)) == 63 }) }
        }
        #expect(q.scales[3] == 1 && q.rowSums[3] == 0)
        #expect(back[(3 * k)..<(4 * k)].allSatisfy { $0 == 0 })
    }

    @Test func rowsQuantizeOverTheirRangeWithZeroExact() {
        let x: [Float] = [-1, 0, 0.5, 3, .nan, -0.25]
        var q = [UInt8](repeating: 9, count: x.count)
        let (scale, zero) = x.withUnsafeBufferPointer { x in
            q.withUnsafeMutableBufferPointer { quantizeRow(x.baseAddress!, count: x.count, into: $0.baseAddress!) }
        }
        #expect(abs(scale - 4 / 255) < 1e-7)
        #expect(q[1] == UInt8(zero))  // 0 is representable exactly: padding stays 0
        #expect(q[0] == 0 && q[3] == 255)
        for i in [0, 2, 3, 5] { #expect(abs(scale * (Float(q[i]) - Float(zero)) - x[i]) <= scale / 2 + 1e-6) }
        // A constant (here all-zero) row quantizes to zeros with scale 1.
        let zeros = [Float](repeating: 0, count: 5)
        var qz = [UInt8](repeating: 7, count: 5)
        let (s0, z0) = zeros.withUnsafeBufferPointer { x in
            qz.withUnsafeMutableBufferPointer { quantizeRow(x.baseAddress!, count: 5, into: $0.baseAddress!) }
        }
        #expect(s0 == 1 && z0 == 0 && qz == [0, 0, 0, 0, 0])
    }

    /// The integer product must be exact: compare with the same quantized values multiplied in
    /// Double here. Catches a wrong transpose, stride, zero-point correction or a saturating
    /// 16-bit sum (all-positive 255 × ±levels inputs would overflow `vpmaddubsw` at 127).
    @Test(arguments: [(1, 8, 16, false), (5, 33, 70, true), (200, 512, 512, false), (37, 96, 3072, true)])
    func integerProductIsExact(rows: Int, n: Int, k: Int, accumulate: Bool) {
        var random = TestRandom(seed: UInt64(rows * 131 + n * 7 + k))
        let ldInput = k + 3, ldOutput = n + 5
        var input = random.floats(rows * ldInput, scale: 4)
        // One row at the extremes: every activation at the top of its range.
        for i in 0..<k { input[i] = 5 }
        input[0] = -0.0001  // keeps 0 in range with the zero point at the bottom
        var weight = random.floats(n * k)
        for i in 0..<k { weight[i] = 1 }  // a row of equal positive weights: every code at +levels
        let levels = QuantizedWeights.levels
        let q = weight.withUnsafeBufferPointer { QuantizedWeights(weight: $0, outFeatures: n, inFeatures: k, levels: levels) }
        let initial = random.floats(rows * ldOutput)
        let got = Self.run(input, rows: rows, ldInput: ldInput, weights: q, initial: initial,
                           ldOutput: ldOutput, accumulate: accumulate)
        for r in 0..<rows {
            var codes = [UInt8](repeating: 0, count: k)
            let (scale, zero) = input.withUnsafeBufferPointer { x in
                codes.withUnsafeMutableBufferPointer { quantizeRow(x.baseAddress! + r * ldInput, count: k, into: $0.baseAddress!) }
            }
            for j in 0..<n {
                var sum = 0.0
                for i in 0..<k { sum += Double(Int(codes[i]) - Int(zero)) * Double(q.values[j * k + i]) }
                let want = Double(scale) * Double(q.scales[j]) * sum + (accumulate ? Double(initial[r * ldOutput + j]) : 0)
                let tolerance = 1e-5 * max(1, abs(want))
                #expect(abs(Double(got[r * ldOutput + j]) - want) <= tolerance, "row \(r) col \(j)")
            }
            // Padding between rows is never written.
            for j in n..<ldOutput { #expect(got[r * ldOutput + j] == initial[r * ldOutput + j]) }
        }
    }

    /// Against the fp32 product: each output is within the bound the two rounding steps allow,
    /// |x·w − x̂·ŵ| ≤ Σ |x|·Δw/2 + |ŵ|·Δx/2.
    @Test func staysWithinTheQuantizationBoundOfTheFloatProduct() {
        var random = TestRandom(seed: 5)
        let rows = 9, n = 24, k = 128
        let input = random.floats(rows * k, scale: 2), weight = random.floats(n * k, scale: 0.1)
        let q = weight.withUnsafeBufferPointer { QuantizedWeights(weight: $0, outFeatures: n, inFeatures: k) }
        let wHat = q.dequantized()
        let got = Self.run(input, rows: rows, ldInput: k, weights: q, initial: [Float](repeating: .nan, count: rows * n),
                           ldOutput: n, accumulate: false)
        var worst = 0.0
        for r in 0..<rows {
            let row = input[(r * k)..<((r + 1) * k)]
            let stepX = Double(max(row.max()!, 0) - min(row.min()!, 0)) / 255
            for j in 0..<n {
                var exact = 0.0, bound = 0.0
                for i in 0..<k {
                    exact += Double(row[r * k + i]) * Double(weight[j * k + i])
                    bound += abs(Double(row[r * k + i])) * Double(q.scales[j]) / 2 + abs(Double(wHat[j * k + i])) * stepX / 2
                }
                let error = abs(Double(got[r * n + j]) - exact)
                worst = max(worst, error / max(bound, 1e-12))
                #expect(error <= bound * 1.001 + 1e-5, "row \(r) col \(j): \(error) > \(bound)")
            }
        }
        // The bound is a worst case; typical errors are far inside it (random signs cancel).
        #expect(worst < 0.5)
    }
}
