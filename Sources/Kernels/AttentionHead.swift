/// One head of attention, fused (see `multiHeadAttention`).
///
/// This file is compiled twice: in `Kernels` for baseline x86-64 (SSE2) and, through a symbolic
/// link, in `KernelsAVX2` with `-target-cpu haswell` and `KERNELS_AVX2` defined, where the wider
/// vectors and fused multiply-adds below are used. `multiHeadAttention` picks the copy the CPU
/// can run, once.

#if KERNELS_AVX2
/// Keys per score block and value columns per accumulator: one or two YMM registers.
typealias LaneVector = SIMD16<Float>

@inline(__always)
private func multiplyAdd(_ acc: inout LaneVector, _ a: LaneVector, _ b: Float) {
    acc.addProduct(a, LaneVector(repeating: b))  // vfmadd with FMA enabled
}

/// `a · b + c`, one rounding (vfmadd).
@inline(__always)
private func fused(_ a: SIMD16<Float>, _ b: SIMD16<Float>, _ c: SIMD16<Float>) -> SIMD16<Float> {
    c.addingProduct(a, b)
}
#else
/// Two XMM registers: four rows of accumulators plus operands fit the sixteen SSE registers.
typealias LaneVector = SIMD8<Float>

@inline(__always)
private func multiplyAdd(_ acc: inout LaneVector, _ a: LaneVector, _ b: Float) {
    acc += a * b  // addProduct would be a libm fmaf call per lane without FMA
}

/// `a · b + c` as a multiply and an add (no FMA on baseline x86-64).
@inline(__always)
private func fused(_ a: SIMD16<Float>, _ b: SIMD16<Float>, _ c: SIMD16<Float>) -> SIMD16<Float> {
    a * b + c
}
#endif

/// Query rows processed together: each packed key vector and value row loaded is used this many times.
private let rowBlock = 4

/// Attention of one head: `output[r, :] = softmax(query[r] · keyᵀ · scale + mask) · value` for
/// `r < rows`, over the first `keyCount` keys (`keyPadding[j] == true` hides key `j`).
///
/// The keys are packed once, transposed and scaled (`[headDim, paddedKeys]`, paddedKeys = keyCount
/// rounded up to 16), so a block of scores is `headDim` broadcast-multiply-adds per query row
/// reading the query rows in place; the mask
/// is an additive row (0 or -inf, -inf on the padding too). For each block of `rowBlock` query
/// rows, the scores, their softmax (vectorised exp) and the weighted sum of the value rows (packed
/// together once) are computed in a scratch row of paddedKeys floats per query row,
/// which stays in L1 (2.9 KB for 709 keys). A row whose keys are all hidden gives zeros.
package func attendHead(query: UnsafePointer<Float>, key: UnsafePointer<Float>, value: UnsafePointer<Float>, ld: Int,
                        rows: Int, keyCount: Int, headDim: Int, keyPadding: UnsafePointer<Bool>?,
                        output: UnsafeMutablePointer<Float>, ldOutput: Int) {
    guard rows > 0, keyCount > 0, headDim > 0 else { return }
    let padded = (keyCount + 15) & ~15
    let scale = 1 / Float(headDim).squareRoot()
    let scratchCount = headDim * padded + padded + rowBlock * padded + keyCount * headDim
    withUnsafeTemporaryAllocation(of: Float.self, capacity: scratchCount) { scratch in
        guard let keysT = scratch.baseAddress else { return }
        let maskRow = keysT + headDim * padded
        let scores = maskRow + padded
        // The value rows are read once per block of query rows: copied together first, since
        // in place they are one cache line every `ld` floats (768 bytes for the default model's
        // QKV rows), a stride that maps them onto a quarter of L1's sets and evicts them
        // between blocks (7 % faster attention measured alone).
        let values = scores + rowBlock * padded
        for j in 0..<keyCount { (values + j * headDim).update(from: value + j * ld, count: headDim) }

        // The 1/√d scale goes into the packed keys (once per key, not per score).
        packKeys(key, ld: ld, keyCount: keyCount, headDim: headDim, scale: scale, padded: padded,
                 keyPadding: keyPadding, into: keysT, mask: maskRow)

        var first = 0
        while first < rows {
            let count = min(rowBlock, rows - first)
            // Rows past `count` repeat the last real row so the block has no branches; their
            // results are not stored.
            let maxima = scoreBlock(keysT: keysT, padded: padded, headDim: headDim,
                                    queries: (query + first * ld, query + (first + min(1, count - 1)) * ld,
                                              query + (first + min(2, count - 1)) * ld,
                                              query + (first + min(3, count - 1)) * ld),
                                    mask: maskRow, scores: scores)
            var inverseSums = SIMD4<Float>(repeating: 0)
            for r in 0..<rowBlock {
                inverseSums[r] = softmaxNumerators(scores + r * padded, count: padded, maximum: maxima[r])
            }
            weightedValues(scores: scores, padded: padded, keyCount: keyCount, value: values, ld: headDim,
                           headDim: headDim, inverseSums: inverseSums,
                           output: output + first * ldOutput, ldOutput: ldOutput, rows: count)
            first += count
        }
    }
}

