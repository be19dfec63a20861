import CCPUFeatures
import COneDNN
import Locking

/// A `[n, k]` weight matrix quantized for int8 products: symmetric, one scale per output row,
/// `weight[j, i] ≈ scale[j] · values[j, i]`. Made once, at load.
///
/// This is the dynamic quantization ONNX Runtime and PyTorch apply to `Linear`/`MatMul`
/// (`quantize_dynamic`): int8 weights per output channel, activations quantized per row at run
/// time (`quantizedLinear`), products in 32-bit integers, the result scaled back to fp32.
package struct QuantizedWeights: Sendable {
    /// Output features (rows of the weight).
    package let outFeatures: Int
    /// Input features (columns).
    package let inFeatures: Int
    /// The largest magnitude a value takes: 127, or 63 on CPUs without VNNI (see `levels`).
    package let levels: Int
    let values: [Int8]
    let scales: [Float]
    /// `Σᵢ values[j, i]`: removes the activations' zero point from the integer product.
    let rowSums: [Int32]

    /// The value range this CPU multiplies exactly. Without VNNI, x86 int8 products add pairs
    /// of u8×s8 products in saturating 16-bit lanes (`vpmaddubsw`): 255·127·2 overflows, 255·63·2
    /// does not. ONNX Runtime's `reduce_range` makes the same trade on such CPUs.
    package static var levels: Int { ccpu_has_vnni() != 0 ? 127 : 63 }

    /// Quantizes `weight` (`[outFeatures, inFeatures]`, rows dense). A row of zeros gets scale 1.
    package init(weight: UnsafeBufferPointer<Float>, outFeatures: Int, inFeatures: Int, levels: Int = QuantizedWeights.levels) {
        precondition(weight.count == outFeatures * inFeatures, "weight is not [\(outFeatures), \(inFeatures)]")
        precondition((1...127).contains(levels), "levels must be 1...127")
        self.outFeatures = outFeatures
        self.inFeatures = inFeatures
        self.levels = levels
        var values = [Int8](repeating: 0, count: weight.count)
        var scales = [Float](repeating: 1, count: outFeatures)
        var rowSums = [Int32](repeating: 0, count: outFeatures)
        for j in 0..<outFeatures {
            let row = weight[(j * inFeatures)..<((j + 1) * inFeatures)]
            let largest = row.reduce(0) { max($0, abs($1)) }
            guard largest > 0, largest.isFinite else { continue }
            let scale = largest / Float(levels)
            scales[j] = scale
            var sum: Int32 = 0
            for (i, w) in row.enumerated() {
                let q = Int8(max(-Float(levels), min(Float(levels), (w / scale).rounded())))
                values[j * inFeatures + i] = q
                sum += Int32(q)
            }
            rowSums[j] = sum
        }
        self.values = values
        self.scales = scales
        self.rowSums = rowSums
    }

    /// The weight as fp32 again (`scale · value`), for tests and error bounds.
    package func dequantized() -> [Float] {
        (0..<values.count).map { scales[$0 / inFeatures] * Float(values[$0]) }
    }
}

/// `output[m, n] (+)= input[m, k] · Wᵀ` with `W` int8 (`weights`), `input` quantized per row
/// to u8 on the way in: `x ≈ scaleᵣ · (q − zeroᵣ)` with `q ∈ 0…255` and the row's range
/// widened to include 0, so zero padding stays exactly zero.
///
/// With `accumulate` the product is added to `output` (a residual connection), else it
/// replaces it. The bias is the caller's, as with `sgemm`. Strides are in elements.
package func quantizedLinear(input: UnsafePointer<Float>, rows m: Int, ldInput: Int,
                             weights: QuantizedWeights,
                             output: UnsafeMutablePointer<Float>, ldOutput: Int,
                             accumulate: Bool) {
    let k = weights.inFeatures, n = weights.outFeatures
    guard m > 0, n > 0 else { return }
    guard k > 0 else {
        if !accumulate { for r in 0..<m { (output + r * ldOutput).update(repeating: 0, count: n) } }
        return
    }
    // Rows are split across threads here, each calling oneDNN single-threaded: its own
    // OpenMP split of u8s8s32 gained nothing on 2 threads (measured 175 vs 172 GOP/s), and
    // the quantize and rescale passes split the same way.
    let minimumRows = max(8, 4_000_000 / max(1, 2 * n * k))
    parallelChunks(m, minimumChunk: minimumRows) { chunk in
        omp_set_num_threads(1)
        quantizedRows(input: input + chunk.lowerBound * ldInput, rows: chunk.count, ldInput: ldInput,
                      weights: weights, output: output + chunk.lowerBound * ldOutput, ldOutput: ldOutput,
                      accumulate: accumulate)
    }
}

