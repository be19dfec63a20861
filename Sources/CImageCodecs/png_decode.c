// PNG decoding through libpng from a memory buffer.
//
// Pillow does not use libpng to read PNG: PngImagePlugin.py walks the chunks in
// Python and inflates IDAT with its own unpackers. This file reproduces what that
// pipeline gives after `convert("RGB")`:
//   * the CRC of every chunk before the first IDAT is checked (a mismatch is an
//     error); IDAT CRCs and chunks after IDAT are not (Pillow skips them), and a
//     missing IEND is fine;
//   * no gamma, no colour management, tRNS ignored, alpha dropped without compositing;
//   * gray 1-bit -> 0/255, 2-bit -> v*85, 4-bit -> v*17 (Pillow's "1", "L;2", "L;4");
//   * 16-bit gray is Pillow mode I;16, whose conversion to RGB clips at 255;
//   * 16-bit RGB, RGBA and gray+alpha keep the high byte of each sample;
//   * palette indices past the PLTE entries map to black.
// Sample conversion is done here, from libpng's untransformed rows (only unpacking
// of sub-byte samples and de-interlacing are left to libpng).

#include <png.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cic_internal.h"

static const uint8_t cic_png_signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};

static uint32_t cic_be32(const uint8_t *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static uint32_t cic_crc_table[256];
static pthread_once_t cic_crc_once = PTHREAD_ONCE_INIT;

static void cic_crc_init(void) {
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = n;
        for (int k = 0; k < 8; k++) {
            c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        }
        cic_crc_table[n] = c;
    }
}

// Table-driven CRC-32 (PNG/zlib polynomial); the table is built once, thread-safely.
static uint32_t cic_crc32(const uint8_t *data, size_t size, uint32_t crc) {
    pthread_once(&cic_crc_once, cic_crc_init);
    crc = ~crc;
    for (size_t i = 0; i < size; i++) {
        crc = cic_crc_table[(crc ^ data[i]) & 0xFF] ^ (crc >> 8);
    }
    return ~crc;
}

