import Testing
@testable import Kernels

struct SoftmaxTests {
    @Test(arguments: [1, 3, 8, 29, 197])
    func matchesNaive(cols: Int) {
        var random = TestRandom(seed: UInt64(cols) + 99)
        let rows = 3, ld = cols + 2
        var data = random.floats(rows * ld, scale: 20)
        let original = data
        data.withUnsafeMutableBufferPointer { softmaxRows(rows: rows, cols: cols, data: $0.baseAddress!, ld: ld) }
        for r in 0..<rows {
            let expected = Naive.softmax(original[r * ld..<r * ld + cols].map(Double.init))
            #expect(maxAbsDiff(Array(data[r * ld..<r * ld + cols]), expected) < 1e-6)
            #expect(Array(data[r * ld + cols..<(r + 1) * ld]) == Array(original[r * ld + cols..<(r + 1) * ld]))
        }
    }

    @Test func maskedEntriesGetZeroAndFullyMaskedRowsAreZero() {
        var data: [Float] = [1, -.infinity, 2, -.infinity, -.infinity, -.infinity]
        data.withUnsafeMutableBufferPointer { softmaxRows(rows: 2, cols: 3, data: $0.baseAddress!, ld: 3) }
        let expected = Naive.softmax([1, 2])
        #expect(data[1] == 0)
        #expect(abs(Double(data[0]) - expected[0]) < 1e-7 && abs(Double(data[2]) - expected[1]) < 1e-7)
        #expect(Array(data[3...]) == [0, 0, 0])
    }

    @Test func largeLogitsDoNotOverflow() {
        let s = softmax([1000, 1000, -1000])
        #expect(s == [0.5, 0.5, 0])
    }
}
