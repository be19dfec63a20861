/// Softmax along each row, in place, over the first `cols` values of each row (row stride `ld`).
///
/// Entries equal to -inf (masked positions) get probability 0. A row whose entries are all
/// -inf has no valid position: it becomes all zeros instead of the NaNs a literal softmax gives.
package func softmaxRows(rows: Int, cols: Int, data: UnsafeMutablePointer<Float>, ld: Int) {
    guard cols > 0 else { return }
    parallelChunks(rows, minimumChunk: rowsPerChunk(cols)) { range in
        softmaxSerial(rows: range, cols: cols, data: data, ld: ld)
    }
}

private func softmaxSerial(rows: Range<Int>, cols: Int, data: UnsafeMutablePointer<Float>, ld: Int) {
    let vectorEnd = cols - cols % 8
    for r in rows {
        let row = data + r * ld
        var maxVector = FastMath.Vector(repeating: -.infinity)
        var c = 0
        while c + 16 <= cols {
            maxVector = FastMath.maximum(maxVector, row.loadVector16(at: c))
            c += 16
        }
        var maximum = maxVector.max()
        while c < cols { maximum = max(maximum, row[c]); c += 1 }
        if maximum == -.infinity {
            row.update(repeating: 0, count: cols)
            continue
        }

        var sumVector = SIMD16<Float>(repeating: 0)
        c = 0
        while c + 16 <= cols {
            let e = FastMath.expNonPositive(row.loadVector16(at: c) - maximum)
            row.storeVector16(e, at: c)
            sumVector += e
            c += 16
        }
        var sum = sumVector.sum()
        if c < cols {
            var tail = SIMD16<Float>(repeating: -.infinity)
            for i in 0..<(cols - c) { tail[i] = row[c + i] - maximum }
            let e = FastMath.expNonPositive(tail)
            for i in 0..<(cols - c) { row[c + i] = e[i]; sum += e[i] }
        }

        let inverse = 1 / sum
        c = 0
        while c < vectorEnd {
            row.storeVector(row.loadVector(at: c) * inverse, at: c)
            c += 8
        }
        while c < cols { row[c] *= inverse; c += 1 }
    }
}

/// Softmax of a small vector (class scores, gate weights), same kernel as `softmaxRows`.
package func softmax(_ values: [Float]) -> [Float] {
    var result = values
    result.withUnsafeMutableBufferPointer { buffer in
        if let base = buffer.baseAddress { softmaxRows(rows: 1, cols: buffer.count, data: base, ld: buffer.count) }
    }
    return result
}
