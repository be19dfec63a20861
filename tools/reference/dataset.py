#!/usr/bin/env python3
"""Synthetic image–caption matching data for the default model (issue 5).

Every image holds one or two shapes; every caption describes some of them. A positive
caption is true of the image; a negative is a positive with exactly one attribute of one
mentioned shape changed (colour, shape, size or position), checked to be false.

    python3 tools/reference/dataset.py --out DIR --count 2000 --seed 2

writes DIR/images/NNNNNN.{jpg,png}, DIR/data.jsonl (`--jsonl` renames it) with one line per pair
(`{"image": "images/000000.jpg", "text": "a red circle", "label": "match"}`, image path
relative to the JSONL file) and DIR/scenes.jsonl (what each image contains, and for each
pair which attribute a negative changed) for error analysis and for training, which draws
fresh captions from the scenes every epoch.

Everything follows from `--seed`: the same command writes byte-identical files (given the
same Pillow and NumPy versions).

Honest limits, by construction:
- Grayscale images (a share of the JPEGs) only ever get captions without a colour word,
  since their colour is unknowable; a colour caption on a grayscale image is undefined.
- Shape colours are kept far (RGB distance) from the background under them, so each shape
  is visible; the background itself is never described.
- Sizes are relative to the image's shorter side; positions are the five regions of the
  image (left, right, top, bottom, centre), so "left" means the left part of the picture.
"""
from __future__ import annotations

import argparse
import io
import itertools
import json
import math
import multiprocessing
import os
import random
import string
import sys
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageDraw

LABELS = ["no_match", "match"]

COLOURS = {
    "red": (215, 30, 35),
    "green": (35, 160, 55),
    "blue": (35, 70, 215),
    "yellow": (245, 220, 35),
    "orange": (245, 135, 20),
    "purple": (135, 45, 175),
    "black": (15, 15, 15),
    "white": (245, 245, 245),
}
SHAPES = ["circle", "square", "triangle", "star", "cross"]
SIZES = ["small", "large"]
POSITIONS = ["left", "right", "top", "bottom", "centre"]

# Centre of each region as a fraction of (width, height).
POSITION_CENTRES = {
    "left": (0.2, 0.5),
    "right": (0.8, 0.5),
    "top": (0.5, 0.2),
    "bottom": (0.5, 0.8),
    "centre": (0.5, 0.5),
}
# Diameter of the shape's bounding circle as a fraction of the image's shorter side.
SIZE_RANGES = {"small": (0.21, 0.25), "large": (0.40, 0.46)}
POSITION_JITTER = 0.04
MIN_SIDE, MAX_SIDE = 96, 800
MAX_ASPECT = 1.75
# Minimum RGB distance between a shape's colour and any background colour under it, and for
# grayscale images the minimum difference in luma (what survives convert("L")).
MIN_CONTRAST = 120.0
MIN_LUMA_CONTRAST = 70.0
GRAYSCALE_SHARE = 0.09

SHAPE_WORDS = {
    "circle": ["circle", "circle", "circle", "disc"],
    "square": ["square"],
    "triangle": ["triangle"],
    "star": ["star"],
    "cross": ["cross", "cross", "cross", "plus sign"],
}
SIZE_WORDS = {"small": ["small", "small", "little", "tiny"], "large": ["large", "large", "big"]}
COLOUR_WORDS = {c: [c] for c in COLOURS}
COLOUR_WORDS["purple"] = ["purple", "purple", "violet"]
POSITION_PHRASES = {
    "left": ["on the left", "on the left side", "at the left", "to the left"],
    "right": ["on the right", "on the right side", "at the right", "to the right"],
    "top": ["at the top", "near the top", "in the upper part", "at the top of the image"],
    "bottom": ["at the bottom", "near the bottom", "in the lower part", "at the bottom of the image"],
    "centre": ["in the centre", "in the center", "in the middle", "in the centre of the image"],
}

