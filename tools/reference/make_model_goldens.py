#!/usr/bin/env python3
"""Write the small fixture models and their golden outputs for the Swift runtime tests.

    python3 tools/reference/make_model_goldens.py            # everything
    python3 tools/reference/make_model_goldens.py --only tiny-f16

Writes Tests/Fixtures/models/<name>/ (config.json, *.safetensors, vocab.txt) and
Tests/Fixtures/goldens/model/<name>.json, and records the generator and library versions of
each in Tests/Fixtures/goldens/model/meta.json. Seeded: a rerun reproduces the same bytes.
`minilm-fusion` needs the real MiniLM from tools/fetch-minilm.sh (.cache/minilm/); only its
config.json and the non-text `model.safetensors` are written, the Swift test links the rest.

Goldens are computed from the model *as read back from the written directory* (so F16/BF16
goldens use the rounded weights), per request alone (B = 1, no padding), in float32. Each
model is also checked two ways, and the script fails if either check is off:
  * spec:  an independent float64 forward written from the spec (spec_forward.py) agrees;
  * batch: all cases in one right-padded batch reproduce the per-request outputs.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from fusion_reference import (FusionModel, load_from_file_tensors,  # noqa: E402
                              load_model_dir, load_text_encoder_file, pad_batch,
                              read_model_tensors, save_model_dir)
from spec_forward import spec_forward  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(HERE))
MODELS = os.path.join(ROOT, "Tests", "Fixtures", "models")
GOLDENS = os.path.join(ROOT, "Tests", "Fixtures", "goldens", "model")
MINILM = os.path.join(ROOT, ".cache", "minilm")

SPEC_TOLERANCE = 2e-5    # float32 reference vs float64 spec forward (logits, embedding, gate)
BATCH_TOLERANCE = 1e-5   # padded batch vs per-request

# --------------------------------------------------------------------------- configs

TINY_VOCAB_WORDS = (
    "the a an of and to in is on with for at red blue green small large dog cat bird car "
    "photo picture image shows sitting running near under sky tree house two three this "
    "that there are man woman child road water field"
).split()


def tiny_vocab() -> list[str]:
    """120 entries: specials, words, single letters, '##' letters, digits, punctuation."""
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    vocab += TINY_VOCAB_WORDS
    vocab += [chr(c) for c in range(ord("a"), ord("z") + 1) if chr(c) not in vocab]
    vocab += ["##" + chr(c) for c in range(ord("a"), ord("z") + 1)]
    vocab += [str(i) for i in range(10)] + list(".,!?'-")
    if len(vocab) > 120:
        raise SystemExit(f"tiny vocab has {len(vocab)} entries, want <= 120")
    vocab += [f"[unused{i}]" for i in range(120 - len(vocab))]
    return vocab


def tiny_config(name: str) -> dict:
    return {
        "name": name,
        "labels": ["cat", "dog", "other"],
        "image_encoder": {"type": "vit", "image_size": 32, "patch_size": 8, "hidden_size": 32,
                          "num_layers": 2, "num_heads": 4, "intermediate_size": 64,
                          "layer_norm_eps": 1e-12},
        "text_encoder": {"type": "bert", "vocab_size": 120, "hidden_size": 48, "num_layers": 2,
                         "num_heads": 4, "intermediate_size": 96, "max_position_embeddings": 64,
                         "layer_norm_eps": 1e-12},
        "fusion": {"hidden_size": 40, "num_heads": 8, "gate_hidden": 16},
        "preprocess": {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225],
                       "max_text_length": 16, "do_lower_case": True},
    }


def minilm_config() -> dict:
    return {
        "name": "minilm-fusion",
        "labels": ["no_match", "match", "unsure"],
        "image_encoder": {"type": "vit", "image_size": 32, "patch_size": 8, "hidden_size": 32,
                          "num_layers": 2, "num_heads": 4, "intermediate_size": 64,
                          "layer_norm_eps": 1e-12},
        "text_encoder": {"type": "bert", "vocab_size": 30522, "hidden_size": 384, "num_layers": 6,
                         "num_heads": 12, "intermediate_size": 1536, "max_position_embeddings": 512,
                         "layer_norm_eps": 1e-12},
        "fusion": {"hidden_size": 64, "num_heads": 8, "gate_hidden": 32},
        "preprocess": {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225],
                       "max_text_length": 32, "do_lower_case": True},
    }


TINY_SENTENCES = [
    "",                                               # [CLS] [SEP] only
    "cat",
    "a red car",
    "two dogs running near the road",
    "this photo shows a small bird sitting in a tree!",
    "there are three large green trees near the water, and a man with a blue dog under the sky",
]

MINILM_SENTENCES = [
    "",
    "A dog.",
    "A small red car parked next to a bright blue house.",
    "Two children are playing football on the grass while their parents watch.",
    "The photograph shows an old lighthouse at sunset; waves crash against the rocks.",
    "Is this a cat or a raccoon? Hard to say from such a blurry, low-resolution picture "
    "taken at night through a dirty window.",
]

# --------------------------------------------------------------------------- weights


def randomize(model: FusionModel, seed: int, skip_prefix: str | None = None) -> None:
    """Random weights scaled so activations stay O(1) and attention is not uniform.

    Linear/conv weights ~ N(0, (0.9/sqrt(fan_in))^2) (std 0.05-0.16 for the tiny shapes),
    biases ~ N(0, 0.05^2), LayerNorm weights ~ 1 + N(0, 0.1^2), embeddings ~ N(0, 0.5^2).
    The gate and head get larger weights so their outputs vary across inputs.
    """
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if skip_prefix and name.startswith(skip_prefix):
                continue
            low = name.lower()
            if "layernorm" in low and name.endswith("weight"):
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=g))
            elif name.endswith("bias") or name.endswith("in_proj_bias"):
                p.copy_(0.05 * torch.randn(p.shape, generator=g))
            elif p.dim() >= 2 and "embedding" not in low and "cls_token" not in low:
                fan_in = p[0].numel()
                scale = 0.9
                if name.startswith("gate."):
                    scale = 2.5
                if name.startswith("head."):
                    scale = 3.0
                p.copy_(scale / math.sqrt(fan_in) * torch.randn(p.shape, generator=g))
            else:  # token/position/modality embeddings, cls token
                p.copy_(0.5 * torch.randn(p.shape, generator=g))


def calibrate(model: FusionModel, pixels: list[torch.Tensor], ids: list[list[int]],
              gate_shift: float) -> None:
    """Shift the gate and head biases so the goldens discriminate: the gate's mean logit
    difference over the cases becomes `gate_shift` (gates spread around sigmoid(shift)
    instead of saturating), and every label's mean logit is equal (argmax varies by case)."""
    captured = []
    hook = model.gate.register_forward_hook(lambda m, i, o: captured.append(o.detach()))
    input_ids, mask = pad_batch(ids)
    with torch.no_grad():
        model(torch.stack(pixels), input_ids, mask)
        diff = (captured[0][:, 0] - captured[0][:, 1]).mean().item()
        model.gate[2].bias += torch.tensor([0.5, -0.5]) * (gate_shift - diff)
        logits = model(torch.stack(pixels), input_ids, mask)["logits"]
        model.head.bias -= logits.mean(0)
    hook.remove()


