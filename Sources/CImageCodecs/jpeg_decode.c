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
        info->width = cinfo.image_width;
        info->height = cinfo.image_height;
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

struct cic_jpeg_stream {
    struct jpeg_decompress_struct cinfo;
    cic_jpeg_error err;
    cic_jpeg_source src;
    cic_jpeg_progress progress;
    uint8_t *scratch;       // CMYK rows before conversion
    int created;            // jpeg_create_decompress ran
    int started;            // jpeg_start_decompress ran
    int failed_status;      // sticky: after a longjmp only close is allowed
    char failed_message[JMSG_LENGTH_MAX];
};

static void cic_jpeg_stream_fill_info(cic_jpeg_stream *stream, cic_info *info) {
    info->width = stream->cinfo.image_width;
    info->height = stream->cinfo.image_height;
    info->components = stream->cinfo.num_components;
    info->detail = stream->cinfo.progressive_mode ? 1 : 0;
}

/// Records a failure (the libjpeg state is unusable after a longjmp) and reports it,
/// with whatever geometry the header had given by then.
static int cic_jpeg_stream_failed(cic_jpeg_stream *stream, cic_info *info) {
    cic_jpeg_stream_fill_info(stream, info);
    if (stream->failed_status == CIC_OK) {
        stream->failed_status = stream->err.status == CIC_OK ? CIC_ERR_CORRUPT : stream->err.status;
        snprintf(stream->failed_message, sizeof(stream->failed_message), "%s", stream->err.message);
    }
    cic_set_message(info, "%s", stream->failed_message);
    return stream->failed_status;
}

int cic_jpeg_stream_open(const uint8_t *data, size_t size, size_t max_memory, int max_scans,
                         cic_jpeg_stream **out, cic_info *info) {
    cic_info_reset(info);
    if (out == NULL) {
        cic_set_message(info, "missing stream pointer");
        return CIC_ERR_ARGUMENT;
    }
    *out = NULL;
    cic_jpeg_stream *stream = calloc(1, sizeof(*stream));
    if (stream == NULL) {
        cic_set_message(info, "out of memory for the JPEG decoder");
        return CIC_ERR_OUT_OF_MEMORY;
    }
    *out = stream;
    cic_jpeg_attach_errors(&stream->cinfo, &stream->err);
    if (setjmp(stream->err.jump)) {
        return cic_jpeg_stream_failed(stream, info);
    }
    stream->created = 1;  // destroy is safe on a partly created (zeroed) struct
    jpeg_create_decompress(&stream->cinfo);
    if (max_memory > 0) {
        stream->cinfo.mem->max_memory_to_use = (long)max_memory;
    }
    cic_jpeg_attach_source(&stream->cinfo, &stream->src, data, size);
    if (max_scans > 0) {
        stream->progress.pub.progress_monitor = cic_jpeg_progress_monitor;
        stream->progress.max_scans = max_scans;
        stream->cinfo.progress = &stream->progress.pub;
    }
    (void)jpeg_read_header(&stream->cinfo, TRUE);
    cic_jpeg_stream_fill_info(stream, info);
    int status = cic_jpeg_check_components(&stream->cinfo, info);
    if (status != CIC_OK) {
        stream->failed_status = status;
        snprintf(stream->failed_message, sizeof(stream->failed_message), "%s", info->message);
    }
    return status;
}

int cic_jpeg_stream_start(cic_jpeg_stream *stream, cic_info *info) {
    cic_info_reset(info);
    if (stream == NULL || stream->started) {
        cic_set_message(info, "JPEG stream not open or already started");
        return CIC_ERR_ARGUMENT;
    }
    if (stream->failed_status != CIC_OK) {
        return cic_jpeg_stream_failed(stream, info);
    }
    cic_jpeg_stream_fill_info(stream, info);
    if (setjmp(stream->err.jump)) {
        return cic_jpeg_stream_failed(stream, info);
    }
    j_decompress_ptr cinfo = &stream->cinfo;
    const int components = cinfo->num_components;
    cinfo->out_color_space =
        components == 1 ? JCS_GRAYSCALE : (components == 3 ? JCS_RGB : JCS_CMYK);
    if (components == 4) {
        stream->scratch = malloc((size_t)cinfo->image_width * 4 * CIC_JPEG_ROWS_PER_CALL);
        if (stream->scratch == NULL) {
            cic_jpeg_fail((j_common_ptr)cinfo, CIC_ERR_OUT_OF_MEMORY, "out of memory for a CMYK row buffer");
        }
    }
    (void)jpeg_start_decompress(cinfo);
    stream->started = 1;
    if (cinfo->output_width != cinfo->image_width || cinfo->output_height != cinfo->image_height ||
        cinfo->output_components != components) {
        cic_jpeg_fail((j_common_ptr)cinfo, CIC_ERR_CORRUPT,
                      "JPEG decoder output geometry differs from the header");
    }
    return CIC_OK;
}

