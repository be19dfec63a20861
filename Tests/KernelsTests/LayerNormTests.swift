import Testing
@testable import Kernels

struct LayerNormTests {
    @Test(arguments: [1, 5, 8, 32, 768, 771])
    func matchesNaive(cols: Int) {
        var random = TestRandom(seed: 7 &* UInt64(cols))
        let rows = 4
        // An offset mean checks the two-pass variance.
        let input = random.floats(rows * cols, scale: 3).map { $0 + 50 }
        let gamma = random.floats(cols), beta = random.floats(cols)
        var output = [Float](repeating: .nan, count: rows * cols)
        input.withUnsafeBufferPointer { x in gamma.withUnsafeBufferPointer { g in beta.withUnsafeBufferPointer { b in
            output.withUnsafeMutableBufferPointer { y in
                layerNorm(rows: rows, cols: cols, input: x.baseAddress!, output: y.baseAddress!,
                          gamma: g.baseAddress!, beta: b.baseAddress!, eps: 1e-12)
            }
        } } }
        for r in 0..<rows {
            let expected = Naive.layerNorm(Array(input[r * cols..<(r + 1) * cols]), gamma: gamma, beta: beta, eps: 1e-12)
            let got = Array(output[r * cols..<(r + 1) * cols])
            if cols == 1 {
                #expect(got == beta)  // a single value normalises to 0
            } else {
                #expect(maxAbsDiff(got, expected) < 2e-5)
            }
        }
    }

    @Test func worksInPlace() {
        var data: [Float] = [1, 2, 3, 4, 10, 10, 10, 10]
        let gamma: [Float] = [1, 1, 1, 1], beta: [Float] = [0, 0, 0, 1]
        data.withUnsafeMutableBufferPointer { d in gamma.withUnsafeBufferPointer { g in beta.withUnsafeBufferPointer { b in
            layerNorm(rows: 2, cols: 4, input: d.baseAddress!, output: d.baseAddress!, gamma: g.baseAddress!, beta: b.baseAddress!, eps: 1e-5)
        } } }
        let expected = Naive.layerNorm([1, 2, 3, 4], gamma: gamma, beta: beta, eps: 1e-5)
        #expect(maxAbsDiff(Array(data[0..<4]), expected) < 1e-6)
        #expect(Array(data[4..<8]) == [0, 0, 0, 1])  // constant row: eps keeps it finite
    }

    @Test(arguments: [(3, 7, false), (5, 64, false), (130, 768, false), (4, 20, true)])
    func addBiasLayerNormAddsTheBiasThenNormalises(rows: Int, cols: Int, inPlace: Bool) {
        var random = TestRandom(seed: UInt64(rows * cols))
        let residual = random.floats(rows * cols, scale: 3)
        let bias = random.floats(cols, scale: 2).map { $0 + 20 }  // the sum's large mean checks the two passes
        let gamma = random.floats(cols), beta = random.floats(cols)
        var stream = residual
        var output = [Float](repeating: .nan, count: rows * cols)
        stream.withUnsafeMutableBufferPointer { s in output.withUnsafeMutableBufferPointer { o in
            bias.withUnsafeBufferPointer { c in gamma.withUnsafeBufferPointer { g in beta.withUnsafeBufferPointer { b in
                addBiasLayerNorm(rows: rows, cols: cols, residual: s.baseAddress!, bias: c.baseAddress!,
                                 output: inPlace ? s.baseAddress! : o.baseAddress!,
                                 gamma: g.baseAddress!, beta: b.baseAddress!, eps: 1e-12)
            } } }
        } }
        let normalised = inPlace ? stream : output
        for r in 0..<rows {
            let sum = (0..<cols).map { residual[r * cols + $0] + bias[$0] }
            if !inPlace {
                #expect(Array(stream[r * cols..<(r + 1) * cols]) == sum)  // the residual keeps x + bias
            }
            let expected = Naive.layerNorm(sum, gamma: gamma, beta: beta, eps: 1e-12)
            #expect(maxAbsDiff(Array(normalised[r * cols..<(r + 1) * cols]), expected) < 2e-5)
        }
    }
}