/// Attention of one head pooled over row groups: `output[g · ldOutput + c]` is the mean over the
/// query rows `r` in `groups[g]` of `softmax(query[r] · keyᵀ · scale + mask) · value[:, c]` (what
/// `attendHead` followed by a mean over those rows gives, zero for an empty group). The mean
/// commutes with the product by `value`, so each group's probability rows are averaged first and
/// the values are read once per group instead of once per row; rows in no group are not computed.
package func attendHeadPooled(query: UnsafePointer<Float>, key: UnsafePointer<Float>, value: UnsafePointer<Float>,
                              ld: Int, keyCount: Int, headDim: Int, keyPadding: UnsafePointer<Bool>?,
                              groups: [Range<Int>], output: UnsafeMutablePointer<Float>, ldOutput: Int) {
    guard headDim > 0 else { return }
    for g in groups.indices { (output + g * ldOutput).update(repeating: 0, count: headDim) }
    guard keyCount > 0 else { return }
    let padded = (keyCount + 15) & ~15
    let scale = 1 / Float(headDim).squareRoot()
    let scratchCount = headDim * padded + padded + rowBlock * padded + padded
    withUnsafeTemporaryAllocation(of: Float.self, capacity: scratchCount) { scratch in
        guard let keysT = scratch.baseAddress else { return }
        let maskRow = keysT + headDim * padded
        let scores = maskRow + padded
        let mean = scores + rowBlock * padded
        packKeys(key, ld: ld, keyCount: keyCount, headDim: headDim, scale: scale, padded: padded,
                 keyPadding: keyPadding, into: keysT, mask: maskRow)
        for (g, group) in groups.enumerated() where !group.isEmpty {
            mean.update(repeating: 0, count: padded)
            var first = group.lowerBound
            while first < group.upperBound {
                let count = min(rowBlock, group.upperBound - first)
                let maxima = scoreBlock(keysT: keysT, padded: padded, headDim: headDim,
                                        queries: (query + first * ld, query + (first + min(1, count - 1)) * ld,
                                                  query + (first + min(2, count - 1)) * ld,
                                                  query + (first + min(3, count - 1)) * ld),
                                        mask: maskRow, scores: scores)
                for r in 0..<count {
                    let row = scores + r * padded
                    let weight = softmaxNumerators(row, count: padded, maximum: maxima[r])
                    var j = 0
                    while j < padded {
                        store(fusedAdd(load(row + j), weight, load(mean + j)), mean + j)
                        j += LaneVector.scalarCount
                    }
                }
                first += count
            }
            // Averaged probabilities times the values: one row, `headDim` columns.
            let inverseCount = 1 / Float(group.count)
            let out = output + g * ldOutput
            for j in 0..<keyCount {
                let p = mean[j] * inverseCount
                let v = value + j * ld
                for c in 0..<headDim { out[c] += p * v[c] }
            }
        }
    }
}

