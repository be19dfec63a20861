import Testing
@testable import Kernels

struct ElementwiseTests {
    @Test(arguments: [1, 7, 8, 13, 3072])
    func biasGELUMatchesExactGELU(cols: Int) {
        var random = TestRandom(seed: UInt64(cols))
        let rows = 3
        var data = random.floats(rows * cols, scale: 8)
        let bias = random.floats(cols, scale: 1)
        let expected = (0..<rows * cols).map { Naive.gelu(Double(data[$0]) + Double(bias[$0 % cols])) }
        data.withUnsafeMutableBufferPointer { d in
            bias.withUnsafeBufferPointer { b in
                addBiasGELU(rows: rows, cols: cols, data: d.baseAddress!, ld: cols, bias: b.baseAddress!)
            }
        }
        // Relative to the value, with a floor for the cancellation in 1 + erf(x/√2) at x < 0
        // (PyTorch's own float GELU has the same).
        for (got, want) in zip(data, expected) {
            #expect(abs(Double(got) - want) <= 1e-6 * max(abs(want), 1), "\(got) vs \(want)")
        }
    }

    @Test func geluWithoutBiasAndScalarAgree() {
        var data: [Float] = [-10, -3, -1, -0.1, 0, 0.1, 1, 3, 10]
        let copy = data
        data.withUnsafeMutableBufferPointer { addBiasGELU(rows: 1, cols: $0.count, data: $0.baseAddress!, ld: $0.count, bias: nil) }
        for (x, y) in zip(copy, data) {
            #expect(y == gelu(x))
            #expect(abs(Double(y) - Naive.gelu(Double(x))) <= 1e-6 * max(abs(Double(x)), 1))
        }
    }

    @Test func biasRespectsRowStride() {
        var data: [Float] = [1, 2, 3, 100, 4, 5, 6, 200]
        let bias: [Float] = [10, 20, 30]
        data.withUnsafeMutableBufferPointer { d in
            bias.withUnsafeBufferPointer { addBias(rows: 2, cols: 3, data: d.baseAddress!, ld: 4, bias: $0.baseAddress!) }
        }
        #expect(data == [11, 22, 33, 100, 14, 25, 36, 200])
    }

    @Test func addInPlaceHandlesTails() {
        var a = (0..<19).map(Float.init)
        let b = (0..<19).map { Float($0) * 10 }
        a.withUnsafeMutableBufferPointer { x in b.withUnsafeBufferPointer { addInPlace(x.baseAddress!, $0.baseAddress!, count: 19) } }
        #expect(a == (0..<19).map { Float($0) * 11 })
    }
}
