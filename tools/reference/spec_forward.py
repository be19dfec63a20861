"""A second, independent forward pass written straight from the issue-2 spec.

No transformers, no nn modules: plain tensor ops on the classic-named file tensors, one
request at a time (B = 1, no padding), in whatever dtype the tensors have (float64 in
make_model_goldens.py). It exists to check that `fusion_reference.FusionModel` (built on
Hugging Face modules) computes what the spec says, and it is the shortest readable account
of the arithmetic the Swift runtime must do.
"""

from __future__ import annotations

import math

import torch


def _linear(x, t, name):
    return x @ t[name + ".weight"].T + t[name + ".bias"]


def _layer_norm(x, t, name, eps):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)  # biased variance, as nn.LayerNorm
    return (x - mu) / torch.sqrt(var + eps) * t[name + ".weight"] + t[name + ".bias"]


def _gelu(x):
    return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))


def _attention(q, k, v, heads):
    """q [N,d], k/v [M,d] -> [N,d]; softmax(q k^T / sqrt(d_head)) v per head."""
    n, d = q.shape
    dh = d // heads
    q = q.view(n, heads, dh).transpose(0, 1)
    k = k.view(-1, heads, dh).transpose(0, 1)
    v = v.view(-1, heads, dh).transpose(0, 1)
    p = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(dh), dim=-1)
    return (p @ v).transpose(0, 1).reshape(n, d)


def vit(t, c, pixels):
    """pixels [3,S,S] -> [1+(S/p)^2, d_img]."""
    P, eps, heads = c["patch_size"], c.get("layer_norm_eps", 1e-12), c["num_heads"]
    g = pixels.shape[-1] // P
    w = t["embeddings.patch_embeddings.projection.weight"]
    d = w.shape[0]
    # patches in row-major grid order, each flattened as (channel, row, col) like the conv weight
    patches = pixels.view(3, g, P, g, P).permute(1, 3, 0, 2, 4).reshape(g * g, 3 * P * P)
    x = patches @ w.reshape(d, -1).T + t["embeddings.patch_embeddings.projection.bias"]
    x = torch.cat([t["embeddings.cls_token"].reshape(1, d), x]) + t["embeddings.position_embeddings"][0]
    for i in range(c["num_layers"]):
        L = f"encoder.layer.{i}."
        h = _layer_norm(x, t, L + "layernorm_before", eps)
        a = _attention(_linear(h, t, L + "attention.attention.query"),
                       _linear(h, t, L + "attention.attention.key"),
                       _linear(h, t, L + "attention.attention.value"), heads)
        x = x + _linear(a, t, L + "attention.output.dense")
        h = _layer_norm(x, t, L + "layernorm_after", eps)
        x = x + _linear(_gelu(_linear(h, t, L + "intermediate.dense")), t, L + "output.dense")
    return _layer_norm(x, t, "layernorm", eps)


def bert(t, c, ids):
    """ids [T] (with [CLS]/[SEP], no padding) -> [T, d_txt]."""
    eps, heads = c.get("layer_norm_eps", 1e-12), c["num_heads"]
    n = ids.shape[0]
    x = (t["embeddings.word_embeddings.weight"][ids] + t["embeddings.position_embeddings.weight"][:n]
         + t["embeddings.token_type_embeddings.weight"][0])
    x = _layer_norm(x, t, "embeddings.LayerNorm", eps)
    for i in range(c["num_layers"]):
        L = f"encoder.layer.{i}."
        a = _attention(_linear(x, t, L + "attention.self.query"),
                       _linear(x, t, L + "attention.self.key"),
                       _linear(x, t, L + "attention.self.value"), heads)
        x = _layer_norm(x + _linear(a, t, L + "attention.output.dense"), t, L + "attention.output.LayerNorm", eps)
        h = _linear(_gelu(_linear(x, t, L + "intermediate.dense")), t, L + "output.dense")
        x = _layer_norm(x + h, t, L + "output.LayerNorm", eps)
    return x


def _sub(tensors, prefix):
    return {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}


def spec_forward(tensors: dict, config: dict, pixels: torch.Tensor, ids: list[int]) -> dict:
    """One request: pixels [3,S,S], ids list -> dict of 1-D tensors (logits, scores, gate, embedding)."""
    t = tensors
    dtype = t["head.weight"].dtype
    img = vit(_sub(t, "image_encoder."), config["image_encoder"], pixels.to(dtype))
    txt = bert(_sub(t, "text_encoder."), config["text_encoder"], torch.tensor(ids, dtype=torch.long))
    img = _linear(img, t, "image_proj") + t["modality_embedding"][0]
    txt = _linear(txt, t, "text_proj") + t["modality_embedding"][1]
    x = torch.cat([img, txt])
    d = x.shape[1]
    w, b = t["attention.in_proj_weight"], t["attention.in_proj_bias"]
    q, k, v = (x @ w[i * d:(i + 1) * d].T + b[i * d:(i + 1) * d] for i in range(3))
    fused = _linear(_attention(q, k, v, config["fusion"]["num_heads"]), t, "attention.out_proj")
    img_vec = fused[:img.shape[0]].mean(0)
    txt_vec = fused[img.shape[0]:].mean(0)
    h = _gelu(_linear(torch.cat([img_vec, txt_vec]), t, "gate.0"))
    gate = torch.softmax(_linear(h, t, "gate.2"), dim=-1)
    embedding = gate[0] * img_vec + gate[1] * txt_vec
    logits = _linear(embedding, t, "head")
    return {"logits": logits, "scores": torch.softmax(logits, dim=-1), "gate": gate, "embedding": embedding}