/// `quantizedLinear` for one block of rows, on the calling thread.
private func quantizedRows(input: UnsafePointer<Float>, rows m: Int, ldInput: Int, weights: QuantizedWeights,
                           output: UnsafeMutablePointer<Float>, ldOutput: Int, accumulate: Bool) {
    let k = weights.inFeatures, n = weights.outFeatures
    QuantizedScratch.borrow(activations: m * k, products: m * n, rows: m) { q, products, rowScale, rowZero in
        for r in 0..<m {
            let (scale, zero) = quantizeRow(input + r * ldInput, count: k, into: q + r * k)
            rowScale[r] = scale
            rowZero[r] = zero
        }
        var offset: Int32 = 0
        weights.values.withUnsafeBufferPointer { w in
            // Row-major: C[m, n] = A[m, k] · B[n, k]ᵀ, no offsets (the zero points are removed
            // below, per row, which one scalar offset could not do).
            let status = dnnl_gemm_u8s8s32(CChar(UInt8(ascii: "N")), CChar(UInt8(ascii: "T")), CChar(UInt8(ascii: "F")),
                                  Int64(m), Int64(n), Int64(k), 1,
                                  q, Int64(k), 0, w.baseAddress, Int64(k), 0,
                                  0, products, Int64(n), &offset)
            // `checkQuantizedProducts` proved oneDNN runs here before any model used it; a
            // failure now (out of memory for its JIT buffers) must not become wrong answers.
            precondition(status == dnnl_success, "oneDNN dnnl_gemm_u8s8s32 failed with status \(status.rawValue)")
        }
        weights.scales.withUnsafeBufferPointer { scales in
            weights.rowSums.withUnsafeBufferPointer { sums in
                for r in 0..<m {
                    let scale = rowScale[r], zero = rowZero[r]
                    let c = products + r * n, out = output + r * ldOutput
                    // Wrapping arithmetic: |c| ≤ k·255·127 fits Int32 for k < 66,000, and
                    // checked arithmetic would stop the loop from vectorising.
                    if accumulate {
                        for j in 0..<n { out[j] += scale * scales[j] * Float(c[j] &- zero &* sums[j]) }
                    } else {
                        for j in 0..<n { out[j] = scale * scales[j] * Float(c[j] &- zero &* sums[j]) }
                    }
                }
            }
        }
    }
}

/// Runs one small u8×s8 product through oneDNN and checks it against integer arithmetic;
/// returns why it failed, or nil. oneDNN generates its kernels at run time (JIT): where
/// writable-and-executable memory is forbidden (systemd's `MemoryDenyWriteExecute=yes`) or
/// the library is broken, this says so at load instead of giving wrong answers later.
package func checkQuantizedProducts() -> String? {
    let m = 3, n = 17, k = 40
    let a = (0..<(m * k)).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
    let b = (0..<(n * k)).map { Int8(truncatingIfNeeded: ($0 &* 53) % 127 - 63) }
    var c = [Int32](repeating: 0, count: m * n)
    var offset: Int32 = 0
    omp_set_num_threads(1)  // as every product here: no OpenMP team (its threads would spin idle)
    let status = c.withUnsafeMutableBufferPointer { c in
        dnnl_gemm_u8s8s32(CChar(UInt8(ascii: "N")), CChar(UInt8(ascii: "T")), CChar(UInt8(ascii: "F")),
                          Int64(m), Int64(n), Int64(k), 1, a, Int64(k), 0, b, Int64(k), 0, 0,
                          c.baseAddress, Int64(n), &offset)
    }
    guard status == dnnl_success else {
        return "oneDNN's dnnl_gemm_u8s8s32 failed (status \(status.rawValue)); it compiles its kernels at run time, which needs memory that is writable then executable (under systemd: MemoryDenyWriteExecute=no)"
    }
    for r in 0..<m {
        for j in 0..<n {
            var sum: Int32 = 0
            for i in 0..<k { sum += Int32(a[r * k + i]) * Int32(b[j * k + i]) }
            if c[r * n + j] != sum {
                return "oneDNN's dnnl_gemm_u8s8s32 gave \(c[r * n + j]) where \(sum) is right (row \(r), column \(j))"
            }
        }
    }
    return nil
}

