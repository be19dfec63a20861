// JPEG decoding through libjpeg(-turbo) from a memory buffer.
//
// Mirrors what Pillow's JpegDecode.c + JpegImagePlugin.py + Convert.c do for
// `Image.open(f).convert("RGB")`:
//   * default decompression settings (JDCT_ISLOW, fancy upsampling): never DCT scaling;
//   * libjpeg warnings ("Corrupt JPEG data: ...") are ignored, as Pillow ignores them;
//   * running out of data before the last scanline is an error (Pillow raises
//     "image file is truncated" unless LOAD_TRUNCATED_IMAGES), but a missing EOI after
//     the last scanline is accepted (Pillow stops once every line is decoded);
//   * 4-component files are always read as Adobe-inverted CMYK ("CMYK;I"), whatever
//     markers they carry; YCCK is converted to CMYK by libjpeg first.

#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

#include "cic_internal.h"

typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    int status;
    char message[JMSG_LENGTH_MAX];
} cic_jpeg_error;

typedef struct {
    struct jpeg_source_mgr pub;
    int allow_eof;  // set after the last scanline: a missing EOI is then fine
    int hit_eof;
} cic_jpeg_source;

typedef struct {
    struct jpeg_progress_mgr pub;
    int max_scans;
} cic_jpeg_progress;

static const JOCTET cic_fake_eoi[2] = {0xFF, JPEG_EOI};

static void cic_jpeg_fail(j_common_ptr cinfo, int status, const char *message) {
    cic_jpeg_error *err = (cic_jpeg_error *)cinfo->err;
    err->status = status;
    snprintf(err->message, sizeof(err->message), "%s", message);
    longjmp(err->jump, 1);
}

static void cic_jpeg_error_exit(j_common_ptr cinfo) {
    cic_jpeg_error *err = (cic_jpeg_error *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, err->message);
    if (err->status == CIC_OK) {
        switch (cinfo->err->msg_code) {
            case JERR_OUT_OF_MEMORY:
            case JERR_NO_BACKING_STORE:
            case JERR_TFILE_CREATE:
                err->status = CIC_ERR_OUT_OF_MEMORY;
                break;
            case JERR_BAD_PRECISION:
            case JERR_SOF_UNSUPPORTED:
            case JERR_CONVERSION_NOTIMPL:
            case JERR_NOT_COMPILED:
                err->status = CIC_ERR_UNSUPPORTED;
                break;
            case JERR_IMAGE_TOO_BIG:
            case JERR_EMPTY_IMAGE:
                err->status = CIC_ERR_DIMENSIONS;
                break;
            default:
                err->status = CIC_ERR_CORRUPT;
                break;
        }
    }
    longjmp(err->jump, 1);
}

// Pillow installs a no-op output_message: warnings are counted but never surface.
static void cic_jpeg_output_message(j_common_ptr cinfo) { (void)cinfo; }

static void cic_jpeg_source_init(j_decompress_ptr cinfo) { (void)cinfo; }
static void cic_jpeg_source_term(j_decompress_ptr cinfo) { (void)cinfo; }

static boolean cic_jpeg_fill_input(j_decompress_ptr cinfo) {
    cic_jpeg_source *src = (cic_jpeg_source *)cinfo->src;
    if (src->allow_eof) {
        src->pub.next_input_byte = cic_fake_eoi;
        src->pub.bytes_in_buffer = sizeof(cic_fake_eoi);
        return TRUE;
    }
    src->hit_eof = 1;
    cic_jpeg_fail((j_common_ptr)cinfo, CIC_ERR_TRUNCATED,
                  "JPEG data ended before the image did (truncated file)");
    return FALSE;
}

static void cic_jpeg_skip_input(j_decompress_ptr cinfo, long count) {
    cic_jpeg_source *src = (cic_jpeg_source *)cinfo->src;
    if (count <= 0) {
        return;
    }
    if ((unsigned long)count > src->pub.bytes_in_buffer) {
        src->pub.next_input_byte += src->pub.bytes_in_buffer;
        src->pub.bytes_in_buffer = 0;
        (void)cic_jpeg_fill_input(cinfo);
        return;
    }
    src->pub.next_input_byte += count;
    src->pub.bytes_in_buffer -= (size_t)count;
}

