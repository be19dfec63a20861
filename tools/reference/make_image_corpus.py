#!/usr/bin/env python3
"""Writes the committed image corpus under Tests/Fixtures/images/.

good/  JPEG and PNG files covering every mode the decoder must handle, written by
       Pillow where Pillow can write them, by a small PNG writer below for the PNG
       variants Pillow cannot produce (2/4-bit gray, 16-bit colour, Adam7, palette
       indices past PLTE), and by a tiny libjpeg program (compiled on the fly with cc)
       for the JPEG variants Pillow cannot produce (YCCK, CMYK without an Adobe
       marker, 4:4:0 and 4:1:1 subsampling, arithmetic coding).
bad/   files every decoder must refuse with a typed error: truncated, corrupt,
       empty, other formats, wrong magic and decompression bombs.

Deterministic: fixed seeds, fixed encoder settings. Run from the repository root:
    python3 tools/reference/make_image_corpus.py
then regenerate the goldens with tools/reference/image_goldens.py.
"""

from __future__ import annotations

import io
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "Tests" / "Fixtures" / "images"
GOOD = OUT / "good"
BAD = OUT / "bad"


# --------------------------------------------------------------------------- pixels

def scene(width: int, height: int, seed: int, noise: float = 3.0) -> np.ndarray:
    """A photo-like RGB8 picture: smooth colour fields, a few hard-edged shapes and a
    little noise, so resampling sees both edges and gradients yet files stay small."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    img = np.zeros((height, width, 3))
    for c in range(3):
        for _ in range(3):
            fx, fy = rng.uniform(0.002, 0.04, 2)
            img[..., c] += rng.uniform(20, 45) * np.sin(x * fx + y * fy + rng.uniform(0, 6.3))
    img += 128
    for _ in range(4):
        cx, cy = rng.uniform(0, width), rng.uniform(0, height)
        r = rng.uniform(0.05, 0.3) * max(width, height)
        mask = (x - cx) ** 2 + (y - cy) ** 2 < r * r
        img[mask] = img[mask] * 0.3 + rng.uniform(0, 255, 3) * 0.7
    img += rng.normal(0, noise, img.shape)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def gray(width: int, height: int, seed: int) -> np.ndarray:
    rgb = scene(width, height, seed).astype(np.uint32)
    return ((rgb[..., 0] * 299 + rgb[..., 1] * 587 + rgb[..., 2] * 114) // 1000).astype(np.uint8)


# --------------------------------------------------------------------------- PNG writer

def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def pack_rows(samples: np.ndarray, depth: int) -> list[bytes]:
    """samples: (h, w, channels) integer array -> raw scanlines (no filter byte)."""
    h, w, ch = samples.shape
    rows = []
    for r in range(h):
        line = samples[r].reshape(-1)
        if depth == 16:
            rows.append(line.astype(">u2").tobytes())
        elif depth == 8:
            rows.append(line.astype(np.uint8).tobytes())
        else:
            per = 8 // depth
            padded = np.zeros(((len(line) + per - 1) // per) * per, np.uint8)
            padded[: len(line)] = line
            packed = np.zeros(len(padded) // per, np.uint8)
            for i in range(per):
                packed |= (padded[i::per] << (8 - depth * (i + 1))).astype(np.uint8)
            rows.append(packed.tobytes())
    return rows


def write_png(path: Path, samples: np.ndarray, depth: int, color_type: int, *,
              palette: bytes | None = None, trns: bytes | None = None,
              interlace: bool = False, extra_chunks: list[tuple[bytes, bytes]] = ()) -> None:
    """Minimal PNG encoder (filter 0 on every row) for variants Pillow cannot write."""
    if samples.ndim == 2:
        samples = samples[..., None]
    h, w, _ = samples.shape
    raw = b""
    if interlace:
        for x0, y0, dx, dy in ADAM7:
            sub = samples[y0::dy, x0::dx]
            if sub.shape[0] == 0 or sub.shape[1] == 0:
                continue
            raw += b"".join(b"\x00" + row for row in pack_rows(sub, depth))
    else:
        raw = b"".join(b"\x00" + row for row in pack_rows(samples, depth))
    data = b"\x89PNG\r\n\x1a\n"
    data += chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, color_type, 0, 0, 1 if interlace else 0))
    for kind, body in extra_chunks:
        data += chunk(kind, body)
    if palette is not None:
        data += chunk(b"PLTE", palette)
    if trns is not None:
        data += chunk(b"tRNS", trns)
    data += chunk(b"IDAT", zlib.compress(raw, 9))
    data += chunk(b"IEND", b"")
    path.write_bytes(data)


# --------------------------------------------------------------------------- libjpeg helper

JPEG_HELPER = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>
/* usage: helper MODE WIDTH HEIGHT IN.raw OUT.jpg
   MODE: ycck | cmyk-noadobe | h1v2 | h4v1 | arith ; IN is CMYK (4 B/px) or RGB (3 B/px) */
int main(int argc, char **argv) {
    if (argc != 6) return 2;
    const char *mode = argv[1];
    int w = atoi(argv[2]), h = atoi(argv[3]);
    int cmyk = !strcmp(mode, "ycck") || !strcmp(mode, "cmyk-noadobe");
    int comps = cmyk ? 4 : 3;
    FILE *in = fopen(argv[4], "rb"); if (!in) return 3;
    unsigned char *px = malloc((size_t)w * h * comps);
    if (fread(px, 1, (size_t)w * h * comps, in) != (size_t)w * h * comps) return 4;
    fclose(in);
    struct jpeg_compress_struct c; struct jpeg_error_mgr e;
    c.err = jpeg_std_error(&e); jpeg_create_compress(&c);
    FILE *out = fopen(argv[5], "wb"); if (!out) return 5;
    jpeg_stdio_dest(&c, out);
    c.image_width = w; c.image_height = h; c.input_components = comps;
    c.in_color_space = cmyk ? JCS_CMYK : JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 90, TRUE);
    if (!strcmp(mode, "ycck")) jpeg_set_colorspace(&c, JCS_YCCK);
    if (!strcmp(mode, "cmyk-noadobe")) { jpeg_set_colorspace(&c, JCS_CMYK); c.write_Adobe_marker = FALSE; }
    if (!strcmp(mode, "h1v2")) { c.comp_info[0].h_samp_factor = 1; c.comp_info[0].v_samp_factor = 2; }
    if (!strcmp(mode, "h4v1")) { c.comp_info[0].h_samp_factor = 4; c.comp_info[0].v_samp_factor = 1; }
    if (!strcmp(mode, "arith")) c.arith_code = TRUE;
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = px + (size_t)c.next_scanline * w * comps;
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c); jpeg_destroy_compress(&c); fclose(out); free(px);
    return 0;
}
"""


