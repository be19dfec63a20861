import COpenBLAS
import Dispatch

/// Sets the number of threads OpenBLAS uses for matrix products (process-wide).
///
/// Worker processes pinned to a CPU set call this with the size of their set, so that the
/// BLAS threads do not oversubscribe cores shared with other workers.
public func setBLASThreads(_ count: Int) {
    openblas_set_num_threads(Int32(clamping: max(1, count)))
}

/// The number of threads OpenBLAS currently uses.
public func blasThreads() -> Int {
    Int(openblas_get_num_threads())
}

/// `C = alpha · op(A) · op(B) + beta · C`, row-major, via `cblas_sgemm`.
///
/// `op(A)` is `[m, k]`, `op(B)` is `[k, n]`, `C` is `[m, n]`; `lda`, `ldb`, `ldc` are row
/// strides in elements, which lets callers address one head's columns inside a wider matrix
/// without copying. Every product of the model goes through here so `log` can count them.
package func sgemm(transposeA: Bool = false, transposeB: Bool = false,
                   m: Int, n: Int, k: Int, alpha: Float = 1,
                   a: UnsafePointer<Float>, lda: Int,
                   b: UnsafePointer<Float>, ldb: Int,
                   beta: Float = 0,
                   c: UnsafeMutablePointer<Float>, ldc: Int,
                   log: GEMMLog? = nil) {
    guard m > 0, n > 0 else { return }
    let start = log == nil ? 0 : DispatchTime.now().uptimeNanoseconds
    cblas_sgemm(CblasRowMajor,
                transposeA ? CblasTrans : CblasNoTrans,
                transposeB ? CblasTrans : CblasNoTrans,
                blasint(m), blasint(n), blasint(k),
                alpha, a, blasint(lda), b, blasint(ldb),
                beta, c, blasint(ldc))
    if let log {
        log.record(GEMMShape(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, lda: lda, ldb: ldb, ldc: ldc),
                   nanoseconds: DispatchTime.now().uptimeNanoseconds - start)
    }
}

/// A fully connected layer: `output[m, n] = input[m, k] · weight[n, k]ᵀ + bias[n]`.
///
/// PyTorch stores `nn.Linear` weights as `[out, in]`; the product uses them transposed in
/// place (CblasTrans), so weights are never copied. `ldInput`/`ldOutput` default to dense rows.
package func linear(input: UnsafePointer<Float>, rows m: Int, inFeatures k: Int,
                    weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?, outFeatures n: Int,
                    output: UnsafeMutablePointer<Float>,
                    ldInput: Int? = nil, ldOutput: Int? = nil,
                    log: GEMMLog? = nil) {
    let ldo = ldOutput ?? n
    sgemm(transposeB: true, m: m, n: n, k: k,
          a: input, lda: ldInput ?? k, b: weight, ldb: k,
          c: output, ldc: ldo, log: log)
    if let bias { addBias(rows: m, cols: n, data: output, ld: ldo, bias: bias) }
}
