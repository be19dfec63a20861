#ifndef C_SMALL_GEMM_H
#define C_SMALL_GEMM_H

// fp32 products for small linear layers (module Kernels, `PackedLinear`) with AVX2 + FMA:
// `C = init + A · Wᵀ` where W is `[n, k]` and was packed once, at load, into panels of 16
// output columns. A is read in place (no per-call packing, which is a large share of a BLAS call
// when k and n are 64–256), and `init` is either C itself (a residual, beta = 1) or the bias
// broadcast to every row, so no separate pass writes the bias first. Written in C for explicit
// register blocking (6 rows × 16 columns in twelve accumulators); compiled for AVX2 + FMA with a
// function attribute, so callers ask `ccpu_has_avx2_fma()` (CCPUFeatures) once and use BLAS
// otherwise.

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Floats `csg_pack` writes for a `[n, k]` weight: `ceil(n / 16) · 16 · k`.
size_t csg_packed_count(int n, int k);

/// Packs `w` (`[n, k]`, row stride `k`) as panels: panel p holds `k` rows of 16 floats, row kk
/// being `w[16p + j][kk]` for j < 16 (zero past n).
void csg_pack(const float *w, int n, int k, float *packed);

/// `C[i, j] = init[i, j] + Σ_kk A[i, kk] · W[j, kk]` for i < m, j < n, with `init` = C itself
/// when `accumulate` is nonzero, else `bias[j]` (or 0 when `bias` is NULL). `packed` is
/// `csg_pack`'s output for W. Columns of C past n are not touched.
void csg_gemm_avx2(int m, int n, int k, const float *a, int lda, const float *packed,
                   const float *bias, int accumulate, float *c, int ldc);

#ifdef __cplusplus
}
#endif

#endif