static int cic_is_chunk_letter(uint8_t c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/// Pillow's supported (bit depth, colour type) pairs (PngImagePlugin._MODES).
static int cic_png_mode_supported(int depth, int color_type) {
    switch (color_type) {
        case 0:
            return depth == 1 || depth == 2 || depth == 4 || depth == 8 || depth == 16;
        case 2:
        case 4:
        case 6:
            return depth == 8 || depth == 16;
        case 3:
            return depth == 1 || depth == 2 || depth == 4 || depth == 8;
        default:
            return 0;
    }
}

/// Validates the signature and every chunk before the first IDAT (lengths, names,
/// CRCs, IHDR fields) without libpng, and reports the IHDR geometry.
static int cic_png_prescan(const uint8_t *data, size_t size, cic_info *info, int *interlaced) {
    if (size < 8 || memcmp(data, cic_png_signature, 8) != 0) {
        cic_set_message(info, "not a PNG file (bad signature)");
        return size < 8 ? CIC_ERR_TRUNCATED : CIC_ERR_CORRUPT;
    }
    size_t pos = 8;
    int seen_ihdr = 0;
    for (;;) {
        if (size - pos < 8) {
            cic_set_message(info, "PNG data ended before the first IDAT chunk (truncated file)");
            return CIC_ERR_TRUNCATED;
        }
        const uint32_t length = cic_be32(data + pos);
        const uint8_t *type = data + pos + 4;
        if (length > 0x7FFFFFFFu) {
            cic_set_message(info, "PNG chunk length %u out of range at offset %zu", length, pos);
            return CIC_ERR_CORRUPT;
        }
        if (!cic_is_chunk_letter(type[0]) || !cic_is_chunk_letter(type[1]) ||
            !cic_is_chunk_letter(type[2]) || !cic_is_chunk_letter(type[3])) {
            cic_set_message(info, "broken PNG file (invalid chunk type at offset %zu)", pos);
            return CIC_ERR_CORRUPT;
        }
        if (!seen_ihdr && memcmp(type, "IHDR", 4) != 0) {
            cic_set_message(info, "broken PNG file (first chunk is not IHDR)");
            return CIC_ERR_CORRUPT;
        }
        if (memcmp(type, "IDAT", 4) == 0) {
            return CIC_OK;
        }
        if (memcmp(type, "IEND", 4) == 0) {
            cic_set_message(info, "PNG has no image data (IEND before IDAT)");
            return CIC_ERR_CORRUPT;
        }
        if (size - pos - 8 < (size_t)length + 4) {
            cic_set_message(info, "PNG data ended inside chunk %.4s (truncated file)",
                            (const char *)type);
            return CIC_ERR_TRUNCATED;
        }
        const uint8_t *body = data + pos + 8;
        const uint32_t expected = cic_be32(body + length);
        if (cic_crc32(body, length, cic_crc32(type, 4, 0)) != expected) {
            cic_set_message(info, "broken PNG file (bad CRC in chunk %.4s)", (const char *)type);
            return CIC_ERR_CORRUPT;
        }
        if (memcmp(type, "IHDR", 4) == 0) {
            if (seen_ihdr) {
                cic_set_message(info, "broken PNG file (duplicate IHDR)");
                return CIC_ERR_CORRUPT;
            }
            if (length != 13) {
                cic_set_message(info, "broken PNG file (IHDR chunk of %u bytes)", length);
                return CIC_ERR_CORRUPT;
            }
            seen_ihdr = 1;
            const uint32_t width = cic_be32(body);
            const uint32_t height = cic_be32(body + 4);
            const int depth = body[8];
            const int color_type = body[9];
            info->width = width;
            info->height = height;
            info->components = color_type;
            info->detail = depth;
            if (width == 0 || height == 0 || width > 0x7FFFFFFFu || height > 0x7FFFFFFFu) {
                cic_set_message(info, "PNG has invalid dimensions %ux%u", width, height);
                return CIC_ERR_DIMENSIONS;
            }
            if (!cic_png_mode_supported(depth, color_type)) {
                cic_set_message(info, "PNG bit depth %d with colour type %d is not valid", depth,
                                color_type);
                return CIC_ERR_CORRUPT;
            }
            if (body[10] != 0 || body[11] != 0 || body[12] > 1) {
                cic_set_message(info, "PNG has unknown compression, filter or interlace method");
                return CIC_ERR_CORRUPT;
            }
            *interlaced = body[12];
        }
        pos += 12 + (size_t)length;
    }
}

int cic_png_read_header(const uint8_t *data, size_t size, cic_info *info) {
    int interlaced = 0;
    cic_info_reset(info);
    return cic_png_prescan(data, size, info, &interlaced);
}

typedef struct {
    const uint8_t *data;
    size_t size;
    size_t pos;
    jmp_buf jump;
    int status;
    char message[200];
} cic_png_context;

static void cic_png_error(png_structp png, png_const_charp message) {
    cic_png_context *ctx = (cic_png_context *)png_get_error_ptr(png);
    if (ctx->status == CIC_OK) {
        ctx->status = CIC_ERR_CORRUPT;
    }
    snprintf(ctx->message, sizeof(ctx->message), "%s", message);
    longjmp(ctx->jump, 1);
}

static void cic_png_warning(png_structp png, png_const_charp message) {
    (void)png;
    (void)message;
}

static void cic_png_read(png_structp png, png_bytep out, size_t length) {
    cic_png_context *ctx = (cic_png_context *)png_get_io_ptr(png);
    if (length > ctx->size - ctx->pos) {
        ctx->status = CIC_ERR_TRUNCATED;
        png_error(png, "PNG data ended before the image did (truncated file)");
    }
    memcpy(out, ctx->data + ctx->pos, length);
    ctx->pos += length;
}

/// Converts one de-interlaced, unpacked row into RGB8 the way Pillow's unpacker
/// and convert("RGB") would.
static void cic_png_row_to_rgb(const uint8_t *in, uint8_t *out, size_t width, int color_type,
                               int depth, const uint8_t *palette) {
    switch (color_type) {
        case 0: {
            if (depth == 16) {
                for (size_t x = 0; x < width; x++, in += 2, out += 3) {
                    uint8_t v = in[0] == 0 ? in[1] : 255;
                    out[0] = out[1] = out[2] = v;
                }
                return;
            }
            const int scale = depth == 1 ? 255 : (depth == 2 ? 85 : (depth == 4 ? 17 : 1));
            for (size_t x = 0; x < width; x++, out += 3) {
                int v = in[x] * scale;
                out[0] = out[1] = out[2] = (uint8_t)(v > 255 ? 255 : v);
            }
            return;
        }
        case 2:
            if (depth == 8) {
                memcpy(out, in, width * 3);
            } else {
                for (size_t x = 0; x < width; x++, in += 6, out += 3) {
                    out[0] = in[0];
                    out[1] = in[2];
                    out[2] = in[4];
                }
            }
            return;
        case 3:
            for (size_t x = 0; x < width; x++, out += 3) {
                const uint8_t *rgb = palette + 3 * in[x];
                out[0] = rgb[0];
                out[1] = rgb[1];
                out[2] = rgb[2];
            }
            return;
        case 4: {
            const size_t step = depth == 8 ? 2 : 4;
            for (size_t x = 0; x < width; x++, in += step, out += 3) {
                out[0] = out[1] = out[2] = in[0];
            }
            return;
        }
        case 6: {
            const size_t step = depth == 8 ? 4 : 8;
            const size_t channel = depth == 8 ? 1 : 2;
            for (size_t x = 0; x < width; x++, in += step, out += 3) {
                out[0] = in[0];
                out[1] = in[channel];
                out[2] = in[2 * channel];
            }
            return;
        }
        default:
            return;
    }
}

int cic_png_decode_rgb8(const uint8_t *data, size_t size, uint8_t *out, size_t out_size,
                        cic_info *info) {
    int interlaced = 0;
    cic_info_reset(info);
    int status = cic_png_prescan(data, size, info, &interlaced);
    if (status != CIC_OK) {
        return status;
    }
    const size_t width = info->width;
    const size_t height = info->height;
    const int color_type = info->components;
    const int depth = info->detail;
    if (out == NULL || out_size / 3 / width != height || out_size != width * 3 * height) {
        cic_set_message(info, "output buffer of %zu bytes does not fit %zux%zu RGB", out_size,
                        width, height);
        return CIC_ERR_ARGUMENT;
    }

    cic_png_context ctx;
    memset(&ctx, 0, sizeof(ctx));
    ctx.data = data;
    ctx.size = size;
    ctx.status = CIC_OK;

    png_structp volatile png = NULL;
    png_infop volatile png_info = NULL;
    uint8_t *volatile rows_data = NULL;
    png_bytep *volatile row_pointers = NULL;
    uint8_t palette[256 * 3];
    memset(palette, 0, sizeof(palette));

    png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &ctx, cic_png_error, cic_png_warning);
    if (png == NULL) {
        cic_set_message(info, "out of memory creating the PNG decoder");
        return CIC_ERR_OUT_OF_MEMORY;
    }
    if (setjmp(ctx.jump)) {
        png_structp p = png;
        png_infop i = png_info;
        png_destroy_read_struct(&p, i != NULL ? &i : NULL, NULL);
        free(rows_data);
        free(row_pointers);
        cic_set_message(info, "%s", ctx.message);
        return ctx.status == CIC_OK ? CIC_ERR_CORRUPT : ctx.status;
    }
    png_info = png_create_info_struct(png);
    if (png_info == NULL) {
        ctx.status = CIC_ERR_OUT_OF_MEMORY;
        png_error(png, "out of memory creating the PNG info struct");
    }
    png_set_read_fn(png, &ctx, cic_png_read);
    // CRCs were checked up to IDAT by the prescan; after that Pillow ignores them.
    png_set_crc_action(png, PNG_CRC_QUIET_USE, PNG_CRC_QUIET_USE);
    // Our own pixel limit (checked by the caller) replaces libpng's 1e6 x 1e6 default.
    png_set_user_limits(png, 0x7FFFFFFF, 0x7FFFFFFF);
#ifdef PNG_IGNORE_ADLER32
    png_set_option(png, PNG_IGNORE_ADLER32, PNG_OPTION_ON);
#endif
    // Ancillary chunks change nothing in convert("RGB"): skip them rather than
    // decompress text, ICC profiles and the like.
    static const png_byte ignored[] =
        "bKGD\0cHRM\0eXIf\0gAMA\0hIST\0iCCP\0iTXt\0oFFs\0pCAL\0pHYs\0sBIT\0sCAL\0"
        "sPLT\0sRGB\0tEXt\0tIME\0tRNS\0zTXt\0";
    png_set_keep_unknown_chunks(png, PNG_HANDLE_CHUNK_NEVER, NULL, 0);
    png_set_keep_unknown_chunks(png, PNG_HANDLE_CHUNK_NEVER, ignored,
                                (int)(sizeof(ignored) / 5));
    png_read_info(png, png_info);

    png_uint_32 w = 0, h = 0;
    int bit_depth = 0, ctype = 0, interlace = 0;
    png_get_IHDR(png, png_info, &w, &h, &bit_depth, &ctype, &interlace, NULL, NULL);
    if (w != width || h != height || bit_depth != depth || ctype != color_type) {
        png_error(png, "PNG header changed between reads");
    }
    if (color_type == 3) {
        png_colorp entries = NULL;
        int count = 0;
        if (png_get_PLTE(png, png_info, &entries, &count) != 0 && entries != NULL) {
            if (count > 256) {
                count = 256;
            }
            for (int i = 0; i < count; i++) {
                palette[3 * i] = entries[i].red;
                palette[3 * i + 1] = entries[i].green;
                palette[3 * i + 2] = entries[i].blue;
            }
        }
    }
    if (bit_depth < 8) {
        png_set_packing(png);
    }
    const int passes = png_set_interlace_handling(png);
    png_read_update_info(png, png_info);
    const size_t rowbytes = png_get_rowbytes(png, png_info);
    const size_t samples = (color_type == 0 || color_type == 3) ? 1
                         : (color_type == 4 ? 2 : (color_type == 2 ? 3 : 4));
    if (rowbytes != width * samples * (bit_depth == 16 ? 2 : 1)) {
        png_error(png, "unexpected PNG row size");
    }

    if (passes <= 1) {
        rows_data = malloc(rowbytes);
        if (rows_data == NULL) {
            ctx.status = CIC_ERR_OUT_OF_MEMORY;
            png_error(png, "out of memory for a PNG row");
        }
        for (size_t y = 0; y < height; y++) {
            png_read_row(png, rows_data, NULL);
            cic_png_row_to_rgb(rows_data, out + y * width * 3, width, color_type, bit_depth,
                               palette);
        }
    } else {
        // Adam7 needs every pass before a row is complete: hold the raw image.
        if (rowbytes != 0 && height > SIZE_MAX / rowbytes) {
            ctx.status = CIC_ERR_OUT_OF_MEMORY;
            png_error(png, "interlaced PNG too large");
        }
        rows_data = malloc(rowbytes * height);
        row_pointers = malloc(height * sizeof(png_bytep));
        if (rows_data == NULL || row_pointers == NULL) {
            ctx.status = CIC_ERR_OUT_OF_MEMORY;
            png_error(png, "out of memory for an interlaced PNG");
        }
        for (size_t y = 0; y < height; y++) {
            row_pointers[y] = rows_data + y * rowbytes;
        }
        png_read_image(png, row_pointers);
        for (size_t y = 0; y < height; y++) {
            cic_png_row_to_rgb(row_pointers[y], out + y * width * 3, width, color_type,
                               bit_depth, palette);
        }
    }

    png_structp p = png;
    png_infop i = png_info;
    png_destroy_read_struct(&p, &i, NULL);
    free(rows_data);
    free(row_pointers);
    return CIC_OK;
}