/// Quantizes `count` floats to u8 over their range (widened to include 0); returns the
/// scale and zero point. Written without calls or traps so it vectorises: rounding adds 2²³
/// (the float's mantissa then holds round-to-nearest of a value in 0…255 in its low bits),
/// and NaN falls out of `min`/`max` comparisons instead of trapping in a conversion.
@inline(__always)
func quantizeRow(_ x: UnsafePointer<Float>, count: Int, into q: UnsafeMutablePointer<UInt8>) -> (Float, Int32) {
    var low: Float = 0, high: Float = 0
    for i in 0..<count {
        low = min(low, x[i])
        high = max(high, x[i])
    }
    guard high > low, (high - low).isFinite else {
        q.update(repeating: 0, count: count)
        return (1, 0)
    }
    let scale = (high - low) / 255
    let zero = min(255, max(0, (-low / scale).rounded()))
    let inverse = 1 / scale
    let magic: Float = 8_388_608
    for i in 0..<count {
        let y = min(max(x[i] * inverse + zero, 0), 255) + magic
        q[i] = UInt8(truncatingIfNeeded: y.bitPattern)
    }
    return (scale, Int32(zero))
}

/// Reused buffers for `quantizedLinear`: the seed-size model's feed-forward products would
/// otherwise allocate (and fault in) ~20 MB per call. A few sets, for concurrent forwards.
private enum QuantizedScratch {
    final class Buffers: @unchecked Sendable {
        // @unchecked: a set is used by one borrower at a time (handed out under `pool`'s lock).
        var activations: [UInt8] = []
        var products: [Int32] = []
        var rowScale: [Float] = []
        var rowZero: [Int32] = []
    }

    static let pool = Locked<[Buffers]>([])
    static let maxIdle = 4

    static func borrow(activations: Int, products: Int, rows: Int,
                       _ body: (UnsafeMutablePointer<UInt8>, UnsafeMutablePointer<Int32>,
                                UnsafeMutablePointer<Float>, UnsafeMutablePointer<Int32>) -> Void) {
        let buffers = pool.withLock { $0.popLast() } ?? Buffers()
        if buffers.activations.count < activations { buffers.activations = [UInt8](repeating: 0, count: activations) }
        if buffers.products.count < products { buffers.products = [Int32](repeating: 0, count: products) }
        if buffers.rowScale.count < rows {
            buffers.rowScale = [Float](repeating: 0, count: rows)
            buffers.rowZero = [Int32](repeating: 0, count: rows)
        }
        buffers.activations.withUnsafeMutableBufferPointer { a in
            buffers.products.withUnsafeMutableBufferPointer { p in
                buffers.rowScale.withUnsafeMutableBufferPointer { s in
                    buffers.rowZero.withUnsafeMutableBufferPointer { z in
                        // Non-empty: each was sized above for m, n, k ≥ 1.
                        guard let a = a.baseAddress, let p = p.baseAddress, let s = s.baseAddress,
                              let z = z.baseAddress else { return }
                        body(a, p, s, z)
                    }
                }
            }
        }
        pool.withLock { if $0.count < maxIdle { $0.append(buffers) } }
    }
}
