/// Layer normalisation over the last dimension:
/// `output[r] = (input[r] - mean) / sqrt(var + eps) · gamma + beta` (biased variance, as PyTorch).
///
/// `input` and `output` may be the same buffer. The variance is computed in a second pass over
/// the centred values, which stays accurate when the mean is large compared to the spread.
package func layerNorm(rows: Int, cols: Int, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
                       gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, eps: Float) {
    guard cols > 0 else { return }
    parallelChunks(rows, minimumChunk: rowsPerChunk(cols)) { range in
        layerNormSerial(rows: range, cols: cols, input: input, output: output, gamma: gamma, beta: beta, eps: eps)
    }
}

/// `residual[r] += bias`, then `output[r] = layerNorm(residual[r])`: the bias of a product
/// accumulated onto the residual stream (sgemm with beta = 1) and the LayerNorm that follows
/// it, in one pass while the row is in L1 instead of a bias pass and a normalisation pass.
/// `output` may be `residual` (post-LN blocks); the updated residual is kept otherwise (pre-LN).
package func addBiasLayerNorm(rows: Int, cols: Int, residual: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>,
                              output: UnsafeMutablePointer<Float>,
                              gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, eps: Float) {
    guard cols > 0 else { return }
    parallelChunks(rows, minimumChunk: rowsPerChunk(cols)) { range in
        for r in range {
            let x = residual + r * cols
            var c = 0
            while c + 8 <= cols {
                x.storeVector(x.loadVector(at: c) + bias.loadVector(at: c), at: c)
                c += 8
            }
            while c < cols { x[c] += bias[c]; c += 1 }
            layerNormRow(cols: cols, x: x, y: output + r * cols, gamma: gamma, beta: beta, eps: eps)
        }
    }
}

private func layerNormSerial(rows: Range<Int>, cols: Int, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
                             gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, eps: Float) {
    for r in rows { layerNormRow(cols: cols, x: input + r * cols, y: output + r * cols, gamma: gamma, beta: beta, eps: eps) }
}

@inline(__always)
private func layerNormRow(cols: Int, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>,
                          gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, eps: Float) {
    let vectorEnd = cols - cols % 8
    let inverseCount = 1 / Float(cols)
    do {
        var sumVector = SIMD8<Float>(repeating: 0)
        var c = 0
        while c < vectorEnd {
            sumVector += x.loadVector(at: c)
            c += 8
        }
        var sum = sumVector.sum()
        while c < cols { sum += x[c]; c += 1 }
        let mean = sum * inverseCount

        var squareVector = SIMD8<Float>(repeating: 0)
        c = 0
        while c < vectorEnd {
            let d = x.loadVector(at: c) - mean
            squareVector += d * d
            c += 8
        }
        var squares = squareVector.sum()
        while c < cols { let d = x[c] - mean; squares += d * d; c += 1 }
        let inverseStd = 1 / (squares * inverseCount + eps).squareRoot()

        c = 0
        while c < vectorEnd {
            let normalized = (x.loadVector(at: c) - mean) * inverseStd
            y.storeVector(normalized * gamma.loadVector(at: c) + beta.loadVector(at: c), at: c)
            c += 8
        }
        while c < cols {
            y[c] = (x[c] - mean) * inverseStd * gamma[c] + beta[c]
            c += 1
        }
    }
}
