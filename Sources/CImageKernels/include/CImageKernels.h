#ifndef C_IMAGE_KERNELS_H
#define C_IMAGE_KERNELS_H

// SIMD inner loops of the image resampler (module Images), written in C because they need
// byte shuffles and 16-bit multiply-adds that Swift's SIMD types do not expose. Each kernel
// is compiled for its instruction set with a function attribute, so the rest of the binary
// stays baseline x86-64; callers ask `ccpu_has_avx2_fma()` (CCPUFeatures) once and keep the
// scalar Swift loop otherwise. The results are bit-identical to the scalar loop (integer arithmetic only).

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// One horizontal pass of Pillow's 8-bit resample over an RGB row, with AVX2.
///
/// Output pixel `x` (of `out_width`) is `clip8((1 << 21) + Σ_i src[starts[x] + i] · w_i)`
/// per channel, with the 22-bit fixed-point weights `w_i` split as `w_i = hi_i · 2^11 + lo_i`
/// (both 0 ..< 2^15, so a 16-bit multiply-add is exact): `weights` holds, per output pixel,
/// `chunks` groups of 16 int16 — eight `hi` then eight `lo`, for taps 8k ..< 8k + 8, zero past
/// the pixel's tap count.
///
/// `planes` is caller-owned scratch of `3 * stride` int16 whose entries at and beyond
/// `read_width` in each plane are zero (they are never written here); `read_width` is the
/// number of source pixels the taps can touch, and `stride >= read_width + 8 * chunks` and
/// `starts[x] + 8 * chunks <= stride` must hold, so every load stays inside the scratch.
void cik_horizontal_rgb_avx2(const uint8_t *src, int read_width, uint8_t *dst, int out_width,
                             const int32_t *starts, int chunks, const int16_t *weights,
                             int16_t *planes, int stride);

/// `cik_horizontal_rgb_avx2` for tables of at most eight taps per pixel (every downscale by
/// up to 3.5×, such as 640 → 224), four pixels per step with the weights of a pixel pair side
/// by side: for pixels 2j and 2j + 1, `weights[32j ..< 32j + 32]` holds the eight `hi` of 2j,
/// the eight `hi` of 2j + 1, then the two pixels' `lo`. `starts` and `weights` are padded to a
/// multiple of four pixels (padding: start 0, weights 0); `planes`, `read_width` and `stride`
/// as above with `chunks` = 1. Only the `out_width` real pixels are written.
void cik_horizontal_rgb8_avx2(const uint8_t *src, int read_width, uint8_t *dst, int out_width,
                              const int32_t *starts, const int16_t *weights, int16_t *planes, int stride);

/// `accumulators[i] += source[i] · weight` for `count` bytes (the resampler's vertical pass),
/// with AVX2's 32-bit multiplies (baseline x86-64 has none, so the Swift loop emulates them).
void cik_multiply_add_avx2(const uint8_t *source, int32_t weight, int32_t *accumulators, int count);

#ifdef __cplusplus
}
#endif

#endif
