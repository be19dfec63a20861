/// Row-wise and elementwise kernels on row-major matrices (pointers valid for the call only).

/// `data[r, c] += bias[c]` for `rows` rows of `cols` values, row stride `ld`.
package func addBias(rows: Int, cols: Int, data: UnsafeMutablePointer<Float>, ld: Int, bias: UnsafePointer<Float>) {
    parallelChunks(rows, minimumChunk: rowsPerChunk(cols)) { range in
        addBiasSerial(rows: range, cols: cols, data: data, ld: ld, bias: bias)
    }
}

private func addBiasSerial(rows: Range<Int>, cols: Int, data: UnsafeMutablePointer<Float>, ld: Int, bias: UnsafePointer<Float>) {
    for r in rows {
        let row = data + r * ld
        var c = 0
        while c + 8 <= cols {
            row.storeVector(row.loadVector(at: c) + bias.loadVector(at: c), at: c)
            c += 8
        }
        while c < cols {
            row[c] += bias[c]
            c += 1
        }
    }
}

/// `data[r, c] = bias[c]`: the starting value of a product accumulated with beta = 1, which
/// replaces both OpenBLAS's zeroing of C (beta = 0) and a separate bias pass.
package func fillRows(rows: Int, cols: Int, data: UnsafeMutablePointer<Float>, ld: Int, bias: UnsafePointer<Float>) {
    parallelChunks(rows, minimumChunk: rowsPerChunk(cols)) { range in
        for r in range { (data + r * ld).update(from: bias, count: cols) }
    }
}

/// Rows per thread below which splitting a row-wise kernel is not worth a dispatch
/// (about 32 K values).
package func rowsPerChunk(_ cols: Int) -> Int {
    max(1, 32_768 / max(cols, 1))
}

/// `data[i] += other[i]` for `count` values (residual connections).
package func addInPlace(_ data: UnsafeMutablePointer<Float>, _ other: UnsafePointer<Float>, count: Int) {
    var i = 0
    while i + 8 <= count {
        data.storeVector(data.loadVector(at: i) + other.loadVector(at: i), at: i)
        i += 8
    }
    while i < count {
        data[i] += other[i]
        i += 1
    }
}

@inline(__always)
private func geluVector(_ x: SIMD16<Float>) -> SIMD16<Float> {
    // Exact GELU as in PyTorch's default nn.GELU(): x · Φ(x) = x/2 · (1 + erf(x/√2)).
    let half = x * 0.5
    return half + half * FastMath.erf(x * 0.70710678118654752)
}

/// Exact (erf) GELU of one value, the same approximation as the kernels.
package func gelu(_ x: Float) -> Float {
    geluVector(SIMD16(repeating: x))[0]
}

/// `data[r, c] = GELU(data[r, c] + bias[c])`, fused so the intermediate activations (the
/// largest tensor of a transformer layer) are read and written once.
package func addBiasGELU(rows: Int, cols: Int, data: UnsafeMutablePointer<Float>, ld: Int, bias: UnsafePointer<Float>?) {
    parallelChunks(rows, minimumChunk: rowsPerChunk(cols)) { range in
        addBiasGELUSerial(rows: range, cols: cols, data: data, ld: ld, bias: bias)
    }
}

private func addBiasGELUSerial(rows: Range<Int>, cols: Int, data: UnsafeMutablePointer<Float>, ld: Int, bias: UnsafePointer<Float>?) {
    for r in rows {
        let row = data + r * ld
        var c = 0
        while c + 16 <= cols {
            var x = row.loadVector16(at: c)
            if let bias { x += bias.loadVector16(at: c) }
            row.storeVector16(geluVector(x), at: c)
            c += 16
        }
        if c < cols {
            // Tail: run the vector code on a zero-padded copy so results match the body.
            var x = SIMD16<Float>(repeating: 0)
            for i in 0..<(cols - c) { x[i] = row[c + i] + (bias?[c + i] ?? 0) }
            let y = geluVector(x)
            for i in 0..<(cols - c) { row[c + i] = y[i] }
        }
    }
}