/// Packs the keys transposed and scaled (`[headDim, padded]`, zero past `keyCount`) and the
/// additive mask row (0, or -inf for hidden keys and the padding).
@inline(__always)
private func packKeys(_ key: UnsafePointer<Float>, ld: Int, keyCount: Int, headDim: Int, scale: Float, padded: Int,
                      keyPadding: UnsafePointer<Bool>?, into keysT: UnsafeMutablePointer<Float>,
                      mask maskRow: UnsafeMutablePointer<Float>) {
    keysT.update(repeating: 0, count: headDim * padded)
    var keyRow = key
    for j in 0..<keyCount {
        var target = keysT + j
        for d in 0..<headDim {
            target.pointee = keyRow[d] * scale
            target += padded
        }
        keyRow += ld
    }
    for j in 0..<keyCount { maskRow[j] = keyPadding?[j] == true ? -.infinity : 0 }
    for j in keyCount..<padded { maskRow[j] = -.infinity }
}

/// `a · b + c` lane-wise with a scalar `b`.
@inline(__always)
private func fusedAdd(_ a: LaneVector, _ b: Float, _ c: LaneVector) -> LaneVector {
    var sum = c
    multiplyAdd(&sum, a, b)
    return sum
}

@inline(__always)
private func load(_ pointer: UnsafePointer<Float>) -> LaneVector {
    UnsafeRawPointer(pointer).loadUnaligned(as: LaneVector.self)
}

@inline(__always)
private func store(_ value: LaneVector, _ pointer: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(pointer).storeBytes(of: value, as: LaneVector.self)
}

/// `scores[r, j] = Σ_d queries.r[d] · keysT[d, j] + mask[j]` for `rowBlock` rows, one lane vector
/// of keys at a time (`padded` is a multiple of 16, so of the lane count). Returns each row's
/// maximum score (-inf when all its keys are hidden), tracked on the way.
@inline(__always)
private func scoreBlock(keysT: UnsafePointer<Float>, padded: Int, headDim: Int,
                        queries: (UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>),
                        mask: UnsafePointer<Float>, scores: UnsafeMutablePointer<Float>) -> SIMD4<Float> {
    let (q0, q1, q2, q3) = queries
    var m0 = LaneVector(repeating: -.infinity), m1 = m0, m2 = m0, m3 = m0
    var j = 0
    while j < padded {
        var a0 = LaneVector(repeating: 0), a1 = a0, a2 = a0, a3 = a0
        var column = keysT + j
        for d in 0..<headDim {
            let k = load(column)
            multiplyAdd(&a0, k, q0[d])
            multiplyAdd(&a1, k, q1[d])
            multiplyAdd(&a2, k, q2[d])
            multiplyAdd(&a3, k, q3[d])
            column += padded
        }
        let m = load(mask + j)
        a0 += m; a1 += m; a2 += m; a3 += m
        store(a0, scores + j)
        store(a1, scores + padded + j)
        store(a2, scores + 2 * padded + j)
        store(a3, scores + 3 * padded + j)
        m0.replace(with: a0, where: a0 .> m0)
        m1.replace(with: a1, where: a1 .> m1)
        m2.replace(with: a2, where: a2 .> m2)
        m3.replace(with: a3, where: a3 .> m3)
        j += LaneVector.scalarCount
    }
    return SIMD4(m0.max(), m1.max(), m2.max(), m3.max())
}

/// Replaces a score row (`count` a multiple of 16) by `exp(score - maximum)` and returns
/// 1 / Σ exp, or 0 when every score is -inf (the row's output is then zero, not NaN).
@inline(__always)
private func softmaxNumerators(_ row: UnsafeMutablePointer<Float>, count: Int, maximum: Float) -> Float {
    guard maximum != -.infinity else {
        row.update(repeating: 0, count: count)
        return 0
    }
    var sumVector = SIMD16<Float>(repeating: 0)
    var c = 0
    while c < count {
        let e = expNonPositive(row.loadVector16(at: c) - maximum)
        row.storeVector16(e, at: c)
        sumVector += e
        c += 16
    }
    return 1 / sumVector.sum()
}

