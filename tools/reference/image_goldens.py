#!/usr/bin/env python3
"""Writes the image goldens under Tests/Fixtures/goldens/images/ from Pillow + torchvision.

For every file in Tests/Fixtures/images/good/, in the manifest:
  decoded       Image.open(f).convert("RGB"): CRC-32 of the raw RGB8 bytes, and a
                lossless copy decoded/NAME.png when that PNG is small
  resized[S]    .resize((S, S), Image.BILINEAR) for S in SIZES, stored the same way
  tensors[S]    transforms.Compose([Resize((S, S)), ToTensor(), Normalize(...)]) as .npy
                for the files in TENSOR_32 / TENSOR_224 (tensors are a pure function of
                the resized pixels, which are checked for every file)

For every file in bad/: the error kind our decoder must raise, and what Pillow does
(checked here: Pillow must fail too, except for the deliberate deviations listed in
PILLOW_ACCEPTS).

resize_cases: synthetic images (see `pattern`, mirrored in the Swift tests) resized
between many size pairs; only the CRC-32 of Pillow's output is stored.

Run from the repository root after make_image_corpus.py:
    python3 tools/reference/image_goldens.py
"""

from __future__ import annotations

import io
import json
import shutil
import sys
import warnings
import zlib
from pathlib import Path

import numpy as np
import PIL
import torch
import torchvision
from PIL import Image
from torchvision import transforms

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "Tests" / "Fixtures" / "images"
OUT = ROOT / "Tests" / "Fixtures" / "goldens" / "images"
MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]
SIZES = [224, 32]
TENSOR_224 = {"jpeg_rgb_420_640x480.jpg"}
# Tensors are a pure function of the resized pixels, which are checked for every file;
# float goldens are kept for a subset covering each decoder path to stay small.
TENSOR_32 = {"jpeg_rgb_420_225x223.jpg", "jpeg_gray_250x190.jpg", "jpeg_cmyk_adobe_180x140.jpg",
             "jpeg_ycck_150x110.jpg", "jpeg_progressive_320x240.jpg", "jpeg_rgb_4000x1.jpg",
             "png_rgba_190x130.png", "png_palette8_trns_120x100.png", "png_gray16_52x40.png",
             "png_rgb16_96x72.png", "png_rgb_1x1.png", "png_gray8_1x4000.png"}
# Pixel goldens are stored as PNG when small; every buffer also has its CRC-32.
MAX_GOLDEN_PNG = 24 * 1024

EXPECTED_ERRORS = {
    "empty.jpg": "empty",
    "truncated_half.jpg": "truncated",
    "truncated_header.jpg": "truncated",
    "truncated_soi_only.jpg": "truncated",
    "truncated_progressive.jpg": "truncated",
    "truncated_idat.png": "truncated",
    "truncated_ihdr.png": "truncated",
    "truncated_signature.png": "truncated",
    "bad_crc_ihdr.png": "corrupt",
    "corrupt_idat.png": "corrupt",
    "short_idat.png": "corrupt",
    "bad_color_type.png": "corrupt",
    "corrupt_markers_in_scan.jpg": "corrupt",
    "no_scan.jpg": "corrupt",
    "two_components.jpg": "corrupt",
    "zero_width.png": "invalidDimensions",
    "zero_height.jpg": "invalidDimensions",
    "too_wide_65535.jpg": "invalidDimensions",
    "format.gif": "unsupportedFormat",
    "format.bmp": "unsupportedFormat",
    "format.webp": "unsupportedFormat",
    "format.tiff": "unsupportedFormat",
    "format.heic": "unsupportedFormat",
    "wrong_magic.jpg": "unsupportedFormat",
    "html_error_page.png": "unsupportedFormat",
    "bomb_60000x60000.png": "tooLarge",
    "bomb_60000x60000.jpg": "tooLarge",
    "bomb_8000x8000_gray1.png": "tooLarge",
    "bomb_max_dimensions.png": "tooLarge",
}

# Files Pillow opens although we refuse them, and why.
PILLOW_ACCEPTS = {
    "format.gif": "Pillow decodes GIF; the service accepts only JPEG and PNG",
    "format.bmp": "Pillow decodes BMP; the service accepts only JPEG and PNG",
    "format.webp": "Pillow decodes WebP; the service accepts only JPEG and PNG",
    "format.tiff": "Pillow decodes TIFF; the service accepts only JPEG and PNG",
    "short_idat.png": "Pillow stops at the end of the zlib stream and leaves the missing "
                      "rows black; libpng reports 'Not enough image data'",
    "bomb_8000x8000_gray1.png": "64 MP is under Pillow's bomb limit (89 MP warns, 179 MP fails) "
                                "but over our 50 MP default",
}


def crc32(data: bytes) -> int:
    return zlib.crc32(data) & 0xFFFFFFFF


def pattern(width: int, height: int) -> np.ndarray:
    """Deterministic RGB8 test picture: ramps with hashed noise and wrap-around edges.
    Mirrored exactly in Tests/ImagesTests (ResizeCaseTests)."""
    y, x, c = np.meshgrid(np.arange(height, dtype=np.uint32), np.arange(width, dtype=np.uint32),
                          np.arange(3, dtype=np.uint32), indexing="ij")
    with np.errstate(over="ignore"):
        t = x * np.uint32(2654435761) + y * np.uint32(2246822519) + c * np.uint32(3266489917)
        t ^= t >> np.uint32(15)
        t *= np.uint32(668265263)
        t ^= t >> np.uint32(13)
    v = (x.astype(np.int64) + 2 * y.astype(np.int64) + 50 * c.astype(np.int64) + (t & 63).astype(np.int64)) & 255
    return v.astype(np.uint8)