// Progressive files with thousands of tiny scans make every scan walk the whole
// coefficient buffer; bounding the scan count bounds the work (as djpeg -maxscans).
static void cic_jpeg_progress_monitor(j_common_ptr cinfo) {
    cic_jpeg_progress *progress = (cic_jpeg_progress *)cinfo->progress;
    if (!cinfo->is_decompressor) {
        return;
    }
    j_decompress_ptr dinfo = (j_decompress_ptr)cinfo;
    if (progress->max_scans > 0 && dinfo->input_scan_number > progress->max_scans) {
        char message[96];
        snprintf(message, sizeof(message), "JPEG has more than %d scans",
                 progress->max_scans);
        cic_jpeg_fail(cinfo, CIC_ERR_CORRUPT, message);
    }
}

static void cic_jpeg_attach_source(j_decompress_ptr cinfo, cic_jpeg_source *src,
                                   const uint8_t *data, size_t size) {
    memset(src, 0, sizeof(*src));
    src->pub.init_source = cic_jpeg_source_init;
    src->pub.fill_input_buffer = cic_jpeg_fill_input;
    src->pub.skip_input_data = cic_jpeg_skip_input;
    src->pub.resync_to_restart = jpeg_resync_to_restart;
    src->pub.term_source = cic_jpeg_source_term;
    src->pub.next_input_byte = data;
    src->pub.bytes_in_buffer = size;
    cinfo->src = &src->pub;
}

static void cic_jpeg_attach_errors(j_decompress_ptr cinfo, cic_jpeg_error *err) {
    memset(err, 0, sizeof(*err));
    cinfo->err = jpeg_std_error(&err->pub);
    err->pub.error_exit = cic_jpeg_error_exit;
    err->pub.output_message = cic_jpeg_output_message;
    err->status = CIC_OK;
}

static int cic_jpeg_check_components(j_decompress_ptr cinfo, cic_info *info) {
    int n = cinfo->num_components;
    if (n != 1 && n != 3 && n != 4) {
        cic_set_message(info, "cannot handle %d-component JPEG images", n);
        return CIC_ERR_UNSUPPORTED;
    }
    if (cinfo->image_width == 0 || cinfo->image_height == 0) {
        cic_set_message(info, "JPEG has zero width or height");
        return CIC_ERR_DIMENSIONS;
    }
    return CIC_OK;
}

int cic_jpeg_read_header(const uint8_t *data, size_t size, cic_info *info) {
    struct jpeg_decompress_struct cinfo;
    cic_jpeg_error err;
    cic_jpeg_source src;

    cic_info_reset(info);
    memset(&cinfo, 0, sizeof(cinfo));
    cic_jpeg_attach_errors(&cinfo, &err);
    if (setjmp(err.jump)) {
        cic_set_message(info, "%s", err.message);
        jpeg_destroy_decompress(&cinfo);
        return err.status == CIC_OK ? CIC_ERR_CORRUPT : err.status;
    }
    jpeg_create_decompress(&cinfo);
    cic_jpeg_attach_source(&cinfo, &src, data, size);
    (void)jpeg_read_header(&cinfo, TRUE);

    info->width = cinfo.image_width;
    info->height = cinfo.image_height;
    info->components = cinfo.num_components;
    info->detail = cinfo.progressive_mode ? 1 : 0;
    int status = cic_jpeg_check_components(&cinfo, info);
    jpeg_destroy_decompress(&cinfo);
    return status;
}

/// Pillow's "CMYK;I" unpack (every channel inverted) followed by cmyk2rgb.
static void cic_cmyk_inverted_to_rgb(const uint8_t *in, uint8_t *out, size_t width) {
    for (size_t x = 0; x < width; x++, in += 4, out += 3) {
        int nk = in[3];  // 255 - (255 - K)
        out[0] = cic_clip8(nk - cic_muldiv255(255 - in[0], nk));
        out[1] = cic_clip8(nk - cic_muldiv255(255 - in[1], nk));
        out[2] = cic_clip8(nk - cic_muldiv255(255 - in[2], nk));
    }
}

/// Expands a gray row stored at the end of its RGB row, in place, front to back:
/// the write position 3x+2 never passes the next unread byte at 2w+x+1.
static void cic_gray_expand_in_place(uint8_t *row, size_t width) {
    const uint8_t *gray = row + 2 * width;
    for (size_t x = 0; x < width; x++) {
        uint8_t v = gray[x];
        row[3 * x] = v;
        row[3 * x + 1] = v;
        row[3 * x + 2] = v;
    }
}

