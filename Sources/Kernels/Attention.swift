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
/// `scores` is scratch space of at least `queryRows · seqLen` floats.
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
    for h in 0..<numHeads {
        let column = h * headDim
        sgemm(transposeB: true, m: rows, n: keyCount, k: headDim, alpha: scale,
              a: query + column, lda: ld, b: key + column, ldb: ld,
              c: scores, ldc: keyCount, log: log)
        if let keyPadding {
            for j in 0..<keyCount where keyPadding[j] {
                for r in 0..<rows { scores[r * keyCount + j] = -.infinity }
            }
        }
        softmaxRows(rows: rows, cols: keyCount, data: scores, ld: keyCount)
        sgemm(m: rows, n: headDim, k: keyCount,
              a: scores, lda: keyCount, b: value + column, ldb: ld,
              c: output + column, ldc: ldOutput, log: log)
    }
}
