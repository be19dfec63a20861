/// Scaled dot-product multi-head attention for one sequence:
/// `out_h = softmax(Q_h K_hᵀ / √d_h + mask) V_h` for every head `h`.
///
/// `query`, `key`, `value` are `[seqLen, numHeads·headDim]` matrices with row stride `ld`
/// (so the three can be column blocks of one fused QKV buffer); head `h` is columns
/// `h·headDim ..< (h+1)·headDim`. Each head is two `sgemm`s on strided views, no copies.
///
/// `keyPadding[j] == true` hides key `j` (score -inf before the softmax). Keys after the last
/// visible one are not computed at all, so a request gives the same result whatever padding
/// its batch adds. Only the first `queryRows` query rows are computed; the remaining output
/// rows are set to zero (they are padding the caller does not use). If every key is hidden the
/// output rows are zero rather than NaN.
///
/// Scores are computed for a group of heads at a time and normalised in one parallel softmax
/// pass per group. `scores` is scratch space of at least `numHeads · queryRows · seqLen`
/// floats (fewer are used when a group is smaller).
package func multiHeadAttention(query: UnsafePointer<Float>, key: UnsafePointer<Float>, value: UnsafePointer<Float>,
                                ld: Int, seqLen: Int, numHeads: Int, headDim: Int,
                                keyPadding: UnsafePointer<Bool>?, queryRows: Int? = nil,
                                output: UnsafeMutablePointer<Float>, ldOutput: Int,
                                scores: UnsafeMutablePointer<Float>, log: GEMMLog? = nil) {
    let rows = min(queryRows ?? seqLen, seqLen)
    let width = numHeads * headDim
    var keyCount = seqLen
    if let keyPadding {
        while keyCount > 0, keyPadding[keyCount - 1] { keyCount -= 1 }
    }
    for r in rows..<seqLen { (output + r * ldOutput).update(repeating: 0, count: width) }
    guard rows > 0 else { return }
    guard keyCount > 0 else {
        for r in 0..<rows { (output + r * ldOutput).update(repeating: 0, count: width) }
        return
    }
    let scale = 1 / Float(headDim).squareRoot()
    let headScores = rows * keyCount
    // Heads are processed in groups whose scores fit in L2 (≈ 768 KB), each group's softmax
    // split across threads: one dispatch per group instead of per head, without spilling a
    // whole sequence's scores (1.9 MB for ViT-B at 224 px) to L3.
    let groupSize = max(1, min(numHeads, scoreBudget / max(headScores, 1)))
    var first = 0
    while first < numHeads {
        let heads = first..<min(first + groupSize, numHeads)
        for h in heads {
            sgemm(transposeB: true, m: rows, n: keyCount, k: headDim, alpha: scale,
                  a: query + h * headDim, lda: ld, b: key + h * headDim, ldb: ld,
                  c: scores + (h - first) * headScores, ldc: keyCount, log: log)
        }
        if let keyPadding {
            for j in 0..<keyCount where keyPadding[j] {
                for r in 0..<(heads.count * rows) { scores[r * keyCount + j] = -.infinity }
            }
        }
        softmaxRows(rows: heads.count * rows, cols: keyCount, data: scores, ld: keyCount)
        for h in heads {
            sgemm(m: rows, n: headDim, k: keyCount,
                  a: scores + (h - first) * headScores, lda: keyCount, b: value + h * headDim, ldb: ld,
                  c: output + h * headDim, ldc: ldOutput, log: log)
        }
        first = heads.upperBound
    }
}

/// Floats of attention scores kept at once (see `multiHeadAttention`).
private let scoreBudget = 192 * 1024