enum { CIC_JPEG_ROWS_PER_CALL = 16 };

int cic_jpeg_decode_rgb8(const uint8_t *data, size_t size, uint8_t *out, size_t out_size,
                         size_t max_memory, int max_scans, cic_info *info) {
    struct jpeg_decompress_struct cinfo;
    cic_jpeg_error err;
    cic_jpeg_source src;
    cic_jpeg_progress progress;
    uint8_t *volatile scratch = NULL;

    cic_info_reset(info);
    memset(&cinfo, 0, sizeof(cinfo));
    cic_jpeg_attach_errors(&cinfo, &err);
    if (setjmp(err.jump)) {
        cic_set_message(info, "%s", err.message);
        jpeg_destroy_decompress(&cinfo);
        free(scratch);
        return err.status == CIC_OK ? CIC_ERR_CORRUPT : err.status;
    }
    jpeg_create_decompress(&cinfo);
    if (max_memory > 0) {
        cinfo.mem->max_memory_to_use = (long)max_memory;
    }
    cic_jpeg_attach_source(&cinfo, &src, data, size);
    if (max_scans > 0) {
        memset(&progress, 0, sizeof(progress));
        progress.pub.progress_monitor = cic_jpeg_progress_monitor;
        progress.max_scans = max_scans;
        cinfo.progress = &progress.pub;
    }
    (void)jpeg_read_header(&cinfo, TRUE);

    info->width = cinfo.image_width;
    info->height = cinfo.image_height;
    info->components = cinfo.num_components;
    info->detail = cinfo.progressive_mode ? 1 : 0;
    int status = cic_jpeg_check_components(&cinfo, info);
    if (status != CIC_OK) {
        jpeg_destroy_decompress(&cinfo);
        return status;
    }
    const size_t width = cinfo.image_width;
    const size_t height = cinfo.image_height;
    const size_t stride = width * 3;
    if (out == NULL || out_size / 3 / width != height || out_size != stride * height) {
        cic_set_message(info, "output buffer of %zu bytes does not fit %zux%zu RGB", out_size,
                        width, height);
        jpeg_destroy_decompress(&cinfo);
        return CIC_ERR_ARGUMENT;
    }

    const int components = cinfo.num_components;
    cinfo.out_color_space =
        components == 1 ? JCS_GRAYSCALE : (components == 3 ? JCS_RGB : JCS_CMYK);
    if (components == 4) {
        scratch = malloc(width * 4 * CIC_JPEG_ROWS_PER_CALL);
        if (scratch == NULL) {
            cic_jpeg_fail((j_common_ptr)&cinfo, CIC_ERR_OUT_OF_MEMORY,
                          "out of memory for a CMYK row buffer");
        }
    }

    (void)jpeg_start_decompress(&cinfo);
    if (cinfo.output_width != width || cinfo.output_height != height ||
        cinfo.output_components != (components == 4 ? 4 : components)) {
        cic_jpeg_fail((j_common_ptr)&cinfo, CIC_ERR_CORRUPT,
                      "JPEG decoder output geometry differs from the header");
    }

    JSAMPROW rows[CIC_JPEG_ROWS_PER_CALL];
    while (cinfo.output_scanline < height) {
        const size_t y = cinfo.output_scanline;
        size_t want = height - y;
        if (want > CIC_JPEG_ROWS_PER_CALL) {
            want = CIC_JPEG_ROWS_PER_CALL;
        }
        for (size_t i = 0; i < want; i++) {
            uint8_t *row = out + (y + i) * stride;
            if (components == 3) {
                rows[i] = row;
            } else if (components == 1) {
                rows[i] = row + 2 * width;
            } else {
                rows[i] = scratch + i * width * 4;
            }
        }
        JDIMENSION got = jpeg_read_scanlines(&cinfo, rows, (JDIMENSION)want);
        if (got == 0 || got > want) {
            cic_jpeg_fail((j_common_ptr)&cinfo, CIC_ERR_CORRUPT,
                          "JPEG decoder made no progress");
        }
        for (size_t i = 0; i < got; i++) {
            uint8_t *row = out + (y + i) * stride;
            if (components == 1) {
                cic_gray_expand_in_place(row, width);
            } else if (components == 4) {
                cic_cmyk_inverted_to_rgb(scratch + i * width * 4, row, width);
            }
        }
    }

    src.allow_eof = 1;
    (void)jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    free(scratch);
    return CIC_OK;
}