# --------------------------------------------------------------------------- inputs


def make_pixels(g: torch.Generator, size: int) -> torch.Tensor:
    """A random-ish normalized image [3,S,S]: smooth blobs + noise, on a 1/64 grid (exact in
    float32 and short in JSON), clipped to [-2.5, 2.5] like ImageNet-normalized pixels."""
    low = torch.randn(1, 3, 4, 4, generator=g)
    smooth = F.interpolate(low, size=(size, size), mode="bilinear", align_corners=False)[0]
    x = smooth + 0.35 * torch.randn(3, size, size, generator=g)
    return (torch.round(x.clamp(-2.5, 2.5) * 64) / 64).to(torch.float32)


def f32_list(t: torch.Tensor) -> list[float]:
    """Shortest decimal that round-trips to the same float32, as Python floats for json."""
    return [float(str(v)) for v in t.detach().to(torch.float32).numpy().astype(np.float32).ravel()]


# --------------------------------------------------------------------------- goldens


def compute_cases(model: FusionModel, tensors: dict, config: dict,
                  pixels: list[torch.Tensor], ids: list[list[int]], texts: list[str] | None):
    torch.set_grad_enabled(False)
    keys = ("logits", "scores", "gate", "embedding")
    singles = []
    for px, x in zip(pixels, ids):
        input_ids, mask = pad_batch([x])
        out = model(px.unsqueeze(0), input_ids, mask)
        singles.append({k: out[k][0] for k in keys})

    # independent float64 forward from the spec
    t64 = {k: (v.to(torch.float64) if v.is_floating_point() else v) for k, v in tensors.items()}
    spec_diff = 0.0
    for px, x, s in zip(pixels, ids, singles):
        ref = spec_forward(t64, config, px, x)
        spec_diff = max(spec_diff, max((ref[k] - s[k].double()).abs().max().item() for k in keys))

    # batch invariance: all cases in one right-padded batch
    input_ids, mask = pad_batch(ids)
    out = model(torch.stack(pixels), input_ids, mask)
    batch_diff = max((out[k][i] - singles[i][k]).abs().max().item()
                     for i in range(len(ids)) for k in keys)

    cases = []
    for i, (px, x, s) in enumerate(zip(pixels, ids, singles)):
        case = {}
        if texts is not None:
            case["text"] = texts[i]
        case.update({
            "pixels": f32_list(px),
            "input_ids": [int(v) for v in x],
            "logits": f32_list(s["logits"]),
            "scores": f32_list(s["scores"]),
            "gate": f32_list(s["gate"]),
            "embedding": f32_list(s["embedding"]),
            "label": int(torch.argmax(s["logits"]).item()),
        })
        cases.append(case)
    return cases, spec_diff, batch_diff


