// The resampler's horizontal pass with AVX2 (see CImageKernels.h for the contract).
//
// The RGB row is first split into three int16 planes, so the taps of one output pixel are
// eight consecutive int16 per channel. `pmaddwd` multiplies them by eight int16 weights and
// sums pairs into 32-bit lanes; a 22-bit weight does not fit 16 bits, so each weight is split
// into its high and low 11 bits and the two partial sums are recombined as hi · 2^11 + lo —
// exact, because a byte times an 11-bit number summed over a pair stays far below 2^31. Two
// output pixels share one 256-bit register (one per 128-bit lane).

#include "CImageKernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#include <string.h>

__attribute__((target("avx2")))
static inline __m256i load_pair(const int16_t *a, const int16_t *b) {
    return _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)a)),
                                   _mm_loadu_si128((const __m128i *)b), 1);
}

/// Σ taps of one channel for two pixels: hi·2^11 + lo per 32-bit lane (four lanes per pixel).
__attribute__((target("avx2")))
static inline __m256i channel_sums(const int16_t *plane, int s0, int s1, int chunks,
                                   const int16_t *w0, const int16_t *w1) {
    __m256i hi = _mm256_setzero_si256(), lo = _mm256_setzero_si256();
    for (int k = 0; k < chunks; k++) {
        __m256i v = load_pair(plane + s0 + 8 * k, plane + s1 + 8 * k);
        hi = _mm256_add_epi32(hi, _mm256_madd_epi16(v, load_pair(w0 + 16 * k, w1 + 16 * k)));
        lo = _mm256_add_epi32(lo, _mm256_madd_epi16(v, load_pair(w0 + 16 * k + 8, w1 + 16 * k + 8)));
    }
    return _mm256_add_epi32(_mm256_slli_epi32(hi, 11), lo);
}

/// Two output pixels (one per 128-bit lane): the low four bytes of each lane are that pixel's
/// R, G, B (and B again), rounded, shifted and clamped as Pillow's clip8.
__attribute__((target("avx2")))
static inline __m256i pixel_pair(const int16_t *r, const int16_t *g, const int16_t *b, int s0, int s1,
                                 int chunks, const int16_t *w0, const int16_t *w1) {
    __m256i sr = channel_sums(r, s0, s1, chunks, w0, w1);
    __m256i sg = channel_sums(g, s0, s1, chunks, w0, w1);
    __m256i sb = channel_sums(b, s0, s1, chunks, w0, w1);
    // Per 128-bit lane: [r, g, b, b] of that lane's pixel.
    __m256i t = _mm256_hadd_epi32(_mm256_hadd_epi32(sr, sg), _mm256_hadd_epi32(sb, sb));
    t = _mm256_srai_epi32(_mm256_add_epi32(t, _mm256_set1_epi32(1 << 21)), 22);
    // Saturating packs clamp to 0...255.
    return _mm256_packus_epi16(_mm256_packs_epi32(t, t), t);
}

__attribute__((target("avx2")))
static inline void split_planes(const uint8_t *src, int read_width, int16_t *r, int16_t *g, int16_t *b) {
    for (int i = 0; i < read_width; i++) {
        r[i] = src[3 * i];
        g[i] = src[3 * i + 1];
        b[i] = src[3 * i + 2];
    }
}

