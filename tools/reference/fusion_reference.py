"""PyTorch reference of the fusion-serve model (issue 2, "The model").

The Swift runtime must reproduce this module's numbers. It is written against the
spec with Hugging Face `ViTModel` / `BertModel` (no pooler, exact erf GELU, eager
attention) plus `nn.MultiheadAttention(batch_first=True)`, mean pools, a softmax gate
and a linear head.

Stable API (other tools import it):
    FusionModel(config)                        nn.Module; forward(pixel_values, input_ids, attention_mask)
    pad_batch(list_of_id_lists)                -> (input_ids, attention_mask) right-padded with 0
    state_dict_for_file(model)                 in-memory names -> classic checkpoint names
    load_from_file_tensors(model, tensors)     the inverse (ignores pooler.*, embeddings.position_ids)
    expected_file_names(config)                the exact tensor names a model file set must hold
    save_model_dir(model, config, dir, dtype="F32", weights=None, vocab_file=None)
    load_model_dir(dir)                        -> (model in float32 eval mode, config)
"""

from __future__ import annotations

import json
import os
import re
import shutil
from typing import Iterable

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from transformers import BertConfig, BertModel, ViTConfig, ViTModel

DEFAULT_WEIGHTS = [{"file": "model.safetensors", "prefix": ""}]
DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}


# --------------------------------------------------------------------------- model

def _vit_config(c: dict) -> ViTConfig:
    return ViTConfig(
        image_size=c["image_size"], patch_size=c["patch_size"], num_channels=3,
        hidden_size=c["hidden_size"], num_hidden_layers=c["num_layers"],
        num_attention_heads=c["num_heads"], intermediate_size=c["intermediate_size"],
        layer_norm_eps=c.get("layer_norm_eps", 1e-12), hidden_act="gelu", qkv_bias=True,
        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
        attn_implementation="eager",
    )


def _bert_config(c: dict) -> BertConfig:
    return BertConfig(
        vocab_size=c["vocab_size"], hidden_size=c["hidden_size"],
        num_hidden_layers=c["num_layers"], num_attention_heads=c["num_heads"],
        intermediate_size=c["intermediate_size"],
        max_position_embeddings=c["max_position_embeddings"], type_vocab_size=2,
        layer_norm_eps=c.get("layer_norm_eps", 1e-12), hidden_act="gelu", pad_token_id=0,
        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
        attn_implementation="eager",
    )


class FusionModel(nn.Module):
    """Image + text fusion model, exactly as issue 2 specifies."""

    def __init__(self, config: dict):
        super().__init__()
        ie, te, fu = config["image_encoder"], config["text_encoder"], config["fusion"]
        if ie.get("type", "vit") != "vit" or te.get("type", "bert") != "bert":
            raise ValueError("only image_encoder.type 'vit' and text_encoder.type 'bert' exist")
        if ie["image_size"] % ie["patch_size"] != 0:
            raise ValueError("image_size must be a multiple of patch_size")
        d = fu["hidden_size"]
        self.config = config
        self.image_encoder = ViTModel(_vit_config(ie), add_pooling_layer=False)
        self.text_encoder = BertModel(_bert_config(te), add_pooling_layer=False)
        self.image_proj = nn.Linear(ie["hidden_size"], d)
        self.text_proj = nn.Linear(te["hidden_size"], d)
        self.modality_embedding = nn.Parameter(torch.zeros(2, d))
        nn.init.normal_(self.modality_embedding, std=0.02)
        self.attention = nn.MultiheadAttention(d, fu["num_heads"], dropout=0.0, batch_first=True)
        self.gate = nn.Sequential(nn.Linear(2 * d, fu["gate_hidden"]), nn.GELU(),
                                  nn.Linear(fu["gate_hidden"], 2))
        self.head = nn.Linear(d, len(config["labels"]))
        self.eval()

    def forward(self, pixel_values: torch.Tensor, input_ids: torch.Tensor,
                attention_mask: torch.Tensor) -> dict:
        """pixel_values [B,3,S,S], input_ids/attention_mask [B,T] (right padding, mask 1 = real)."""
        attention_mask = attention_mask.to(torch.long)
        img_h = self.image_encoder(pixel_values=pixel_values).last_hidden_state       # [B,Ni,di]
        txt_h = self.text_encoder(input_ids=input_ids, attention_mask=attention_mask,
                                  token_type_ids=torch.zeros_like(input_ids)).last_hidden_state
        img = self.image_proj(img_h) + self.modality_embedding[0]
        txt = self.text_proj(txt_h) + self.modality_embedding[1]
        n_img = img.shape[1]
        x = torch.cat([img, txt], dim=1)
        pad = torch.cat([torch.zeros(img.shape[0], n_img, dtype=torch.bool, device=x.device),
                         attention_mask == 0], dim=1)
        fused, _ = self.attention(x, x, x, key_padding_mask=pad, need_weights=False)
        img_vec = fused[:, :n_img].mean(dim=1)
        m = attention_mask.to(fused.dtype).unsqueeze(-1)
        txt_vec = (fused[:, n_img:] * m).sum(dim=1) / m.sum(dim=1)
        gate = torch.softmax(self.gate(torch.cat([img_vec, txt_vec], dim=-1)), dim=-1)
        embedding = gate[:, 0:1] * img_vec + gate[:, 1:2] * txt_vec
        logits = self.head(embedding)
        return {"logits": logits, "scores": torch.softmax(logits, dim=-1),
                "gate": gate, "embedding": embedding}