def write_golden(name: str, cases: list[dict]) -> str:
    os.makedirs(GOLDENS, exist_ok=True)
    path = os.path.join(GOLDENS, f"{name}.json")
    with open(path, "w") as f:
        json.dump({"model": name, "cases": cases}, f, separators=(",", ":"))
        f.write("\n")
    return path


def write_meta(names: list[str]) -> None:
    """Record in goldens/model/meta.json which generator and library versions made `names`
    (entries of models not rebuilt this run are kept)."""
    import platform

    import safetensors
    import transformers
    path = os.path.join(GOLDENS, "meta.json")
    meta = {"generator": "tools/reference/make_model_goldens.py", "models": {}}
    if os.path.exists(path):
        with open(path) as f:
            meta["models"] = json.load(f).get("models", {})
    for name in names:
        meta["models"][name] = {
            "golden": f"{name}.json", "torch": torch.__version__, "numpy": np.__version__,
            "safetensors": safetensors.__version__, "transformers": transformers.__version__,
            "python": platform.python_version(), "torch_threads": torch.get_num_threads(),
            "spec_tolerance": SPEC_TOLERANCE, "batch_tolerance": BATCH_TOLERANCE,
        }
    meta["models"] = dict(sorted(meta["models"].items()))
    with open(path, "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")


def report(name: str, cases: list[dict], spec_diff: float, batch_diff: float) -> None:
    gates = [round(c["gate"][0], 3) for c in cases]
    labels = [c["label"] for c in cases]
    lens = [len(c["input_ids"]) for c in cases]
    print(f"{name}: {len(cases)} cases, text lengths {lens}, labels {labels}, g_image {gates}")
    print(f"  max |float32 reference - float64 spec forward| = {spec_diff:.3g}")
    print(f"  max |padded batch of {len(cases)} - per-request| = {batch_diff:.3g}")
    if spec_diff > SPEC_TOLERANCE:
        raise SystemExit(f"{name}: reference disagrees with the spec forward by {spec_diff}")
    if batch_diff > BATCH_TOLERANCE:
        raise SystemExit(f"{name}: batching changes outputs by {batch_diff}")
    if len(set(labels)) < 2 or max(gates) - min(gates) < 0.05:
        raise SystemExit(f"{name}: goldens not discriminating (labels {labels}, gates {gates})")


def tokenize(vocab_path: str, texts: list[str], max_length: int) -> list[list[int]]:
    from transformers import BertTokenizerFast
    # transformers >= 5 silently ignores `vocab_file=`; the path goes in `vocab=`.
    tok = BertTokenizerFast(vocab=vocab_path, do_lower_case=True)
    with open(vocab_path, encoding="utf-8") as f:
        lines = sum(1 for _ in f)
    if len(tok) != lines:
        raise SystemExit(f"tokenizer loaded {len(tok)} tokens from {vocab_path}, which has {lines} lines")
    ids = [tok(t, max_length=max_length, truncation=True)["input_ids"] for t in texts]
    if any(tok.unk_token_id in x for x in ids):
        raise SystemExit(f"a golden sentence tokenizes to [UNK] with {vocab_path}: {ids}")
    return ids


def make_tiny(name: str, dtype: str, seed: int, gate_shift: float, weights=None, hub_extras=False):
    config = tiny_config(name)
    torch.manual_seed(seed)
    model = FusionModel(config)
    randomize(model, seed)
    directory = os.path.join(MODELS, name)
    vocab_path = os.path.join(directory, "vocab.txt")
    os.makedirs(directory, exist_ok=True)
    with open(vocab_path, "w") as f:
        f.write("\n".join(tiny_vocab()) + "\n")
    ids = tokenize(vocab_path, TINY_SENTENCES, config["preprocess"]["max_text_length"])
    g = torch.Generator().manual_seed(seed + 1000)
    pixels = [make_pixels(g, config["image_encoder"]["image_size"]) for _ in ids]
    calibrate(model, pixels, ids, gate_shift)
    cfg = save_model_dir(model, config, directory, dtype=dtype, weights=weights)
    if hub_extras:
        add_hub_extras(directory, cfg)
    model, cfg = load_model_dir(directory)
    tensors = read_model_tensors(directory, cfg)
    cases, sd, bd = compute_cases(model, tensors, cfg, pixels, ids, TINY_SENTENCES)
    write_golden(name, cases)
    report(name, cases, sd, bd)


