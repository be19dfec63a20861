#ifndef C_IMAGE_CODECS_H
#define C_IMAGE_CODECS_H

// Shims over libjpeg(-turbo) and libpng. Both libraries report fatal errors with
// setjmp/longjmp; every function here establishes its own setjmp point and turns a
// library error into a status code plus message, so a longjmp never crosses a Swift
// frame. All reads are bounded by the (data, size) buffer the caller passes.

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Status codes returned by every function.
typedef enum {
    CIC_OK = 0,
    CIC_ERR_CORRUPT = 1,        ///< the library rejected the data (message says why)
    CIC_ERR_TRUNCATED = 2,      ///< the data ended before the image did
    CIC_ERR_UNSUPPORTED = 3,    ///< valid container, but a variant we do not decode
    CIC_ERR_DIMENSIONS = 4,     ///< zero or absurd width/height
    CIC_ERR_OUT_OF_MEMORY = 5,  ///< allocation failed or memory limit reached
    CIC_ERR_ARGUMENT = 6,       ///< caller passed a buffer that does not fit the image
} cic_status;

/// Results and diagnostics. `message` is always NUL-terminated.
typedef struct {
    uint32_t width;
    uint32_t height;
    /// JPEG: number of components (1, 3, 4). PNG: colour type (0, 2, 3, 4, 6).
    int32_t components;
    /// JPEG: 1 if progressive. PNG: bit depth.
    int32_t detail;
    char message[256];
} cic_info;

/// Reads a JPEG header (markers up to the first scan) and fills width/height/components.
int cic_jpeg_read_header(const uint8_t *data, size_t size, cic_info *info);

/// Decodes a JPEG into `out` as RGB8 (row-major, width*height*3 bytes, which must
/// equal `out_size`), with Pillow's `convert("RGB")` semantics: grayscale replicated,
/// CMYK/YCCK treated as Adobe-inverted and converted with Pillow's formula.
/// `max_memory` bounds libjpeg's working memory (0 = library default).
int cic_jpeg_decode_rgb8(const uint8_t *data, size_t size, uint8_t *out, size_t out_size,
                         size_t max_memory, int max_scans, cic_info *info);

/// Row-at-a-time JPEG decoding, for callers that consume rows as they come (the
/// preprocessor resizes while decoding and never holds the full image). Usage:
/// open (reads the header) → check limits → start → read until every row is out →
/// finish → close. Any error is sticky: later calls return it again; always close.
typedef struct cic_jpeg_stream cic_jpeg_stream;

/// Reads the header. `*stream` is set even on failure and must be closed.
int cic_jpeg_stream_open(const uint8_t *data, size_t size, size_t max_memory, int max_scans,
                         cic_jpeg_stream **stream, cic_info *info);

/// Starts decompression (allocates libjpeg's buffers; progressive files are decoded
/// in full here).
int cic_jpeg_stream_start(cic_jpeg_stream *stream, cic_info *info);

/// Decodes up to `max_rows` (at most 16) RGB8 rows into `out` (`width * 3` bytes per
/// row, `out_size` bytes in all); `*rows_read` says how many.
int cic_jpeg_stream_read(cic_jpeg_stream *stream, uint8_t *out, size_t out_size, uint32_t max_rows,
                         uint32_t *rows_read, cic_info *info);

/// After the last row: reads on to EOI as Pillow does.
int cic_jpeg_stream_finish(cic_jpeg_stream *stream, cic_info *info);

/// Releases everything; NULL is fine.
void cic_jpeg_stream_close(cic_jpeg_stream *stream);

/// Walks the PNG chunks up to the first IDAT the way Pillow does (CRC of every chunk
/// before IDAT is checked) and fills width/height/components(colour type)/detail(depth).
int cic_png_read_header(const uint8_t *data, size_t size, cic_info *info);

/// Decodes a PNG into `out` as RGB8 with Pillow's `convert("RGB")` semantics
/// (alpha dropped, 16-bit RGB(A) keeps the high byte, 16-bit gray clips at 255,
/// palette indices outside PLTE are black, tRNS ignored, no gamma).
int cic_png_decode_rgb8(const uint8_t *data, size_t size, uint8_t *out, size_t out_size,
                        cic_info *info);

/// Encodes RGB8 pixels as a PNG in a malloc'd buffer (`*out`, `*out_size`); free it
/// with `cic_free`. Used for debugging output only.
int cic_png_encode_rgb8(const uint8_t *pixels, uint32_t width, uint32_t height,
                        uint8_t **out, size_t *out_size, cic_info *info);

/// Frees a buffer returned by `cic_png_encode_rgb8`.
void cic_free(void *pointer);

#ifdef __cplusplus
}
#endif

#endif