class JpegHelper:
    def __init__(self, workdir: Path):
        self.workdir = workdir
        src = workdir / "helper.c"
        src.write_text(JPEG_HELPER)
        self.binary = workdir / "helper"
        subprocess.run(["cc", "-O1", "-o", str(self.binary), str(src), "-ljpeg"], check=True)

    def write(self, mode: str, pixels: np.ndarray, path: Path) -> None:
        raw = self.workdir / "in.raw"
        raw.write_bytes(np.ascontiguousarray(pixels).tobytes())
        h, w = pixels.shape[:2]
        subprocess.run([str(self.binary), mode, str(w), str(h), str(raw), str(path)], check=True)


# --------------------------------------------------------------------------- corpus

def make_good(helper: JpegHelper) -> None:
    GOOD.mkdir(parents=True, exist_ok=True)
    rgb = scene(225, 223, 1)
    Image.fromarray(rgb).save(GOOD / "jpeg_rgb_420_225x223.jpg", quality=90)
    Image.fromarray(scene(300, 200, 2)).save(GOOD / "jpeg_rgb_444_300x200.jpg", quality=95, subsampling=0)
    Image.fromarray(scene(161, 97, 3)).save(GOOD / "jpeg_rgb_422_161x97.jpg", quality=85, subsampling=1)
    Image.fromarray(scene(640, 480, 4)).save(GOOD / "jpeg_rgb_420_640x480.jpg", quality=80)
    Image.fromarray(scene(320, 240, 5)).save(GOOD / "jpeg_progressive_320x240.jpg", quality=90, progressive=True)
    Image.fromarray(scene(200, 150, 6)).save(GOOD / "jpeg_restart_rows_200x150.jpg", quality=90, restart_marker_rows=1)
    Image.fromarray(scene(97, 61, 7)).save(GOOD / "jpeg_restart_blocks_97x61.jpg", quality=90, restart_marker_blocks=3)
    Image.fromarray(gray(250, 190, 8)).save(GOOD / "jpeg_gray_250x190.jpg", quality=90)
    Image.fromarray(gray(123, 77, 9)).save(GOOD / "jpeg_gray_progressive_123x77.jpg", quality=90, progressive=True)
    cmyk = Image.fromarray(scene(180, 140, 10)).convert("CMYK")
    cmyk.save(GOOD / "jpeg_cmyk_adobe_180x140.jpg", quality=90)
    Image.fromarray(scene(130, 90, 11)).save(GOOD / "jpeg_rgb_adobe_keep_rgb_130x90.jpg", quality=90, keep_rgb=True)
    Image.fromarray(scene(1, 1, 12)).save(GOOD / "jpeg_rgb_1x1.jpg", quality=90)
    Image.fromarray(scene(4000, 1, 13)).save(GOOD / "jpeg_rgb_4000x1.jpg", quality=90)
    Image.fromarray(scene(1, 4000, 14)).save(GOOD / "jpeg_rgb_1x4000.jpg", quality=90)
    Image.fromarray(scene(17, 9, 15)).save(GOOD / "jpeg_rgb_optimized_17x9.jpg", quality=70, optimize=True)
    # Variants Pillow cannot write.
    cmyk_px = np.array(Image.fromarray(scene(150, 110, 16)).convert("CMYK"))
    helper.write("ycck", cmyk_px, GOOD / "jpeg_ycck_150x110.jpg")
    helper.write("cmyk-noadobe", np.array(Image.fromarray(scene(70, 50, 17)).convert("CMYK")),
                 GOOD / "jpeg_cmyk_no_adobe_70x50.jpg")
    helper.write("h1v2", scene(141, 99, 18), GOOD / "jpeg_rgb_440_141x99.jpg")
    helper.write("h4v1", scene(133, 71, 19), GOOD / "jpeg_rgb_411_133x71.jpg")
    helper.write("arith", scene(90, 66, 20), GOOD / "jpeg_arithmetic_90x66.jpg")

    # PNG written by Pillow (adaptive filters).
    Image.fromarray(scene(225, 223, 21)).save(GOOD / "png_rgb_225x223.png")
    rgba = np.dstack([scene(190, 130, 22), (np.arange(190 * 130).reshape(130, 190) % 256).astype(np.uint8)])
    Image.fromarray(rgba, "RGBA").save(GOOD / "png_rgba_190x130.png")
    Image.fromarray(gray(211, 157, 23)).save(GOOD / "png_gray8_211x157.png")
    la = np.dstack([gray(100, 80, 24), np.full((80, 100), 77, np.uint8)])
    Image.fromarray(la, "LA").save(GOOD / "png_gray_alpha8_100x80.png")
    Image.fromarray(gray(203, 99, 25) > 128).save(GOOD / "png_gray1_203x99.png")
    pal = Image.fromarray(scene(160, 120, 26)).quantize(colors=200)
    pal.save(GOOD / "png_palette8_160x120.png")
    pal_t = Image.fromarray(scene(120, 100, 27)).quantize(colors=64)
    pal_t.info["transparency"] = 5
    pal_t.save(GOOD / "png_palette8_trns_120x100.png", transparency=5)
    Image.fromarray(scene(2000, 1, 28)).save(GOOD / "png_rgb_2000x1.png")
    Image.fromarray(scene(1, 1, 29)).save(GOOD / "png_rgb_1x1.png")
    g16 = (gray(64, 48, 30).astype(np.uint16) * 257)
    g16[::3, ::5] = np.arange(0, 256, dtype=np.uint16)[: g16[::3, ::5].size].reshape(g16[::3, ::5].shape)
    Image.fromarray(g16).save(GOOD / "png_gray16_pillow_64x48.png")

    # PNG variants written by the minimal writer above.
    rng = np.random.default_rng(40)
    g = gray(77, 55, 31)
    write_png(GOOD / "png_gray2_77x55.png", g >> 6, 2, 0)
    write_png(GOOD / "png_gray4_77x55.png", g >> 4, 4, 0)
    write_png(GOOD / "png_gray1_interlaced_45x33.png", (gray(45, 33, 32) > 100).astype(np.uint8), 1, 0, interlace=True)
    g16b = rng.integers(0, 65536, (40, 52), dtype=np.uint32)
    g16b[::2] = rng.integers(0, 256, (20, 52))  # half the rows in 0..255: low byte shows through
    write_png(GOOD / "png_gray16_52x40.png", g16b, 16, 0)
    write_png(GOOD / "png_gray16_trns_30x20.png", rng.integers(0, 700, (20, 30)), 16, 0, trns=struct.pack(">H", 300))
    c16 = scene(96, 72, 33).astype(np.uint32) * 257 + rng.integers(0, 257, (72, 96, 3))
    write_png(GOOD / "png_rgb16_96x72.png", c16, 16, 2)
    write_png(GOOD / "png_rgb16_interlaced_37x29.png", scene(37, 29, 34).astype(np.uint32) * 256 + 99, 16, 2, interlace=True)
    a16 = np.dstack([scene(64, 40, 35).astype(np.uint32) * 257, rng.integers(0, 65536, (40, 64, 1))])
    write_png(GOOD / "png_rgba16_64x40.png", a16, 16, 6)
    la16 = np.dstack([gray(50, 30, 36).astype(np.uint32) * 256 + 255, rng.integers(0, 65536, (30, 50, 1))])
    write_png(GOOD / "png_gray_alpha16_50x30.png", la16, 16, 4)
    write_png(GOOD / "png_rgb_trns_40x30.png", scene(40, 30, 37), 8, 2, trns=struct.pack(">HHH", 10, 20, 30))
    write_png(GOOD / "png_rgba_interlaced_225x223.png",
              np.dstack([scene(225, 223, 38), gray(225, 223, 44)]), 8, 6, interlace=True)
    write_png(GOOD / "png_gray_alpha8_interlaced_9x7.png", np.dstack([gray(9, 7, 39), gray(9, 7, 40)]), 8, 4, interlace=True)
    palette16 = rng.integers(0, 256, 16 * 3, dtype=np.uint8).tobytes()
    write_png(GOOD / "png_palette4_90x70.png", rng.integers(0, 16, (70, 90)), 4, 3, palette=palette16)
    write_png(GOOD / "png_palette2_trns_33x21.png", rng.integers(0, 4, (21, 33)), 2, 3,
              palette=palette16[:12], trns=bytes([0, 128]))
    write_png(GOOD / "png_palette1_interlaced_31x17.png", rng.integers(0, 2, (17, 31)), 1, 3,
              palette=bytes([200, 10, 30, 5, 90, 250]), interlace=True)
    # Indices 4..255 have no PLTE entry: Pillow shows them black.
    write_png(GOOD / "png_palette8_short_plte_24x16.png", rng.integers(0, 256, (16, 24)), 8, 3,
              palette=palette16[:12])
    # Ancillary chunks (gAMA, iCCP-free text) must not change pixels.
    write_png(GOOD / "png_rgb_gamma_text_20x14.png", scene(20, 14, 41), 8, 2,
              extra_chunks=[(b"gAMA", struct.pack(">I", 100000)), (b"tEXt", b"Comment\x00corpus"),
                            (b"sRGB", b"\x00")])
    write_png(GOOD / "png_rgb_4000x1.png", scene(4000, 1, 42), 8, 2)
    write_png(GOOD / "png_gray8_1x4000.png", gray(1, 4000, 43), 8, 0)