def add_hub_extras(directory: str, cfg: dict) -> None:
    """Make the text-encoder file look like a Hub BertModel checkpoint: add the tensors the
    spec says to ignore (`embeddings.position_ids` as I64, `pooler.dense.*`)."""
    from safetensors.torch import load_file, save_file
    entry = next(e for e in cfg["weights"] if e["prefix"] == "text_encoder.")
    path = os.path.join(directory, entry["file"])
    tensors = load_file(path)
    d = cfg["text_encoder"]["hidden_size"]
    dtype = tensors["embeddings.LayerNorm.weight"].dtype
    tensors["embeddings.position_ids"] = torch.arange(
        cfg["text_encoder"]["max_position_embeddings"], dtype=torch.int64).unsqueeze(0)
    g = torch.Generator().manual_seed(7)
    tensors["pooler.dense.weight"] = (0.05 * torch.randn(d, d, generator=g)).to(dtype)
    tensors["pooler.dense.bias"] = torch.zeros(d).to(dtype)
    save_file(tensors, path)


def make_minilm(seed: int = 40, gate_shift: float = -0.4) -> None:
    minilm_file = os.path.join(MINILM, "model.safetensors")
    vocab_path = os.path.join(MINILM, "vocab.txt")
    if not (os.path.exists(minilm_file) and os.path.exists(vocab_path)):
        raise SystemExit("minilm-fusion needs the real MiniLM: run tools/fetch-minilm.sh first")
    config = minilm_config()
    torch.manual_seed(seed)
    model = FusionModel(config)
    randomize(model, seed, skip_prefix="text_encoder.")
    load_text_encoder_file(model, minilm_file)
    ids = tokenize(vocab_path, MINILM_SENTENCES, config["preprocess"]["max_text_length"])
    g = torch.Generator().manual_seed(seed + 1000)
    pixels = [make_pixels(g, config["image_encoder"]["image_size"]) for _ in ids]
    calibrate(model, pixels, ids, gate_shift)

    weights = [{"file": "model.safetensors", "prefix": ""},
               {"file": "minilm.safetensors", "prefix": "text_encoder."}]
    directory = os.path.join(MODELS, "minilm-fusion")
    # write the text encoder to a throwaway file, keep only config.json + model.safetensors
    cfg = save_model_dir(model, config, directory, dtype="F32", weights=weights)
    os.remove(os.path.join(directory, "minilm.safetensors"))

    # read back exactly as the Swift test will assemble it: committed files + the real MiniLM
    tensors = read_model_tensors_with(directory, cfg, {"minilm.safetensors": minilm_file})
    model = FusionModel(cfg)
    load_from_file_tensors(model, tensors)
    cases, sd, bd = compute_cases(model, tensors, cfg, pixels, ids, MINILM_SENTENCES)
    write_golden("minilm-fusion", cases)
    report("minilm-fusion", cases, sd, bd)


def read_model_tensors_with(directory: str, cfg: dict, elsewhere: dict[str, str]) -> dict:
    """read_model_tensors, but some weight files come from other paths."""
    import shutil
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        for e in cfg["weights"]:
            src = elsewhere.get(e["file"], os.path.join(directory, e["file"]))
            os.symlink(src, os.path.join(tmp, e["file"]))
        shutil.copyfile(os.path.join(directory, "config.json"), os.path.join(tmp, "config.json"))
        return read_model_tensors(tmp, cfg)


BUILDERS = {
    "tiny-f32": lambda: make_tiny("tiny-f32", "F32", 11, 0.3),
    "tiny-f16": lambda: make_tiny("tiny-f16", "F16", 12, -0.8),
    "tiny-bf16-split": lambda: make_tiny(
        "tiny-bf16-split", "BF16", 13, 1.0,
        weights=[{"file": "model.safetensors", "prefix": ""},
                 {"file": "text_encoder.safetensors", "prefix": "text_encoder."}],
        hub_extras=True),
    "minilm-fusion": make_minilm,
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", choices=sorted(BUILDERS), action="append",
                    help="build just this model (repeatable); default: all")
    args = ap.parse_args()
    torch.set_num_threads(1)  # one thread: same summation order on every machine
    names = args.only or list(BUILDERS)
    for name in names:
        BUILDERS[name]()
    write_meta(names)


if __name__ == "__main__":
    main()
