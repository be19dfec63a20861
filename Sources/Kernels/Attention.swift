import CCPUFeatures
import KernelsAVX2

/// The compiled copies of the fused attention kernel (`AttentionHead.swift`).
package enum AttentionKernel: Sendable, CustomStringConvertible {
    /// Baseline x86-64: SSE2, eight-lane accumulators, separate multiply and add.
    case baseline
    /// AVX2 + FMA (`KernelsAVX2`, built with `-target-cpu haswell`).
    case avx2

    /// The fastest copy this CPU can run, decided once.
    package static let best: AttentionKernel = ccpu_has_avx2_fma() != 0 ? .avx2 : .baseline

    /// Whether this CPU can run `self`.
    package var isSupported: Bool { self == .baseline || AttentionKernel.best == .avx2 }

    package var description: String { self == .avx2 ? "avx2+fma" : "baseline" }
}

/// Scaled dot-product multi-head attention for one sequence:
/// `out_h = softmax(Q_h K_hᵀ / √d_h + mask) V_h` for every head `h`.
///
/// `query`, `key`, `value` are `[seqLen, numHeads·headDim]` matrices with row stride `ld`
/// (so the three can be column blocks of one fused QKV buffer); head `h` is columns
/// `h·headDim ..< (h+1)·headDim`.
///
/// `keyPadding[j] == true` hides key `j` (score -inf before the softmax). Keys after the last
/// visible one are not computed at all, so a request gives the same result whatever padding
/// its batch adds. Only the first `queryRows` query rows are computed; the remaining output
/// rows are set to zero (they are padding the caller does not use). If every key is hidden the
/// output rows are zero rather than NaN.
///
/// Each head is one fused pass (`attendHead`): scores, mask, softmax and the weighted sum of
/// values for a few query rows at a time, so score rows never leave L1 and no per-head `sgemm`
/// runs. Heads run in parallel on the BLAS thread count. `kernel` chooses the compiled copy
/// (tests run both; a copy the CPU cannot run is a programming error).
package func multiHeadAttention(query: UnsafePointer<Float>, key: UnsafePointer<Float>, value: UnsafePointer<Float>,
                                ld: Int, seqLen: Int, numHeads: Int, headDim: Int,
                                keyPadding: UnsafePointer<Bool>?, queryRows: Int? = nil,
                                output: UnsafeMutablePointer<Float>, ldOutput: Int,
                                kernel: AttentionKernel = .best) {
    precondition(kernel.isSupported, "attention kernel \(kernel) needs a CPU with AVX2 and FMA")
    let rows = min(queryRows ?? seqLen, seqLen)
    let width = numHeads * headDim
    let keyCount = visibleKeyCount(seqLen, keyPadding)
    for r in max(rows, 0)..<seqLen { (output + r * ldOutput).update(repeating: 0, count: width) }
    guard rows > 0, headDim > 0 else { return }
    guard keyCount > 0 else {
        for r in 0..<rows { (output + r * ldOutput).update(repeating: 0, count: width) }
        return
    }
    forEachHead(numHeads, work: rows * keyCount * headDim) { h in
        let q = query + h * headDim, k = key + h * headDim, v = value + h * headDim, out = output + h * headDim
        switch kernel {
        case .avx2:
            KernelsAVX2.attendHead(query: q, key: k, value: v, ld: ld, rows: rows, keyCount: keyCount,
                                   headDim: headDim, keyPadding: keyPadding, output: out, ldOutput: ldOutput)
        case .baseline:
            Kernels.attendHead(query: q, key: k, value: v, ld: ld, rows: rows, keyCount: keyCount,
                               headDim: headDim, keyPadding: keyPadding, output: out, ldOutput: ldOutput)
        }
    }
}

/// `multiHeadAttention` followed by means over row groups, without the per-row outputs:
/// `output[g · ldOutput + h·headDim + c]` is the mean over query rows `r ∈ groups[g]` of head
/// `h`'s output row `r` (zero for an empty group). The fusion head pools this way: averaging the
/// probability rows before the product by the values makes that product one row per group
/// (`attendHeadPooled`). Keys after the last visible one are not computed, as in
/// `multiHeadAttention`; `groups` must lie inside `0..<seqLen`.
package func multiHeadAttentionPooled(query: UnsafePointer<Float>, key: UnsafePointer<Float>, value: UnsafePointer<Float>,
                                      ld: Int, seqLen: Int, numHeads: Int, headDim: Int,
                                      keyPadding: UnsafePointer<Bool>?, groups: [Range<Int>],
                                      output: UnsafeMutablePointer<Float>, ldOutput: Int,
                                      kernel: AttentionKernel = .best) {
    precondition(kernel.isSupported, "attention kernel \(kernel) needs a CPU with AVX2 and FMA")
    precondition(groups.allSatisfy { $0.lowerBound >= 0 && $0.upperBound <= seqLen }, "row groups outside the sequence")
    let keyCount = visibleKeyCount(seqLen, keyPadding)
    let rows = groups.reduce(0) { $0 + $1.count }
    forEachHead(numHeads, work: rows * keyCount * headDim) { h in
        let q = query + h * headDim, k = key + h * headDim, v = value + h * headDim, out = output + h * headDim
        switch kernel {
        case .avx2:
            KernelsAVX2.attendHeadPooled(query: q, key: k, value: v, ld: ld, keyCount: keyCount, headDim: headDim,
                                         keyPadding: keyPadding, groups: groups, output: out, ldOutput: ldOutput)
        case .baseline:
            Kernels.attendHeadPooled(query: q, key: k, value: v, ld: ld, keyCount: keyCount, headDim: headDim,
                                     keyPadding: keyPadding, groups: groups, output: out, ldOutput: ldOutput)
        }
    }
}

/// Keys up to the last visible one: trailing hidden keys (a batch's padding) are never computed,
/// so a request gives the same result whatever padding its batch adds.
private func visibleKeyCount(_ seqLen: Int, _ keyPadding: UnsafePointer<Bool>?) -> Int {
    var keyCount = seqLen
    if let keyPadding {
        while keyCount > 0, keyPadding[keyCount - 1] { keyCount -= 1 }
    }
    return keyCount
}

/// `body(h)` for every head, heads in parallel on the BLAS thread count: a head is worth a
/// thread dispatch (a few µs) above roughly 64 K multiply-adds (`work` is one head's).
private func forEachHead(_ numHeads: Int, work: Int, _ body: (Int) -> Void) {
    parallelChunks(numHeads, minimumChunk: max(1, 65_536 / max(work, 1))) { heads in
        for h in heads { body(h) }
    }
}
