// PNG encoding of RGB8 pixels into a memory buffer (debug output of resized images).

#include <png.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cic_internal.h"

typedef struct {
    uint8_t *buffer;
    size_t size;
    size_t capacity;
    jmp_buf jump;
    int status;
    char message[200];
} cic_png_writer;

static void cic_png_write_error(png_structp png, png_const_charp message) {
    cic_png_writer *writer = (cic_png_writer *)png_get_error_ptr(png);
    if (writer->status == CIC_OK) {
        writer->status = CIC_ERR_CORRUPT;
    }
    snprintf(writer->message, sizeof(writer->message), "%s", message);
    longjmp(writer->jump, 1);
}

static void cic_png_write_warning(png_structp png, png_const_charp message) {
    (void)png;
    (void)message;
}

static void cic_png_write_data(png_structp png, png_bytep data, size_t length) {
    cic_png_writer *writer = (cic_png_writer *)png_get_io_ptr(png);
    if (length > SIZE_MAX - writer->size) {
        writer->status = CIC_ERR_OUT_OF_MEMORY;
        png_error(png, "PNG output too large");
    }
    if (writer->size + length > writer->capacity) {
        size_t capacity = writer->capacity < 4096 ? 4096 : writer->capacity;
        while (capacity < writer->size + length) {
            if (capacity > SIZE_MAX / 2) {
                capacity = writer->size + length;
                break;
            }
            capacity *= 2;
        }
        uint8_t *grown = realloc(writer->buffer, capacity);
        if (grown == NULL) {
            writer->status = CIC_ERR_OUT_OF_MEMORY;
            png_error(png, "out of memory for PNG output");
        }
        writer->buffer = grown;
        writer->capacity = capacity;
    }
    memcpy(writer->buffer + writer->size, data, length);
    writer->size += length;
}

static void cic_png_flush(png_structp png) { (void)png; }

int cic_png_encode_rgb8(const uint8_t *pixels, uint32_t width, uint32_t height,
                        uint8_t **out, size_t *out_size, cic_info *info) {
    cic_info_reset(info);
    if (out == NULL || out_size == NULL || pixels == NULL) {
        cic_set_message(info, "missing buffer");
        return CIC_ERR_ARGUMENT;
    }
    *out = NULL;
    *out_size = 0;
    if (width == 0 || height == 0 || width > 0x7FFFFFFFu || height > 0x7FFFFFFFu) {
        cic_set_message(info, "cannot encode a %ux%u PNG", width, height);
        return CIC_ERR_DIMENSIONS;
    }
    info->width = width;
    info->height = height;

    cic_png_writer writer;
    memset(&writer, 0, sizeof(writer));
    writer.status = CIC_OK;
    png_structp volatile png = NULL;
    png_infop volatile png_info = NULL;

    png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &writer, cic_png_write_error,
                                  cic_png_write_warning);
    if (png == NULL) {
        cic_set_message(info, "out of memory creating the PNG encoder");
        return CIC_ERR_OUT_OF_MEMORY;
    }
    if (setjmp(writer.jump)) {
        png_structp p = png;
        png_infop i = png_info;
        png_destroy_write_struct(&p, i != NULL ? &i : NULL);
        free(writer.buffer);
        cic_set_message(info, "%s", writer.message);
        return writer.status == CIC_OK ? CIC_ERR_CORRUPT : writer.status;
    }
    png_info = png_create_info_struct(png);
    if (png_info == NULL) {
        writer.status = CIC_ERR_OUT_OF_MEMORY;
        png_error(png, "out of memory creating the PNG info struct");
    }
    png_set_write_fn(png, &writer, cic_png_write_data, cic_png_flush);
    png_set_IHDR(png, png_info, width, height, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, png_info);
    const size_t stride = (size_t)width * 3;
    for (size_t y = 0; y < height; y++) {
        png_write_row(png, (png_const_bytep)(pixels + y * stride));
    }
    png_write_end(png, png_info);

    png_structp p = png;
    png_infop i = png_info;
    png_destroy_write_struct(&p, &i);
    *out = writer.buffer;
    *out_size = writer.size;
    return CIC_OK;
}

void cic_free(void *pointer) { free(pointer); }