SINGLE_TEMPLATES = [
    "{a} {d}",
    "{a} {d} {p}",
    "there is {a} {d}",
    "there is {a} {d} {p}",
    "a picture of {a} {d}",
    "a picture of {a} {d} {p}",
    "an image with {a} {d} {p}",
    "{P}, {a} {d}",
    "{a} {d} can be seen {p}",
    "the image shows {a} {d}",
    "the image shows {a} {d} {p}",
    "{d}",
]
PAIR_TEMPLATES = [
    "{a1} {d1} and {a2} {d2}",
    "{a1} {d1} {p1} and {a2} {d2} {p2}",
    "there is {a1} {d1} {p1} and {a2} {d2} {p2}",
    "a picture of {a1} {d1} and {a2} {d2}",
    "two shapes: {a1} {d1} {p1} and {a2} {d2} {p2}",
    "{a1} {d1} {p1}, {a2} {d2} {p2}",
    "the image shows {a1} {d1} and {a2} {d2} {p2}",
]


@dataclass
class Obj:
    """One shape in an image, or one shape a caption mentions (None = not mentioned)."""

    shape: str | None
    colour: str | None = None
    size: str | None = None
    position: str | None = None

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass
class Scene:
    width: int
    height: int
    grayscale: bool
    objects: list[Obj] = field(default_factory=list)
    geometry: list[tuple[float, float, float]] = field(default_factory=list)  # (cx, cy, r) px


# ---------------------------------------------------------------- truth and captions

def obj_matches(mention: Obj, obj: Obj) -> bool:
    return all(
        getattr(mention, a) is None or getattr(mention, a) == getattr(obj, a)
        for a in ("shape", "colour", "size", "position")
    )


def caption_true(mentions: list[Obj], objects: list[Obj]) -> bool:
    """True when each mentioned shape is a distinct shape of the image with those attributes."""
    if len(mentions) > len(objects):
        return False
    for perm in itertools.permutations(range(len(objects)), len(mentions)):
        if all(obj_matches(m, objects[i]) for m, i in zip(mentions, perm)):
            return True
    return False


def article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def describe(m: Obj, rng: random.Random) -> str:
    words = []
    if m.size:
        words.append(rng.choice(SIZE_WORDS[m.size]))
    if m.colour:
        words.append(rng.choice(COLOUR_WORDS[m.colour]))
    words.append(rng.choice(SHAPE_WORDS[m.shape]))
    return " ".join(words)


def _fill(template: str, fields: dict[str, str]) -> tuple[str, dict[str, tuple[int, int]]]:
    """template.format(**fields), plus where each field landed in the text."""
    out, spans = [], {}
    at = 0
    for literal, name, _, _ in string.Formatter().parse(template):
        out.append(literal)
        at += len(literal)
        if name is not None:
            value = fields[name]
            spans[name] = (at, at + len(value))
            out.append(value)
            at += len(value)
    return "".join(out), spans


def render_with_spans(mentions: list[Obj], rng: random.Random
                      ) -> tuple[str, list[list[tuple[int, int]]]]:
    """The caption and, per mention, the character spans of its words (article, description,
    position phrase). A template is picked that uses exactly the positions given."""
    if len(mentions) == 1:
        m = mentions[0]
        has_pos = m.position is not None
        choices = [t for t in SINGLE_TEMPLATES if (("{p}" in t or "{P}" in t) == has_pos)]
        t = rng.choice(choices)
        d = describe(m, rng)
        p = rng.choice(POSITION_PHRASES[m.position]) if has_pos else ""
        text, spans = _fill(t, {"a": article(d), "d": d, "p": p, "P": p})
        return text, [[v for k, v in spans.items()]]
    m1, m2 = mentions
    pos_mask = (m1.position is not None, m2.position is not None)
    choices = [t for t in PAIR_TEMPLATES if (("{p1}" in t), ("{p2}" in t)) == pos_mask]
    t = rng.choice(choices)
    d1, d2 = describe(m1, rng), describe(m2, rng)
    p1 = rng.choice(POSITION_PHRASES[m1.position]) if m1.position else ""
    p2 = rng.choice(POSITION_PHRASES[m2.position]) if m2.position else ""
    text, spans = _fill(t, {"a1": article(d1), "d1": d1, "p1": p1,
                            "a2": article(d2), "d2": d2, "p2": p2})
    return text, [[v for k, v in spans.items() if k.endswith(str(i))] for i in (1, 2)]


def render(mentions: list[Obj], rng: random.Random) -> str:
    """Words for the mentions; a template is picked that uses exactly the positions given."""
    return render_with_spans(mentions, rng)[0]