def resize_cases() -> list[dict]:
    pairs = [
        ((1, 1), (224, 224)), ((2, 3), (5, 7)), ((225, 223), (224, 224)), ((224, 224), (224, 224)),
        ((640, 480), (224, 224)), ((1920, 1080), (224, 224)), ((4000, 1), (224, 224)),
        ((1, 4000), (32, 32)), ((300, 200), (1, 1)), ((7, 5), (3, 2)), ((1000, 10), (13, 700)),
        ((97, 89), (300, 250)), ((224, 225), (224, 224)), ((225, 224), (224, 224)),
        ((500, 375), (224, 224)), ((333, 777), (224, 224)), ((256, 256), (224, 224)),
        ((448, 448), (224, 224)), ((50, 50), (224, 224)), ((3, 3), (224, 224)),
        ((224, 224), (32, 32)), ((4000, 3), (224, 224)), ((17, 4000), (224, 224)),
        # Around Pillow's pass-order switch (vertical first iff the height shrinks by
        # more than twice what the width shrinks by).
        ((200, 300), (150, 200)), ((200, 300), (150, 199)), ((300, 200), (299, 197)),
        ((300, 200), (299, 198)), ((720, 1280), (224, 224)), ((1080, 1920), (224, 224)),
        ((62, 284), (11, 113)), ((98, 224), (161, 36)),
    ]
    rng = np.random.default_rng(1234)
    for _ in range(40):
        src = tuple(int(v) for v in rng.integers(1, 700, 2))
        dst = tuple(int(v) for v in rng.integers(1, 300, 2))
        pairs.append((src, dst))
    cases = []
    for (sw, sh), (dw, dh) in pairs:
        out = Image.fromarray(pattern(sw, sh)).resize((dw, dh), Image.BILINEAR)
        cases.append({"source": [sw, sh], "target": [dw, dh], "crc32": crc32(np.asarray(out).tobytes())})
    return cases


def golden(array: np.ndarray, rel: str) -> dict:
    """CRC-32 of the raw RGB bytes, plus a lossless PNG copy when it is small."""
    record = {"crc32": crc32(array.tobytes())}
    buffer = io.BytesIO()
    Image.fromarray(array, "RGB").save(buffer, "PNG", optimize=True)
    if buffer.tell() <= MAX_GOLDEN_PNG:
        path = OUT / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(buffer.getvalue())
        record["file"] = rel
    return record


def pillow_mode(path: Path) -> str:
    with Image.open(path) as im:
        return im.mode


def main() -> int:
    torch.set_num_threads(1)
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    normalize = transforms.Normalize(MEAN, STD)
    good = []
    for path in sorted((CORPUS / "good").iterdir()):
        name = path.name
        stem = path.stem
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # palette tRNS as bytes
            rgb_image = Image.open(path).convert("RGB")
        rgb = np.asarray(rgb_image)
        entry = {
            "file": f"good/{name}",
            "pillow_mode": pillow_mode(path),
            "width": rgb_image.width,
            "height": rgb_image.height,
            "decoded": golden(rgb, f"decoded/{stem}.png"),
            "resized": {},
            "tensors": {},
        }
        for size in SIZES:
            resized = np.asarray(rgb_image.resize((size, size), Image.BILINEAR))
            pipeline = transforms.Compose([transforms.Resize((size, size)), transforms.ToTensor(), normalize])
            tensor = pipeline(rgb_image).numpy().astype(np.float32)
            # The tensor must be exactly the normalised resize (same resize underneath).
            check = normalize(transforms.ToTensor()(Image.fromarray(resized))).numpy()
            assert np.array_equal(tensor, check), name
            entry["resized"][str(size)] = golden(resized, f"resized/{stem}_{size}.png")
            if (size == 32 and name in TENSOR_32) or (size == 224 and name in TENSOR_224):
                rel = f"tensors/{stem}_{size}.npy"
                (OUT / rel).parent.mkdir(parents=True, exist_ok=True)
                np.save(OUT / rel, tensor)
                entry["tensors"][str(size)] = rel
        good.append(entry)

    bad = []
    for path in sorted((CORPUS / "bad").iterdir()):
        name = path.name
        if name not in EXPECTED_ERRORS:
            print(f"no expected error for bad/{name}", file=sys.stderr)
            return 1
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                Image.open(io.BytesIO(path.read_bytes())).convert("RGB")
            pillow = "decodes"
        except Exception as error:  # noqa: BLE001 - we record whatever Pillow raises
            pillow = f"{type(error).__name__}: {error}".split(" <_io.BytesIO")[0]
        if (pillow == "decodes") != (name in PILLOW_ACCEPTS):
            print(f"bad/{name}: Pillow outcome '{pillow}' disagrees with PILLOW_ACCEPTS", file=sys.stderr)
            return 1
        record = {"file": f"bad/{name}", "error": EXPECTED_ERRORS[name], "pillow": pillow}
        if name in PILLOW_ACCEPTS:
            record["note"] = PILLOW_ACCEPTS[name]
        bad.append(record)

    manifest = {
        "generator": "tools/reference/image_goldens.py",
        "pillow": PIL.__version__,
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "mean": MEAN,
        "std": STD,
        "max_pixels": 50_000_000,
        "sizes": SIZES,
        "good": good,
        "bad": bad,
        "resize_cases": resize_cases(),
    }
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    total = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    print(f"{len(good)} good, {len(bad)} bad, {len(manifest['resize_cases'])} resize cases, "
          f"{total / 1024:.0f} KiB under {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