__attribute__((target("avx2")))
void cik_horizontal_rgb_avx2(const uint8_t *src, int read_width, uint8_t *dst, int out_width,
                             const int32_t *starts, int chunks, const int16_t *weights,
                             int16_t *planes, int stride) {
    int16_t *r = planes, *g = planes + stride, *b = planes + 2 * stride;
    split_planes(src, read_width, r, g, b);
    const int per_pixel = 16 * chunks;
    int x = 0;
    // Gathers the pair's six bytes (r0 g0 b0 r1 g1 b1) at the bottom of one register.
    const __m128i six = _mm_setr_epi8(0, 1, 2, 4, 5, 6, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
    for (; x + 2 <= out_width; x += 2) {
        const int16_t *w0 = weights + (size_t)x * per_pixel;
        __m256i p = pixel_pair(r, g, b, starts[x], starts[x + 1], chunks, w0, w0 + per_pixel);
        __m128i both = _mm_unpacklo_epi32(_mm256_castsi256_si128(p), _mm256_extracti128_si256(p, 1));
        both = _mm_shuffle_epi8(both, six);
        if (x + 2 < out_width) {
            // One 8-byte store; its last two bytes are the next pair's, written over next.
            _mm_storel_epi64((__m128i *)(dst + 3 * x), both);
        } else {
            uint64_t bytes = (uint64_t)_mm_cvtsi128_si64(both);
            memcpy(dst + 3 * x, &bytes, 6);
        }
    }
    if (x < out_width) {  // an odd last pixel: paired with itself
        const int16_t *w0 = weights + (size_t)x * per_pixel;
        __m256i p = pixel_pair(r, g, b, starts[x], starts[x], chunks, w0, w0);
        uint32_t first = (uint32_t)_mm256_extract_epi32(p, 0);
        memcpy(dst + 3 * x, &first, 3);
    }
}

/// Σ taps of one channel for a pixel pair with at most eight taps each: hi·2^11 + lo per
/// 32-bit lane, the pair's weights already side by side (`hi`: both pixels' hi halves).
__attribute__((target("avx2")))
static inline __m256i pair_sums8(const int16_t *plane, int s0, int s1, __m256i hi, __m256i lo) {
    __m256i v = load_pair(plane + s0, plane + s1);
    return _mm256_add_epi32(_mm256_slli_epi32(_mm256_madd_epi16(v, hi), 11), _mm256_madd_epi16(v, lo));
}

__attribute__((target("avx2")))
void cik_horizontal_rgb8_avx2(const uint8_t *src, int read_width, uint8_t *dst, int out_width,
                              const int32_t *starts, const int16_t *weights, int16_t *planes, int stride) {
    int16_t *r = planes, *g = planes + stride, *b = planes + 2 * stride;
    split_planes(src, read_width, r, g, b);
    const __m256i round = _mm256_set1_epi32(1 << 21);
    // After the unpack below the bytes are r0 r1 r2 r3 g0 … b3; this puts them in RGB order.
    const __m128i order = _mm_setr_epi8(0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11, -1, -1, -1, -1);
    for (int x = 0; x < out_width; x += 4) {
        const int16_t *w = weights + (size_t)x * 16;
        const __m256i hiA = _mm256_loadu_si256((const __m256i *)w);
        const __m256i loA = _mm256_loadu_si256((const __m256i *)(w + 16));
        const __m256i hiB = _mm256_loadu_si256((const __m256i *)(w + 32));
        const __m256i loB = _mm256_loadu_si256((const __m256i *)(w + 48));
        const int s0 = starts[x], s1 = starts[x + 1], s2 = starts[x + 2], s3 = starts[x + 3];
        // Lane 0 holds pixels x and x+2, lane 1 pixels x+1 and x+3, four partial sums each.
        __m256i rs = _mm256_hadd_epi32(pair_sums8(r, s0, s1, hiA, loA), pair_sums8(r, s2, s3, hiB, loB));
        __m256i gs = _mm256_hadd_epi32(pair_sums8(g, s0, s1, hiA, loA), pair_sums8(g, s2, s3, hiB, loB));
        __m256i bs = _mm256_hadd_epi32(pair_sums8(b, s0, s1, hiA, loA), pair_sums8(b, s2, s3, hiB, loB));
        // Lane 0: [r0 r2 g0 g2] and [b0 b2 b0 b2]; lane 1 the same for pixels 1 and 3.
        __m256i rg = _mm256_srai_epi32(_mm256_add_epi32(_mm256_hadd_epi32(rs, gs), round), 22);
        __m256i bb = _mm256_srai_epi32(_mm256_add_epi32(_mm256_hadd_epi32(bs, bs), round), 22);
        // Saturating packs clamp to 0...255 (Pillow's clip8).
        __m256i bytes = _mm256_packus_epi16(_mm256_packs_epi32(rg, bb), _mm256_setzero_si256());
        __m128i rgb = _mm_shuffle_epi8(
            _mm_unpacklo_epi8(_mm256_castsi256_si128(bytes), _mm256_extracti128_si256(bytes, 1)), order);
        if (x + 6 <= out_width) {
            // 16 bytes for 12: the last four belong to the next group, written over next.
            _mm_storeu_si128((__m128i *)(dst + 3 * x), rgb);
        } else {
            uint8_t last[16];
            _mm_storeu_si128((__m128i *)last, rgb);
            int n = out_width - x < 4 ? out_width - x : 4;
            memcpy(dst + 3 * x, last, (size_t)n * 3);
        }
    }
}

__attribute__((target("avx2")))
void cik_multiply_add_avx2(const uint8_t *source, int32_t weight, int32_t *accumulators, int count) {
    const __m256i w = _mm256_set1_epi32(weight);
    int i = 0;
    for (; i + 8 <= count; i += 8) {
        __m256i bytes = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(source + i)));
        __m256i sum = _mm256_add_epi32(_mm256_loadu_si256((const __m256i *)(accumulators + i)),
                                       _mm256_mullo_epi32(bytes, w));
        _mm256_storeu_si256((__m256i *)(accumulators + i), sum);
    }
    for (; i < count; i++) accumulators[i] += (int32_t)source[i] * weight;
}

#else

void cik_multiply_add_avx2(const uint8_t *source, int32_t weight, int32_t *accumulators, int count) {
    (void)source; (void)weight; (void)accumulators; (void)count;
    __builtin_trap();  // never selected: ccpu_has_avx2_fma() is 0 here
}

void cik_horizontal_rgb8_avx2(const uint8_t *src, int read_width, uint8_t *dst, int out_width,
                              const int32_t *starts, const int16_t *weights, int16_t *planes, int stride) {
    (void)src; (void)read_width; (void)dst; (void)out_width; (void)starts; (void)weights;
    (void)planes; (void)stride;
    __builtin_trap();  // never selected: ccpu_has_avx2_fma() is 0 here
}

void cik_horizontal_rgb_avx2(const uint8_t *src, int read_width, uint8_t *dst, int out_width,
                             const int32_t *starts, int chunks, const int16_t *weights,
                             int16_t *planes, int stride) {
    (void)src; (void)read_width; (void)dst; (void)out_width; (void)starts; (void)chunks;
    (void)weights; (void)planes; (void)stride;
    __builtin_trap();  // never selected: ccpu_has_avx2_fma() is 0 here
}

#endif
