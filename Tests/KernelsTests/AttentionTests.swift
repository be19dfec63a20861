import Testing
@testable import Kernels

/// Both compiled copies of the kernel where this CPU runs them (see `avx2CopyIsTestedHere`).
let attentionKernels: [AttentionKernel] = AttentionKernel.best == .avx2 ? [.baseline, .avx2] : [.baseline]

struct AttentionTests {
    @Test(.enabled(if: AttentionKernel.best == .avx2, "no AVX2+FMA on this CPU: only the baseline attention kernel is tested"))
    func avx2CopyIsTestedHere() {
        #expect(attentionKernels.contains(.avx2))
    }

    /// Runs every kernel on q,k,v packed as column blocks of one [T, 3·width] buffer; the
    /// copies must agree within 1e-5 of each other (their exp and sum orders are the same, only
    /// fused multiply-adds differ), and the first one's result is returned.
    private func run(seqLen: Int, heads: Int, headDim: Int, mask: [Bool]?, queryRows: Int? = nil,
                     seed: UInt64) -> (got: [Float], q: [Float], k: [Float], v: [Float]) {
        let results = attentionKernels.map { kernel in
            run(seqLen: seqLen, heads: heads, headDim: headDim, mask: mask, queryRows: queryRows, seed: seed, kernel: kernel)
        }
        for other in results.dropFirst() {
            #expect(maxAbsDiff(other.got, results[0].got.map(Double.init)) < 1e-5)
        }
        return results[0]
    }

    private func run(seqLen: Int, heads: Int, headDim: Int, mask: [Bool]?, queryRows: Int?,
                     seed: UInt64, kernel: AttentionKernel) -> (got: [Float], q: [Float], k: [Float], v: [Float]) {
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
        let maskStorage = mask ?? []
        packed.withUnsafeBufferPointer { p in out.withUnsafeMutableBufferPointer { o in
            maskStorage.withUnsafeBufferPointer { m in
                let base = p.baseAddress!
                multiHeadAttention(query: base, key: base + width, value: base + 2 * width, ld: 3 * width,
                                   seqLen: seqLen, numHeads: heads, headDim: headDim,
                                   keyPadding: mask == nil ? nil : m.baseAddress,
                                   queryRows: queryRows, output: o.baseAddress!, ldOutput: ldOut, kernel: kernel)
            }
        } }
        let dense = (0..<seqLen).flatMap { t in out[t * ldOut..<t * ldOut + width] }
        return (dense, q, k, v)
    }

    // Shapes of the models served (197 image tokens with 16- and 64-dim heads, 229 fused tokens)
    // and odd ones: one token, lengths off the 4-row and 16-key blocks, head sizes with an
    // 8-column remainder or below one vector.
    @Test(arguments: [(1, 1, 4), (7, 2, 8), (33, 4, 16), (50, 3, 5), (197, 4, 16), (229, 2, 16), (197, 2, 64),
                      (1, 3, 64), (2, 2, 16), (5, 1, 1), (17, 2, 12), (19, 1, 96), (65, 2, 20)])
    func matchesNaiveWithoutMask(seqLen: Int, heads: Int, headDim: Int) {
        let r = run(seqLen: seqLen, heads: heads, headDim: headDim, mask: nil, seed: UInt64(seqLen))
        let expected = Naive.attention(q: r.q, k: r.k, v: r.v, seqLen: seqLen, heads: heads, headDim: headDim, mask: nil)
        #expect(maxAbsDiff(r.got, expected) < 1e-5)
    }

    /// The fusion head's pooled form (229 fused tokens: 197 image rows, then valid text rows, padded
    /// keys hidden) equals `multiHeadAttention` followed by means over the same row groups.
    @Test(arguments: attentionKernels)
    func pooledEqualsTheMeanOfTheOutputRows(kernel: AttentionKernel) {
        let seqLen = 229, heads = 8, headDim = 16, width = heads * headDim, imageRows = 197, valid = 221
        let mask = (0..<seqLen).map { $0 >= valid }
        let r = run(seqLen: seqLen, heads: heads, headDim: headDim, mask: mask, queryRows: valid, seed: 77, kernel: kernel)
        var packed = [Float](repeating: 0, count: seqLen * 3 * width)
        for t in 0..<seqLen {
            for c in 0..<width {
                packed[t * 3 * width + c] = r.q[t * width + c]
                packed[t * 3 * width + width + c] = r.k[t * width + c]
                packed[t * 3 * width + 2 * width + c] = r.v[t * width + c]
            }
        }
        let groups = [0..<imageRows, imageRows..<valid]
        var pooled = [Float](repeating: .nan, count: 2 * width)
        packed.withUnsafeBufferPointer { p in pooled.withUnsafeMutableBufferPointer { o in
            mask.withUnsafeBufferPointer { m in
                let base = p.baseAddress!
                multiHeadAttentionPooled(query: base, key: base + width, value: base + 2 * width, ld: 3 * width,
                                         seqLen: seqLen, numHeads: heads, headDim: headDim, keyPadding: m.baseAddress,
                                         groups: groups, output: o.baseAddress!, ldOutput: width, kernel: kernel)
            }
        } }
        let expected = groups.flatMap { group in
            (0..<width).map { c in group.reduce(0.0) { $0 + Double(r.got[$1 * width + c]) } / Double(group.count) }
        }
        #expect(maxAbsDiff(pooled, expected) < 1e-5, "\(kernel)")
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

    @Test func scatteredMasksOnOddLengthsMatchNaive() {
        // Hidden keys on both sides of every 8- and 16-key block edge, and a visible last key.
        let seqLen = 37
        let mask = (0..<seqLen).map { j in j % 3 == 1 || j == 7 || j == 8 || j == 15 || j == 16 }
        for headDim in [3, 16, 64] {
            let r = run(seqLen: seqLen, heads: 2, headDim: headDim, mask: mask, seed: UInt64(headDim))
            let expected = Naive.attention(q: r.q, k: r.k, v: r.v, seqLen: seqLen, heads: 2, headDim: headDim, mask: mask)
            #expect(maxAbsDiff(r.got, expected) < 1e-5, "headDim \(headDim)")
        }
    }

    @Test func singleVisibleKeyReturnsItsValue() {
        // softmax over one key is 1: every valid query row is exactly that key's value row.
        let mask = [true, true, false, true, true]
        let r = run(seqLen: 5, heads: 2, headDim: 16, mask: mask, seed: 3)
        for t in 0..<5 {
            for c in 0..<32 { #expect(abs(r.got[t * 32 + c] - r.v[2 * 32 + c]) <= 1e-6) }
        }
    }

    @Test func trailingPaddingDoesNotChangeValidRows() {
        // The same 11 tokens alone and inside a batch padded to 40: identical valid rows.
        let heads = 2, headDim = 16, width = heads * headDim
        let long = run(seqLen: 40, heads: heads, headDim: headDim, mask: (0..<40).map { $0 >= 11 },
                       queryRows: 11, seed: 21)
        let shortExpected = Naive.attention(q: Array(long.q[0..<11 * width]), k: Array(long.k[0..<11 * width]),
                                            v: Array(long.v[0..<11 * width]), seqLen: 11, heads: heads,
                                            headDim: headDim, mask: nil)
        #expect(maxAbsDiff(Array(long.got[0..<11 * width]), shortExpected) < 1e-5)
        #expect(long.got[(11 * width)...].allSatisfy { $0 == 0 })
    }
}
