// Packed-weight fp32 products for small layers (see CSmallGEMM.h).

#include "CSmallGEMM.h"

#include <string.h>

size_t csg_packed_count(int n, int k) {
    return (size_t)((n + 15) / 16) * 16 * (size_t)k;
}

void csg_pack(const float *w, int n, int k, float *packed) {
    const int panels = (n + 15) / 16;
    for (int p = 0; p < panels; p++) {
        float *panel = packed + (size_t)p * 16 * k;
        for (int kk = 0; kk < k; kk++) {
            for (int j = 0; j < 16; j++) {
                const int col = 16 * p + j;
                panel[(size_t)kk * 16 + j] = col < n ? w[(size_t)col * k + kk] : 0.0f;
            }
        }
    }
}

#if defined(__x86_64__)
#include <immintrin.h>

/// Lane masks for the first `count` of 8 floats (maskload/maskstore of a partial panel).
__attribute__((target("avx2")))
static inline __m256i first_lanes(int count) {
    const __m256i index = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(count), index);
}

/// One tile: `rows` (1...6) rows of A times one 16-column panel. `cols` (1...16) columns are
/// live; the masks cover them. Written for a constant `rows` so the compiler keeps the twelve
/// accumulators in registers and drops the unused ones.
__attribute__((target("avx2,fma"), always_inline))
static inline void tile(const int rows, int cols, int k, const float *a, int lda, const float *panel,
                        const float *bias, int accumulate, float *c, int ldc) {
    // Masked moves only for a partial last panel: they are slow on some CPUs (AMD Zen).
    const int full = cols == 16;
    const __m256i mask0 = first_lanes(cols), mask1 = first_lanes(cols - 8);
    __m256 acc[6][2];
    for (int i = 0; i < rows; i++) {
        if (accumulate && full) {
            acc[i][0] = _mm256_loadu_ps(c + (size_t)i * ldc);
            acc[i][1] = _mm256_loadu_ps(c + (size_t)i * ldc + 8);
        } else if (accumulate) {
            acc[i][0] = _mm256_maskload_ps(c + (size_t)i * ldc, mask0);
            acc[i][1] = _mm256_maskload_ps(c + (size_t)i * ldc + 8, mask1);
        } else if (bias && full) {
            acc[i][0] = _mm256_loadu_ps(bias);
            acc[i][1] = _mm256_loadu_ps(bias + 8);
        } else if (bias) {
            acc[i][0] = _mm256_maskload_ps(bias, mask0);
            acc[i][1] = _mm256_maskload_ps(bias + 8, mask1);
        } else {
            acc[i][0] = _mm256_setzero_ps();
            acc[i][1] = _mm256_setzero_ps();
        }
    }
    for (int kk = 0; kk < k; kk++) {
        const __m256 b0 = _mm256_loadu_ps(panel + (size_t)kk * 16);
        const __m256 b1 = _mm256_loadu_ps(panel + (size_t)kk * 16 + 8);
        for (int i = 0; i < rows; i++) {
            const __m256 x = _mm256_broadcast_ss(a + (size_t)i * lda + kk);
            acc[i][0] = _mm256_fmadd_ps(x, b0, acc[i][0]);
            acc[i][1] = _mm256_fmadd_ps(x, b1, acc[i][1]);
        }
    }
    for (int i = 0; i < rows; i++) {
        if (full) {
            _mm256_storeu_ps(c + (size_t)i * ldc, acc[i][0]);
            _mm256_storeu_ps(c + (size_t)i * ldc + 8, acc[i][1]);
        } else {
            _mm256_maskstore_ps(c + (size_t)i * ldc, mask0, acc[i][0]);
            _mm256_maskstore_ps(c + (size_t)i * ldc + 8, mask1, acc[i][1]);
        }
    }
}

__attribute__((target("avx2,fma")))
void csg_gemm_avx2(int m, int n, int k, const float *a, int lda, const float *packed,
                   const float *bias, int accumulate, float *c, int ldc) {
    const int panels = (n + 15) / 16;
    // Rows outside, panels inside: the six A rows stay in L1 while every panel passes.
    int i = 0;
    for (; i + 6 <= m; i += 6) {
        for (int p = 0; p < panels; p++) {
            const int cols = n - 16 * p < 16 ? n - 16 * p : 16;
            tile(6, cols, k, a + (size_t)i * lda, lda, packed + (size_t)p * 16 * k,
                 bias ? bias + 16 * p : NULL, accumulate, c + (size_t)i * ldc + 16 * p, ldc);
        }
    }
    const int rest = m - i;
    if (rest == 0) return;
    for (int p = 0; p < panels; p++) {
        const int cols = n - 16 * p < 16 ? n - 16 * p : 16;
        const float *ap = a + (size_t)i * lda, *panel = packed + (size_t)p * 16 * k;
        const float *bp = bias ? bias + 16 * p : NULL;
        float *cp = c + (size_t)i * ldc + 16 * p;
        switch (rest) {
        case 1: tile(1, cols, k, ap, lda, panel, bp, accumulate, cp, ldc); break;
        case 2: tile(2, cols, k, ap, lda, panel, bp, accumulate, cp, ldc); break;
        case 3: tile(3, cols, k, ap, lda, panel, bp, accumulate, cp, ldc); break;
        case 4: tile(4, cols, k, ap, lda, panel, bp, accumulate, cp, ldc); break;
        default: tile(5, cols, k, ap, lda, panel, bp, accumulate, cp, ldc); break;
        }
    }
}

#else

void csg_gemm_avx2(int m, int n, int k, const float *a, int lda, const float *packed,
                   const float *bias, int accumulate, float *c, int ldc) {
    (void)m; (void)n; (void)k; (void)a; (void)lda; (void)packed; (void)bias; (void)accumulate;
    (void)c; (void)ldc;
    __builtin_trap();  // never selected: ccpu_has_avx2_fma() is 0 here
}

#endif
