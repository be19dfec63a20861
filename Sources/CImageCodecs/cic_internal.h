#ifndef CIC_INTERNAL_H
#define CIC_INTERNAL_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "CImageCodecs.h"

/// Clears `info` so every field has a defined value whatever path returns.
static inline void cic_info_reset(cic_info *info) {
    memset(info, 0, sizeof(*info));
}

/// Formats a diagnostic into `info->message` (always NUL-terminated).
static inline void cic_set_message(cic_info *info, const char *format, ...) {
    va_list args;
    va_start(args, format);
    vsnprintf(info->message, sizeof(info->message), format, args);
    va_end(args);
}

/// Pillow's MULDIV255: like (a * b + 127) / 255 but with its exact rounding.
static inline int cic_muldiv255(int a, int b) {
    int tmp = a * b + 128;
    return ((tmp >> 8) + tmp) >> 8;
}

static inline uint8_t cic_clip8(int v) {
    return (uint8_t)(v <= 0 ? 0 : (v < 256 ? v : 255));
}

#endif
