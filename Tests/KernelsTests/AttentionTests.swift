import Testing
@testable import Kernels

struct AttentionTests {
    /// Runs the kernel on q,k,v packed as column blocks of one [T, 3·width] buffer.
    private func run(seqLen: Int, heads: Int, headDim: Int, mask: [Bool]?, queryRows: Int? = nil,
                     seed: UInt64) -> (got: [Float], q: [Float], k: [Float], v: [Float]) {
        var random = TestRandom(seed: seed)
        let width = heads * headDim
        let q = random.floats(seqLen * width, scale: 2), k = random.floats(seqLen * width, scale: 2), v = random.floats(seqLen * width)
        var packed = [Float](repeating: 0, count: seqLen * 3 * width)
        for t in 0..<seqLen {
            for c in 0..<width {
                packed[t * 3 * width + c] = q[t * width + c]
                packed[t * 3 * width + width + c] = k[t * width + c]
                packed[t * 3 * width + 2 * width + c] = v[t * width + c]
            }
        }
        let ldOut = width + 1
        var out = [Float](repeating: .nan, count: seqLen * ldOut)
        var scratch = [Float](repeating: 0, count: heads * seqLen * seqLen)
        let maskStorage = mask ?? []
        packed.withUnsafeBufferPointer { p in out.withUnsafeMutableBufferPointer { o in scratch.withUnsafeMutableBufferPointer { s in
            maskStorage.withUnsafeBufferPointer { m in
                let base = p.baseAddress!
                multiHeadAttention(query: base, key: base + width, value: base + 2 * width, ld: 3 * width,
                                   seqLen: seqLen, numHeads: heads, headDim: headDim,
                                   keyPadding: mask == nil ? nil : m.baseAddress,
                                   queryRows: queryRows, output: o.baseAddress!, ldOutput: ldOut, scores: s.baseAddress!)
            }
        } } }
        let dense = (0..<seqLen).flatMap { t in out[t * ldOut..<t * ldOut + width] }
        return (dense, q, k, v)
    }

    @Test(arguments: [(1, 1, 4), (7, 2, 8), (33, 4, 16), (50, 3, 5)])
    func matchesNaiveWithoutMask(seqLen: Int, heads: Int, headDim: Int) {
        let r = run(seqLen: seqLen, heads: heads, headDim: headDim, mask: nil, seed: UInt64(seqLen))
        let expected = Naive.attention(q: r.q, k: r.k, v: r.v, seqLen: seqLen, heads: heads, headDim: headDim, mask: nil)
        #expect(maxAbsDiff(r.got, expected) < 1e-5)
    }

    @Test func paddingAndInteriorMasksAreHidden() {
        let mask = [false, true, false, false, true, false, true, true]  // interior and trailing hidden keys
        let r = run(seqLen: 8, heads: 2, headDim: 8, mask: mask, seed: 5)
        let expected = Naive.attention(q: r.q, k: r.k, v: r.v, seqLen: 8, heads: 2, headDim: 8, mask: mask)
        #expect(maxAbsDiff(r.got, expected) < 1e-5)
    }

    @Test func paddedQueriesAreZeroAndValidRowsUnchanged() {
        let mask = [false, false, false, false, false, true, true, true]
        let full = run(seqLen: 8, heads: 2, headDim: 4, mask: mask, seed: 9)
        let partial = run(seqLen: 8, heads: 2, headDim: 4, mask: mask, queryRows: 5, seed: 9)
        #expect(Array(partial.got[0..<40]) == Array(full.got[0..<40]))
        #expect(partial.got[40...].allSatisfy { $0 == 0 })
    }

    @Test func fullyMaskedSequenceGivesZerosNotNaN() {
        let r = run(seqLen: 4, heads: 1, headDim: 4, mask: [true, true, true, true], seed: 1)
        #expect(r.got.allSatisfy { $0 == 0 })
    }
}