int cic_jpeg_stream_read(cic_jpeg_stream *stream, uint8_t *out, size_t out_size, uint32_t max_rows,
                         uint32_t *rows_read, cic_info *info) {
    cic_info_reset(info);
    if (rows_read != NULL) {
        *rows_read = 0;
    }
    if (stream == NULL || !stream->started || rows_read == NULL || out == NULL) {
        cic_set_message(info, "JPEG stream not started");
        return CIC_ERR_ARGUMENT;
    }
    if (stream->failed_status != CIC_OK) {
        return cic_jpeg_stream_failed(stream, info);
    }
    cic_jpeg_stream_fill_info(stream, info);
    j_decompress_ptr cinfo = &stream->cinfo;
    const size_t width = cinfo->image_width;
    const size_t stride = width * 3;
    size_t want = cinfo->image_height - cinfo->output_scanline;
    if (want > max_rows) {
        want = max_rows;
    }
    if (want > CIC_JPEG_ROWS_PER_CALL) {
        want = CIC_JPEG_ROWS_PER_CALL;
    }
    if (want == 0) {
        return CIC_OK;
    }
    if (out_size / stride < want) {
        cic_set_message(info, "row buffer of %zu bytes is too small", out_size);
        return CIC_ERR_ARGUMENT;
    }
    if (setjmp(stream->err.jump)) {
        return cic_jpeg_stream_failed(stream, info);
    }
    const int components = cinfo->num_components;
    JSAMPROW rows[CIC_JPEG_ROWS_PER_CALL];
    for (size_t i = 0; i < want; i++) {
        uint8_t *row = out + i * stride;
        rows[i] = components == 3 ? row
                : components == 1 ? row + 2 * width
                                  : stream->scratch + i * width * 4;
    }
    JDIMENSION got = jpeg_read_scanlines(cinfo, rows, (JDIMENSION)want);
    if (got == 0 || got > want) {
        cic_jpeg_fail((j_common_ptr)cinfo, CIC_ERR_CORRUPT, "JPEG decoder made no progress");
    }
    for (size_t i = 0; i < got; i++) {
        uint8_t *row = out + i * stride;
        if (components == 1) {
            cic_gray_expand_in_place(row, width);
        } else if (components == 4) {
            cic_cmyk_inverted_to_rgb(stream->scratch + i * width * 4, row, width);
        }
    }
    *rows_read = got;
    return CIC_OK;
}

int cic_jpeg_stream_finish(cic_jpeg_stream *stream, cic_info *info) {
    cic_info_reset(info);
    if (stream == NULL || !stream->started) {
        cic_set_message(info, "JPEG stream not started");
        return CIC_ERR_ARGUMENT;
    }
    if (stream->failed_status != CIC_OK) {
        return cic_jpeg_stream_failed(stream, info);
    }
    cic_jpeg_stream_fill_info(stream, info);
    if (stream->cinfo.output_scanline < stream->cinfo.output_height) {
        cic_set_message(info, "JPEG stream finished before its last row");
        return CIC_ERR_ARGUMENT;
    }
    if (setjmp(stream->err.jump)) {
        return cic_jpeg_stream_failed(stream, info);
    }
    // Like Pillow: after the last scanline, read on to EOI; a missing EOI is fine.
    stream->src.allow_eof = 1;
    (void)jpeg_finish_decompress(&stream->cinfo);
    return CIC_OK;
}

void cic_jpeg_stream_close(cic_jpeg_stream *stream) {
    if (stream == NULL) {
        return;
    }
    if (stream->created) {
        jpeg_destroy_decompress(&stream->cinfo);
    }
    free(stream->scratch);
    free(stream);
}

int cic_jpeg_decode_rgb8(const uint8_t *data, size_t size, uint8_t *out, size_t out_size,
                         size_t max_memory, int max_scans, cic_info *info) {
    cic_jpeg_stream *stream = NULL;
    int status = cic_jpeg_stream_open(data, size, max_memory, max_scans, &stream, info);
    if (status == CIC_OK) {
        const size_t width = info->width;
        const size_t height = info->height;
        if (out == NULL || out_size / 3 / width != height || out_size != width * 3 * height) {
            cic_set_message(info, "output buffer of %zu bytes does not fit %zux%zu RGB", out_size,
                            width, height);
            status = CIC_ERR_ARGUMENT;
        }
    }
    if (status == CIC_OK) {
        status = cic_jpeg_stream_start(stream, info);
    }
    size_t y = 0;
    while (status == CIC_OK && y < info->height) {
        const size_t stride = (size_t)info->width * 3;
        uint32_t got = 0;
        status = cic_jpeg_stream_read(stream, out + y * stride, out_size - y * stride,
                                      CIC_JPEG_ROWS_PER_CALL, &got, info);
        y += got;
    }
    if (status == CIC_OK) {
        status = cic_jpeg_stream_finish(stream, info);
    }
    cic_jpeg_stream_close(stream);
    return status;
}