def positive_mentions(scene: Scene, rng: random.Random) -> list[Obj]:
    """A true description: one or both shapes, each with a random subset of attributes."""
    objs = list(scene.objects)
    if len(objs) == 2 and rng.random() < 0.25:
        objs = [rng.choice(objs)]
    rng.shuffle(objs)
    pair = len(objs) == 2
    # Pair templates either give both positions, none, or only the second.
    pos_mode = rng.choice(["both", "both", "none", "second"]) if pair else None
    mentions = []
    for i, o in enumerate(objs):
        colour = o.colour if (not scene.grayscale and rng.random() < 0.8) else None
        size = o.size if rng.random() < 0.5 else None
        if pair:
            use_pos = pos_mode == "both" or (pos_mode == "second" and i == 1)
        else:
            use_pos = rng.random() < 0.6
        mentions.append(Obj(o.shape, colour, size, o.position if use_pos else None))
    return mentions


def negative_mentions(scene: Scene, positive: list[Obj], rng: random.Random
                      ) -> tuple[list[Obj], str] | None:
    """Change exactly one attribute of one mentioned shape so the caption becomes false."""
    options = []
    for i, m in enumerate(positive):
        for attr in ("shape", "colour", "size", "position"):
            if getattr(m, attr) is not None:
                options.append((i, attr))
    # Prefer an even spread over attribute kinds, not over (mention, attribute) pairs.
    kinds = sorted({a for _, a in options})
    rng.shuffle(kinds)
    for kind in kinds:
        slots = [o for o in options if o[1] == kind]
        rng.shuffle(slots)
        for i, attr in slots:
            values = {"shape": SHAPES, "colour": list(COLOURS), "size": SIZES,
                      "position": POSITIONS}[attr]
            alternatives = [v for v in values if v != getattr(positive[i], attr)]
            rng.shuffle(alternatives)
            for v in alternatives:
                changed = [Obj(**m.__dict__) for m in positive]
                setattr(changed[i], attr, v)
                if not caption_true(changed, scene.objects):
                    return changed, attr
    return None


def make_pair(scene: Scene, label: int, rng: random.Random) -> tuple[str, str | None]:
    """(caption, changed attribute or None) with the given label."""
    while True:
        pos = positive_mentions(scene, rng)
        if label == 1:
            return render(pos, rng), None
        neg = negative_mentions(scene, pos, rng)
        if neg is not None:
            return render(neg[0], rng), neg[1]


# ---------------------------------------------------------------- drawing

def random_scene(rng: random.Random, max_side: int = MAX_SIDE) -> Scene:
    while True:
        w = rng.randint(MIN_SIDE, max_side)
        h = rng.randint(MIN_SIDE, max_side)
        if w != h and max(w, h) / min(w, h) <= MAX_ASPECT:
            break
    grayscale = rng.random() < GRAYSCALE_SHARE
    n = 1 if rng.random() < 0.6 else 2
    while True:
        positions = rng.sample(POSITIONS, n)
        objs = [Obj(rng.choice(SHAPES), rng.choice(list(COLOURS)), rng.choice(SIZES), p)
                for p in positions]
        geometry = [_geometry(o, w, h, rng) for o in objs]
        if n == 1 or not _overlap(geometry):
            break
    return Scene(w, h, grayscale, objs, geometry)


def _geometry(o: Obj, w: int, h: int, rng: random.Random) -> tuple[float, float, float]:
    """(cx, cy, radius) in pixels of the shape's bounding circle, jittered around its region."""
    s = min(w, h)
    lo, hi = SIZE_RANGES[o.size]
    fx, fy = POSITION_CENTRES[o.position]
    r = rng.uniform(lo, hi) * s / 2
    cx = (fx + rng.uniform(-POSITION_JITTER, POSITION_JITTER)) * w
    cy = (fy + rng.uniform(-POSITION_JITTER, POSITION_JITTER)) * h
    # Keep the whole shape inside the picture.
    cx = min(max(cx, r + 2), w - r - 2)
    cy = min(max(cy, r + 2), h - r - 2)
    return cx, cy, r


def _overlap(geometry: list[tuple[float, float, float]]) -> bool:
    (x1, y1, r1), (x2, y2, r2) = geometry
    return math.hypot(x1 - x2, y1 - y2) < (r1 + r2) * 1.08 + 3