def pad_batch(ids: Iterable[Iterable[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad token id lists with 0 to the longest; returns (input_ids, attention_mask)."""
    ids = [list(x) for x in ids]
    t = max(len(x) for x in ids)
    input_ids = torch.zeros(len(ids), t, dtype=torch.long)
    mask = torch.zeros(len(ids), t, dtype=torch.long)
    for i, x in enumerate(ids):
        input_ids[i, :len(x)] = torch.tensor(x, dtype=torch.long)
        mask[i, :len(x)] = 1
    return input_ids, mask


# --------------------------------------------------------------------------- names

# transformers >= 5 renames encoder modules in memory; files keep the classic Hub names.
# (in-memory regex, classic replacement) per encoder; identity when nothing matches.
_VIT_RULES = [
    (r"^(?:encoder\.)?layers?\.(\d+)\.attention\.q_proj\.", r"encoder.layer.\1.attention.attention.query."),
    (r"^(?:encoder\.)?layers?\.(\d+)\.attention\.k_proj\.", r"encoder.layer.\1.attention.attention.key."),
    (r"^(?:encoder\.)?layers?\.(\d+)\.attention\.v_proj\.", r"encoder.layer.\1.attention.attention.value."),
    (r"^(?:encoder\.)?layers?\.(\d+)\.attention\.o_proj\.", r"encoder.layer.\1.attention.output.dense."),
    (r"^(?:encoder\.)?layers?\.(\d+)\.mlp\.fc1\.", r"encoder.layer.\1.intermediate.dense."),
    (r"^(?:encoder\.)?layers?\.(\d+)\.mlp\.fc2\.", r"encoder.layer.\1.output.dense."),
    (r"^(?:encoder\.)?layers?\.(\d+)\.layernorm_(before|after)\.", r"encoder.layer.\1.layernorm_\2."),
]
_BERT_RULES = [
    (r"^(?:encoder\.)?layers?\.(\d+)\.attention\.q_proj\.", r"encoder.layer.\1.attention.self.query."),
    (r"^(?:encoder\.)?layers?\.(\d+)\.attention\.k_proj\.", r"encoder.layer.\1.attention.self.key."),
    (r"^(?:encoder\.)?layers?\.(\d+)\.attention\.v_proj\.", r"encoder.layer.\1.attention.self.value."),
    (r"^(?:encoder\.)?layers?\.(\d+)\.attention\.o_proj\.", r"encoder.layer.\1.attention.output.dense."),
    (r"^(?:encoder\.)?layers?\.(\d+)\.mlp\.fc1\.", r"encoder.layer.\1.intermediate.dense."),
    (r"^(?:encoder\.)?layers?\.(\d+)\.mlp\.fc2\.", r"encoder.layer.\1.output.dense."),
]
_IGNORED = re.compile(r"(^|\.)pooler\.|(^|\.)embeddings\.position_ids$")


def _classic(name: str) -> str:
    for module, rules in (("image_encoder.", _VIT_RULES), ("text_encoder.", _BERT_RULES)):
        if name.startswith(module):
            rest = name[len(module):]
            for pattern, repl in rules:
                new, n = re.subn(pattern, repl, rest)
                if n:
                    return module + new
            return name
    return name


def expected_file_names(config: dict) -> dict[str, tuple[int, ...]]:
    """Every tensor name (classic, full prefix) and shape a model directory must hold."""
    ie, te, fu = config["image_encoder"], config["text_encoder"], config["fusion"]
    di, dt, d, p = ie["hidden_size"], te["hidden_size"], fu["hidden_size"], ie["patch_size"]
    n = (ie["image_size"] // p) ** 2
    out: dict[str, tuple[int, ...]] = {}

    def lin(name, o, i):
        out[name + ".weight"] = (o, i)
        out[name + ".bias"] = (o,)

    def ln(name, dim):
        out[name + ".weight"] = (dim,)
        out[name + ".bias"] = (dim,)

    v = "image_encoder."
    out[v + "embeddings.cls_token"] = (1, 1, di)
    out[v + "embeddings.position_embeddings"] = (1, n + 1, di)
    out[v + "embeddings.patch_embeddings.projection.weight"] = (di, 3, p, p)
    out[v + "embeddings.patch_embeddings.projection.bias"] = (di,)
    for i in range(ie["num_layers"]):
        L = f"{v}encoder.layer.{i}."
        ln(L + "layernorm_before", di)
        for q in ("query", "key", "value"):
            lin(L + "attention.attention." + q, di, di)
        lin(L + "attention.output.dense", di, di)
        ln(L + "layernorm_after", di)
        lin(L + "intermediate.dense", ie["intermediate_size"], di)
        lin(L + "output.dense", di, ie["intermediate_size"])
    ln(v + "layernorm", di)

    t = "text_encoder."
    out[t + "embeddings.word_embeddings.weight"] = (te["vocab_size"], dt)
    out[t + "embeddings.position_embeddings.weight"] = (te["max_position_embeddings"], dt)
    out[t + "embeddings.token_type_embeddings.weight"] = (2, dt)
    ln(t + "embeddings.LayerNorm", dt)
    for i in range(te["num_layers"]):
        L = f"{t}encoder.layer.{i}."
        for q in ("query", "key", "value"):
            lin(L + "attention.self." + q, dt, dt)
        lin(L + "attention.output.dense", dt, dt)
        ln(L + "attention.output.LayerNorm", dt)
        lin(L + "intermediate.dense", te["intermediate_size"], dt)
        lin(L + "output.dense", dt, te["intermediate_size"])
        ln(L + "output.LayerNorm", dt)

    lin("image_proj", d, di)
    lin("text_proj", d, dt)
    out["modality_embedding"] = (2, d)
    out["attention.in_proj_weight"] = (3 * d, d)
    out["attention.in_proj_bias"] = (3 * d,)
    lin("attention.out_proj", d, d)
    lin("gate.0", fu["gate_hidden"], 2 * d)
    lin("gate.2", 2, fu["gate_hidden"])
    lin("head", len(config["labels"]), d)
    return out


def _name_map(model: FusionModel) -> dict[str, str]:
    """in-memory name -> classic file name, checked against the spec's list."""
    mapping = {k: _classic(k) for k in model.state_dict().keys() if not _IGNORED.search(k)}
    expected = expected_file_names(model.config)
    got = set(mapping.values())
    if got != set(expected) or len(got) != len(mapping):
        missing = sorted(set(expected) - got)[:5]
        extra = sorted(got - set(expected))[:5]
        raise RuntimeError(f"name translation does not match the spec: missing {missing}, extra {extra}"
                           " (installed transformers renamed modules; extend _VIT_RULES/_BERT_RULES)")
    return mapping


def state_dict_for_file(model: FusionModel) -> dict[str, torch.Tensor]:
    """The model's tensors under the classic checkpoint names (full prefixes), contiguous, detached."""
    sd = model.state_dict()
    return {classic: sd[mem].detach().contiguous() for mem, classic in _name_map(model).items()}


def load_from_file_tensors(model: FusionModel, tensors: dict[str, torch.Tensor]) -> None:
    """Load classic-named tensors (full prefixes) into the model; pooler.* and position_ids ignored.

    Raises KeyError naming a missing or unexpected tensor, ValueError naming a mis-shaped one.
    """
    inverse = {classic: mem for mem, classic in _name_map(model).items()}
    expected = expected_file_names(model.config)
    unknown = sorted(k for k in tensors if k not in inverse and not _IGNORED.search(k))
    if unknown:
        raise KeyError(f"unexpected tensor(s): {unknown[:5]}")
    missing = sorted(k for k in inverse if k not in tensors)
    if missing:
        raise KeyError(f"missing tensor(s): {missing[:5]}")
    sd = model.state_dict()
    new = {}
    for classic, mem in inverse.items():
        t = tensors[classic]
        if tuple(t.shape) != expected[classic]:
            raise ValueError(f"tensor {classic} has shape {tuple(t.shape)}, expected {expected[classic]}")
        new[mem] = t.to(sd[mem].dtype)
    model.load_state_dict(new, strict=True)


# --------------------------------------------------------------------------- directories

def save_model_dir(model: FusionModel, config: dict, directory: str, dtype: str = "F32",
                   weights: list[dict] | None = None, vocab_file: str | None = None) -> dict:
    """Write config.json + safetensors (+ vocab.txt). Returns the config written.

    `weights` is the config's list of {"file", "prefix"}; each tensor goes to the entry with
    the longest prefix it starts with, stored with that prefix stripped. Omitted -> one
    `model.safetensors` and no `weights` key (the spec's default).
    """
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {list(DTYPES)}")
    os.makedirs(directory, exist_ok=True)
    entries = weights if weights is not None else DEFAULT_WEIGHTS
    files: dict[str, dict[str, torch.Tensor]] = {e["file"]: {} for e in entries}
    for name, t in state_dict_for_file(model).items():
        owners = [e for e in entries if name.startswith(e["prefix"])]
        if not owners:
            raise ValueError(f"no weights entry takes tensor {name}")
        e = max(owners, key=lambda e: len(e["prefix"]))
        files[e["file"]][name[len(e["prefix"]):]] = t.to(DTYPES[dtype]).contiguous()
    for fname, tensors in files.items():
        save_file(tensors, os.path.join(directory, fname))
    cfg = dict(config)
    cfg.pop("weights", None)
    if weights is not None:
        cfg["weights"] = weights
    with open(os.path.join(directory, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    if vocab_file is not None:
        shutil.copyfile(vocab_file, os.path.join(directory, "vocab.txt"))
    return cfg


def read_model_tensors(directory: str, config: dict) -> dict[str, torch.Tensor]:
    """All tensors of a model directory with their config prefixes applied, as float32."""
    tensors: dict[str, torch.Tensor] = {}
    for e in config.get("weights", DEFAULT_WEIGHTS):
        for name, t in load_file(os.path.join(directory, e["file"])).items():
            full = e["prefix"] + name
            if full in tensors:
                raise KeyError(f"tensor {full} appears twice (file {e['file']})")
            tensors[full] = t.to(torch.float32) if t.is_floating_point() else t
    return tensors


def load_model_dir(directory: str) -> tuple[FusionModel, dict]:
    """Build a float32 eval-mode FusionModel from a model directory."""
    with open(os.path.join(directory, "config.json")) as f:
        config = json.load(f)
    model = FusionModel(config)
    load_from_file_tensors(model, read_model_tensors(directory, config))
    model.eval()
    return model, config