/// exp for the softmax's x ≤ 0 (-inf gives 0): 2^n · e^r with |r| ≤ ln2/2 and a degree-6
/// Taylor polynomial (truncation < 1.3e-7 relative, below Float's rounding of the sum it
/// enters), evaluated with fused multiply-adds where the CPU has them. Leaner than
/// `FastMath.expNonPositive` (one clamp, one degree less), which matters here: for 16-dim heads
/// the exp costs as much as both products together.
@inline(__always)
private func expNonPositive(_ x: SIMD16<Float>) -> SIMD16<Float> {
    let lower = SIMD16<Float>(repeating: -87.33)
    let magic = SIMD16<Float>(repeating: 12582912)  // 1.5·2^23: adding it rounds to an integer
    var xc = x
    xc.replace(with: lower, where: x .< lower)
    let shifted = fused(xc, SIMD16(repeating: 1.4426950408889634), magic)
    let n = shifted - magic
    var r = fused(n, SIMD16(repeating: -0.693145751953125), xc)  // ln 2 in two parts: n·hi is exact
    r = fused(n, SIMD16(repeating: -1.428606765330187e-06), r)
    var p = SIMD16<Float>(repeating: 1.0 / 720)
    p = fused(p, r, SIMD16(repeating: 1.0 / 120))
    p = fused(p, r, SIMD16(repeating: 1.0 / 24))
    p = fused(p, r, SIMD16(repeating: 1.0 / 6))
    p = fused(p, r, SIMD16(repeating: 0.5))
    p = fused(p, r, SIMD16(repeating: 1))
    p = fused(p, r, SIMD16(repeating: 1))
    // n ∈ [-126, 0] sits in the low mantissa bits of `shifted`: 2^n from its exponent field.
    let nInt = unsafeBitCast(shifted, to: SIMD16<Int32>.self) &- SIMD16(repeating: 0x4B40_0000)
    var result = p * unsafeBitCast((nInt &+ 127) &<< 23, to: SIMD16<Float>.self)
    result.replace(with: 0, where: x .< lower)
    return result
}

/// `output[r, :] = inverseSums[r] · Σ_j scores[r, j] · value[j, :]` for the first `rows` rows of
/// a block: one lane vector of output columns at a time, then eight, then single columns.
@inline(__always)
private func weightedValues(scores: UnsafePointer<Float>, padded: Int, keyCount: Int,
                            value: UnsafePointer<Float>, ld: Int, headDim: Int, inverseSums: SIMD4<Float>,
                            output: UnsafeMutablePointer<Float>, ldOutput: Int, rows: Int) {
    let p0 = scores, p1 = scores + padded, p2 = scores + 2 * padded, p3 = scores + 3 * padded
    var c = 0
    while c + LaneVector.scalarCount <= headDim {
        var a0 = LaneVector(repeating: 0), a1 = a0, a2 = a0, a3 = a0
        var v = value + c
        for j in 0..<keyCount {
            let row = load(v)
            multiplyAdd(&a0, row, p0[j])
            multiplyAdd(&a1, row, p1[j])
            multiplyAdd(&a2, row, p2[j])
            multiplyAdd(&a3, row, p3[j])
            v += ld
        }
        store(a0 * inverseSums[0], output + c)
        if rows > 1 { store(a1 * inverseSums[1], output + ldOutput + c) }
        if rows > 2 { store(a2 * inverseSums[2], output + 2 * ldOutput + c) }
        if rows > 3 { store(a3 * inverseSums[3], output + 3 * ldOutput + c) }
        c += LaneVector.scalarCount
    }
    while c + 8 <= headDim {
        var a0 = SIMD8<Float>(repeating: 0), a1 = a0, a2 = a0, a3 = a0
        var v = value + c
        for j in 0..<keyCount {
            let row = v.loadVector(at: 0)
            a0 += row * p0[j]
            a1 += row * p1[j]
            a2 += row * p2[j]
            a3 += row * p3[j]
            v += ld
        }
        output.storeVector(a0 * inverseSums[0], at: c)
        if rows > 1 { (output + ldOutput).storeVector(a1 * inverseSums[1], at: c) }
        if rows > 2 { (output + 2 * ldOutput).storeVector(a2 * inverseSums[2], at: c) }
        if rows > 3 { (output + 3 * ldOutput).storeVector(a3 * inverseSums[3], at: c) }
        c += 8
    }
    while c < headDim {
        var a = SIMD4<Float>(repeating: 0)
        for j in 0..<keyCount { a += SIMD4(p0[j], p1[j], p2[j], p3[j]) * value[j * ld + c] }
        a *= inverseSums
        for r in 0..<rows { output[r * ldOutput + c] = a[r] }
        c += 1
    }
}