def _jitter_colour(c, rng, amount=14):
    return tuple(int(min(255, max(0, v + rng.randint(-amount, amount)))) for v in c)


def _distance(a, b) -> float:
    return math.sqrt(sum((float(x) - float(y)) ** 2 for x, y in zip(a, b)))


class NoBackground(Exception):
    """No background colour keeps every shape visible (e.g. yellow and purple, in grayscale)."""


def _luma(c) -> float:
    return 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]


def _far_enough(c, avoid: list[tuple], grayscale: bool) -> bool:
    return all(_distance(c, a) >= MIN_CONTRAST and
               (not grayscale or abs(_luma(c) - _luma(a)) >= MIN_LUMA_CONTRAST) for a in avoid)


def _background_colour(rng: random.Random, avoid: list[tuple], grayscale: bool) -> tuple:
    for _ in range(200):
        grey = rng.uniform(20, 235)
        sat = rng.uniform(0.0, 0.6)
        c = tuple(int(grey + (rng.uniform(0, 255) - grey) * sat) for _ in range(3))
        if _far_enough(c, avoid, grayscale):
            return c
    raise NoBackground()


def _background(w: int, h: int, rng: random.Random, nrng: np.random.Generator,
                avoid: list[tuple], grayscale: bool, kind: str | None = None) -> tuple[np.ndarray, str]:
    kind = kind or rng.choice(["solid", "gradient", "noise"])
    if kind == "solid":
        c = _background_colour(rng, avoid, grayscale)
        return np.broadcast_to(np.array(c, np.float32), (h, w, 3)).copy(), kind
    if kind == "gradient":
        # Each end is far from the shapes; check the midpoint too, the line between can pass near.
        while True:
            c1, c2 = _background_colour(rng, avoid, grayscale), _background_colour(rng, avoid, grayscale)
            mid = tuple((a + b) / 2 for a, b in zip(c1, c2))
            if _far_enough(mid, avoid, grayscale):
                break
        angle = rng.uniform(0, 2 * math.pi)
        xs = (np.arange(w, dtype=np.float32) / w - 0.5) * math.cos(angle)
        ys = (np.arange(h, dtype=np.float32) / h - 0.5) * math.sin(angle)
        t = ys[:, None] + xs[None, :]
        t = (t - t.min()) / max(1e-6, float(t.max() - t.min()))
        img = (np.array(c1, np.float32)[None, None] * (1 - t[..., None])
               + np.array(c2, np.float32)[None, None] * t[..., None])
        return img, kind
    c = _background_colour(rng, avoid, grayscale)
    sigma = rng.uniform(6, 22)
    scale = rng.choice([1, 2, 4, 8])
    small = nrng.standard_normal((h // scale + 1, w // scale + 1, 3), dtype=np.float32) * sigma
    noise = np.repeat(np.repeat(small, scale, 0), scale, 1)[:h, :w]
    return np.array(c, np.float32)[None, None] + noise, kind


def _polygon(shape: str, cx: float, cy: float, r: float, rot: float) -> list[tuple[float, float]]:
    def rotated(pts):
        cs, sn = math.cos(rot), math.sin(rot)
        return [(cx + x * cs - y * sn, cy + x * sn + y * cs) for x, y in pts]

    if shape == "square":
        a = r * 0.78
        return rotated([(-a, -a), (a, -a), (a, a), (-a, a)])
    if shape == "triangle":
        return rotated([(r * math.cos(t), r * math.sin(t))
                        for t in (-math.pi / 2, math.pi / 6, 5 * math.pi / 6)])
    if shape == "star":
        pts = []
        for k in range(10):
            rr = r if k % 2 == 0 else r * 0.45
            t = -math.pi / 2 + k * math.pi / 5
            pts.append((rr * math.cos(t), rr * math.sin(t)))
        return rotated(pts)
    if shape == "cross":
        a, b = r * 0.95, r * 0.32
        return rotated([(-b, -a), (b, -a), (b, -b), (a, -b), (a, b), (b, b), (b, a), (-b, a),
                        (-b, b), (-a, b), (-a, -b), (-b, -b)])
    raise ValueError(shape)


def draw_scene(scene: Scene, rng: random.Random, nrng: np.random.Generator,
               background: str | None = None) -> tuple[Image.Image, str]:
    w, h = scene.width, scene.height
    shape_colours = [_jitter_colour(COLOURS[o.colour], rng) for o in scene.objects]
    bg, kind = _background(w, h, rng, nrng, shape_colours, scene.grayscale, background)
    img = Image.fromarray(np.clip(bg, 0, 255).round().astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(img)
    for o, colour, (cx, cy, r) in zip(scene.objects, shape_colours, scene.geometry):
        if o.shape == "circle":
            draw.ellipse([cx - r * 0.92, cy - r * 0.92, cx + r * 0.92, cy + r * 0.92], fill=colour)
        else:
            rot = math.radians(rng.uniform(-12, 12))
            draw.polygon(_polygon(o.shape, cx, cy, r, rot), fill=colour)
    return img, kind


def encode(img: Image.Image, scene: Scene, rng: random.Random) -> tuple[bytes, str, dict]:
    """Encode as JPEG or PNG in one of several flavours; grayscale scenes become gray JPEGs."""
    buf = io.BytesIO()
    if scene.grayscale or rng.random() < 0.56:
        fmt = "jpg"
        opts = {"quality": rng.randint(55, 95), "progressive": rng.random() < 0.3,
                "subsampling": rng.choice([0, 2, 2, 2])}
        if scene.grayscale:
            img = img.convert("L")
            opts["mode"] = "L"
            del opts["subsampling"]
        save = {k: v for k, v in opts.items() if k != "mode"}
        try:
            img.save(buf, "JPEG", **save)
        except OSError:
            if not opts["progressive"]:
                raise
            # Pillow hands libjpeg a one-shot buffer of one byte per pixel for a progressive
            # JPEG; 4:4:4 noise at high quality does not fit ("Suspension not allowed here").
            # Such an image is written as a baseline JPEG instead (rare: 1 in ~25,000).
            opts["progressive"] = False
            buf = io.BytesIO()
            img.save(buf, "JPEG", **(save | {"progressive": False}))
    else:
        fmt = "png"
        v = rng.random()
        if v < 0.4:
            opts = {"mode": "RGB"}
            out = img
        elif v < 0.7:
            opts = {"mode": "P"}
            out = img.quantize(colors=rng.choice([64, 128, 256]), method=Image.Quantize.FASTOCTREE,
                               dither=Image.Dither.NONE)
        else:
            # Alpha varies over the background only; Pillow's convert("RGB") drops alpha, so
            # what a model sees is the colour under it, unblended.
            opts = {"mode": "RGBA"}
            a = np.full((img.height, img.width), 255, np.uint8)
            a[:, : img.width // 3] = rng.randint(160, 255)
            out = img.copy()
            out.putalpha(Image.fromarray(a, "L"))
        out.save(buf, "PNG", compress_level=rng.choice([1, 6]))
    return buf.getvalue(), fmt, opts


def make_image(seed: int, index: int, pairs_per_image: int, first_label: int,
               max_side: int = MAX_SIDE) -> tuple[Scene, bytes, str, dict, str, list[dict]]:
    """Image `index` of the data set with `seed`: its own random streams, so any subset can be
    made in any order (or in parallel) and still come out identical."""
    rng = random.Random(f"shapes:{seed}:{index}")
    nrng = np.random.default_rng([seed, index])
    while True:
        scene = random_scene(rng, max_side)
        try:
            img, bg_kind = draw_scene(scene, rng, nrng)
            break
        except NoBackground:
            continue
    blob, fmt, opts = encode(img, scene, rng)
    pairs = []
    for k in range(pairs_per_image):
        label = (first_label + k) % 2
        text, changed = make_pair(scene, label, rng)
        pairs.append({"text": text, "label": LABELS[label], "changed": changed})
    return scene, blob, fmt, opts, bg_kind, pairs


def _make_image_star(args):
    return make_image(*args)


def generate(out: str, count: int, seed: int, pairs_per_image: int = 1,
             max_side: int = MAX_SIDE, workers: int = 1, quiet: bool = False,
             jsonl: str = "data.jsonl") -> None:
    """Write `count` images and `count * pairs_per_image` pairs; labels alternate, so they are
    balanced (exactly, for an even number of pairs)."""
    os.makedirs(os.path.join(out, "images"), exist_ok=True)
    jobs = [(seed, i, pairs_per_image, (1 + i * pairs_per_image) % 2, max_side) for i in range(count)]
    pool = multiprocessing.Pool(workers) if workers > 1 else None
    results = pool.imap(_make_image_star, jobs, chunksize=16) if pool else map(_make_image_star, jobs)
    with open(os.path.join(out, jsonl), "w") as data, \
            open(os.path.join(out, "scenes.jsonl"), "w") as scenes:
        for i, (scene, blob, fmt, opts, bg_kind, pairs) in enumerate(results):
            rel = f"images/{i:06d}.{fmt}"
            with open(os.path.join(out, rel), "wb") as f:
                f.write(blob)
            for pr in pairs:
                data.write(json.dumps({"image": rel, "text": pr["text"], "label": pr["label"]}) + "\n")
            scenes.write(json.dumps({
                "image": rel, "width": scene.width, "height": scene.height,
                "grayscale": scene.grayscale, "background": bg_kind, "encoding": opts | {"format": fmt},
                "objects": [o.as_dict() for o in scene.objects],
                "geometry": [[round(v, 2) for v in g] for g in scene.geometry],
                "pairs": pairs}) + "\n")
            if not quiet and (i + 1) % 1000 == 0:
                print(f"dataset: {i + 1}/{count} images", file=sys.stderr, flush=True)
    if pool:
        pool.close()
        pool.join()


EXAMPLES = [
    # (file, size, background, objects, [(caption, label)])
    ("red-circle.jpg", (640, 480), "solid", [Obj("circle", "red", "large", "centre")],
     [("a red circle", "match"), ("a blue circle", "no_match")]),
    ("two-shapes.png", (600, 400), "gradient",
     [Obj("star", "yellow", "small", "left"), Obj("square", "blue", "large", "right")],
     [("a small yellow star on the left and a large blue square on the right", "match"),
      ("a small yellow star on the left and a large blue square at the top", "no_match")]),
]


def write_examples(out: str, seed: int = 7) -> None:
    """The documentation's example images, plus examples.jsonl with their captions."""
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "examples.jsonl"), "w") as data:
        for k, (name, (w, h), background, objs, captions) in enumerate(EXAMPLES):
            rng = random.Random(f"example:{seed}:{k}")
            nrng = np.random.default_rng([seed, k])
            geometry = []
            for o in objs:
                fx, fy = POSITION_CENTRES[o.position]
                lo, hi = SIZE_RANGES[o.size]
                geometry.append((fx * w, fy * h, (lo + hi) / 4 * min(w, h)))
            img, _ = draw_scene(Scene(w, h, False, objs, geometry), rng, nrng, background)
            if name.endswith(".jpg"):
                img.save(os.path.join(out, name), "JPEG", quality=90)
            else:
                img.save(os.path.join(out, name), "PNG")
            for text, label in captions:
                data.write(json.dumps({"image": name, "text": text, "label": label}) + "\n")


def load_scenes(path: str) -> list[tuple[str, Scene]]:
    """(image path relative to the folder, scene) for every line of a scenes.jsonl."""
    out = []
    with open(path) as f:
        for line in f:
            d = json.loads(line)
            s = Scene(d["width"], d["height"], d["grayscale"], [Obj(**o) for o in d["objects"]],
                      [tuple(g) for g in d["geometry"]])
            out.append((d["image"], s))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--examples", action="store_true",
                   help="write only the documentation's example images and examples.jsonl")
    p.add_argument("--count", type=int, help="number of images")
    p.add_argument("--seed", type=int)
    p.add_argument("--pairs-per-image", type=int, default=1)
    p.add_argument("--max-side", type=int, default=MAX_SIDE,
                   help=f"largest image side (default {MAX_SIDE}; smaller keeps fixtures small)")
    p.add_argument("--workers", type=int, default=1, help="processes (output does not depend on it)")
    p.add_argument("--jsonl", default="data.jsonl", help="name of the pairs file (default data.jsonl)")
    a = p.parse_args()
    if a.examples:
        write_examples(a.out)
        return
    if a.count is None or a.seed is None:
        p.error("--count and --seed are required")
    generate(a.out, a.count, a.seed, a.pairs_per_image, a.max_side, a.workers, jsonl=a.jsonl)


if __name__ == "__main__":
    main()