def jpeg_header(width: int, height: int, components: int = 3) -> bytes:
    """SOI + a minimal baseline SOF0 declaring the given size (no tables, no scan)."""
    sof = bytes([8]) + struct.pack(">HH", height, width) + bytes([components])
    for i in range(components):
        sof += bytes([i + 1, 0x11, 0])
    return b"\xff\xd8" + b"\xff\xc0" + struct.pack(">H", len(sof) + 2) + sof


def make_bad() -> None:
    BAD.mkdir(parents=True, exist_ok=True)
    (BAD / "empty.jpg").write_bytes(b"")
    jpeg = (GOOD / "jpeg_rgb_420_225x223.jpg").read_bytes()
    (BAD / "truncated_half.jpg").write_bytes(jpeg[: len(jpeg) // 2])
    (BAD / "truncated_header.jpg").write_bytes(jpeg[:100])
    (BAD / "truncated_soi_only.jpg").write_bytes(jpeg[:3])
    prog = (GOOD / "jpeg_progressive_320x240.jpg").read_bytes()
    (BAD / "truncated_progressive.jpg").write_bytes(prog[: len(prog) * 2 // 3])
    png = (GOOD / "png_rgb_225x223.png").read_bytes()
    (BAD / "truncated_idat.png").write_bytes(png[: len(png) // 2])
    (BAD / "truncated_ihdr.png").write_bytes(png[:20])
    (BAD / "truncated_signature.png").write_bytes(png[:5])
    # A flipped byte inside IHDR: its CRC no longer matches.
    broken = bytearray(png)
    broken[20] ^= 0x01
    (BAD / "bad_crc_ihdr.png").write_bytes(bytes(broken))
    # Valid chunk structure, but the IDAT payload is not a zlib stream.
    raw = np.zeros((20, 30, 3), np.uint8)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 30, 20, 8, 2, 0, 0, 0))
    data += chunk(b"IDAT", bytes(range(7, 250))) + chunk(b"IEND", b"")
    (BAD / "corrupt_idat.png").write_bytes(data)
    # Too little image data: zlib stream ends after half the rows.
    half = b"".join(b"\x00" + bytes(90) for _ in range(10))
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 30, 20, 8, 2, 0, 0, 0))
    data += chunk(b"IDAT", zlib.compress(half)) + chunk(b"IEND", b"")
    (BAD / "short_idat.png").write_bytes(data)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 30, 20, 8, 5, 0, 0, 0))
    data += chunk(b"IDAT", zlib.compress(raw.tobytes())) + chunk(b"IEND", b"")
    (BAD / "bad_color_type.png").write_bytes(data)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 0, 20, 8, 2, 0, 0, 0))
    data += chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")
    (BAD / "zero_width.png").write_bytes(data)
    # JPEG whose entropy-coded data is garbage from the first byte of the scan.
    sos = jpeg.index(b"\xff\xda")
    scan_start = sos + 2 + struct.unpack(">H", jpeg[sos + 2: sos + 4])[0]
    garbage = bytearray(jpeg)
    for i in range(scan_start, len(garbage) - 2):
        garbage[i] = 0xFF if i % 2 == 0 else 0x01 + (i % 7)
    (BAD / "corrupt_markers_in_scan.jpg").write_bytes(bytes(garbage))
    # A JPEG with tables and a frame but an EOI instead of a scan.
    (BAD / "no_scan.jpg").write_bytes(jpeg[:sos] + b"\xff\xd9")
    # Frame declaring zero lines (DNL), which neither libjpeg nor Pillow handle.
    (BAD / "zero_height.jpg").write_bytes(jpeg_header(64, 0) + b"\xff\xd9")
    # Wider than libjpeg's 65500-pixel maximum (and under our pixel limit).
    (BAD / "too_wide_65535.jpg").write_bytes(jpeg[:jpeg.index(b"\xff\xc0")] + jpeg_header(65535, 1)[2:]
                                             + jpeg[jpeg.index(b"\xff\xc4"):])
    (BAD / "two_components.jpg").write_bytes(jpeg[:jpeg.index(b"\xff\xc0")] + jpeg_header(16, 16, 2)[2:] + b"\xff\xd9")
    # Other formats Pillow can write.
    sample = Image.fromarray(scene(40, 30, 50))
    sample.save(BAD / "format.gif")
    sample.save(BAD / "format.bmp")
    sample.save(BAD / "format.webp", quality=60)
    sample.save(BAD / "format.tiff")
    # HEIC container header (ftyp box with brand heic) and nothing else.
    (BAD / "format.heic").write_bytes(struct.pack(">I", 24) + b"ftypheic" + struct.pack(">I", 0) + b"mif1heic")
    (BAD / "wrong_magic.jpg").write_bytes(b"this is not an image, it is a text file\n" * 4)
    (BAD / "html_error_page.png").write_bytes(b"<!DOCTYPE html><html><body>404</body></html>\n")
    # Decompression bombs: tiny files whose headers declare huge images.
    bomb = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 60000, 60000, 8, 2, 0, 0, 0))
    bomb += chunk(b"IDAT", zlib.compress(b"\x00" * 4096)) + chunk(b"IEND", b"")
    (BAD / "bomb_60000x60000.png").write_bytes(bomb)
    (BAD / "bomb_60000x60000.jpg").write_bytes(jpeg[:jpeg.index(b"\xff\xc0")] + jpeg_header(60000, 60000)[2:]
                                               + jpeg[jpeg.index(b"\xff\xc4"):])
    bomb = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 8000, 8000, 1, 0, 0, 0, 0))
    bomb += chunk(b"IDAT", zlib.compress(b"\x00" * (8000 * 1001))) + chunk(b"IEND", b"")
    (BAD / "bomb_8000x8000_gray1.png").write_bytes(bomb)
    # 2^31-1 wide: exercises overflow guards on width * height * 3.
    bomb = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 0x7FFFFFFF, 0x7FFFFFFF, 16, 6, 0, 0, 0))
    bomb += chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")
    (BAD / "bomb_max_dimensions.png").write_bytes(bomb)


def main() -> int:
    if OUT.exists():
        shutil.rmtree(OUT)
    with tempfile.TemporaryDirectory() as tmp:
        helper = JpegHelper(Path(tmp))
        make_good(helper)
    make_bad()
    total = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    count = sum(1 for p in OUT.rglob("*") if p.is_file())
    print(f"wrote {count} files, {total / 1024:.0f} KiB, under {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
