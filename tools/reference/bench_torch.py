#!/usr/bin/env python3
"""PyTorch eager fp32 forward time of the seed-size fusion model (issue 2, Performance).

    python3 tools/reference/bench_torch.py [--threads N] [--runs 7] [--warmup 2] [--text-length 32]

Random weights in memory (nothing read or written). For B = 1 and B = 8 with every text
exactly T tokens long (no padding), prints the median ms per batch over --runs timed runs
after --warmup untimed ones, and GFLOP/s = model FLOPs / median time. FLOPs count only
matrix products, 2*M*N*K each, including the two attention products (Q K^T and P V);
LayerNorm, GELU, softmax, embedding look-ups and bias adds are not counted. The Swift
benchmark counts the same way (see `model_flops`).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fusion_reference import FusionModel  # noqa: E402

SEED_CONFIG = {
    "name": "seed-size",
    "labels": ["no_match", "match"],
    "image_encoder": {"type": "vit", "image_size": 224, "patch_size": 16, "hidden_size": 768,
                      "num_layers": 12, "num_heads": 12, "intermediate_size": 3072, "layer_norm_eps": 1e-12},
    "text_encoder": {"type": "bert", "vocab_size": 30522, "hidden_size": 768, "num_layers": 12,
                     "num_heads": 12, "intermediate_size": 3072, "max_position_embeddings": 512,
                     "layer_norm_eps": 1e-12},
    "fusion": {"hidden_size": 768, "num_heads": 8, "gate_hidden": 256},
    "preprocess": {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225],
                   "max_text_length": 64, "do_lower_case": True},
}

FORMULA = """FLOPs per batch (matmuls only, 2*M*N*K each):
  encoder layer on n tokens, width h, MLP width f:  B*(2*n*h*3h + 2*n*n*h + 2*n*n*h + 2*n*h*h + 2*n*h*f*2)
    (QKV projections, Q K^T, P V, output projection, two MLP linears)
  ViT: patch embedding B*2*(S/p)^2*(3*p*p)*h_img + L_img layers on n = 1+(S/p)^2
  BERT: L_txt layers on n = T
  fusion: B*(2*n_img*h_img*d + 2*T*h_txt*d) projections + one layer's attention part on n = n_img+T, width d
          (in_proj 2*n*d*3d, Q K^T 2*n*n*d, P V 2*n*n*d, out_proj 2*n*d*d)
  gate + head: B*(2*2d*g + 2*g*2 + 2*d*labels)"""


def _attention_flops(n: int, h: int) -> int:
    return 2 * n * h * 3 * h + 2 * n * n * h + 2 * n * n * h + 2 * n * h * h


def model_flops(config: dict, batch: int, text_length: int) -> int:
    """Matmul FLOPs (2*M*N*K each) of one forward of `batch` requests, texts `text_length` long."""
    ie, te, fu = config["image_encoder"], config["text_encoder"], config["fusion"]
    patches = (ie["image_size"] // ie["patch_size"]) ** 2
    n_img, t = patches + 1, text_length
    hi, ht, d = ie["hidden_size"], te["hidden_size"], fu["hidden_size"]
    f = 2 * patches * 3 * ie["patch_size"] ** 2 * hi
    f += ie["num_layers"] * (_attention_flops(n_img, hi) + 2 * n_img * hi * ie["intermediate_size"] * 2)
    f += te["num_layers"] * (_attention_flops(t, ht) + 2 * t * ht * te["intermediate_size"] * 2)
    f += 2 * n_img * hi * d + 2 * t * ht * d
    f += _attention_flops(n_img + t, d)
    f += 2 * 2 * d * fu["gate_hidden"] + 2 * fu["gate_hidden"] * 2 + 2 * d * len(config["labels"])
    return batch * f


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=os.cpu_count(), help="torch.set_num_threads (default: all cores)")
    ap.add_argument("--runs", type=int, default=7, help="timed runs per batch size (>= 5)")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--text-length", type=int, default=32)
    ap.add_argument("--batches", default="1,8", help="comma-separated batch sizes")
    args = ap.parse_args()
    if args.runs < 5:
        ap.error("--runs must be >= 5")

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cfg = SEED_CONFIG
    model = FusionModel(cfg).eval()
    params = sum(p.numel() for p in model.parameters())
    s = cfg["image_encoder"]["image_size"]
    print(f"torch {torch.__version__}, eager fp32, threads {torch.get_num_threads()}, "
          f"seed-size model {params / 1e6:.1f} M parameters, T = {args.text_length}, "
          f"median of {args.runs} runs after {args.warmup} warm-up")
    print(FORMULA)
    for b in (int(x) for x in args.batches.split(",")):
        pixels = torch.randn(b, 3, s, s)
        ids = torch.randint(1000, cfg["text_encoder"]["vocab_size"], (b, args.text_length))
        ids[:, 0], ids[:, -1] = 101, 102
        mask = torch.ones_like(ids)
        times = []
        with torch.inference_mode():
            for i in range(args.warmup + args.runs):
                t0 = time.perf_counter()
                model(pixels, ids, mask)
                if i >= args.warmup:
                    times.append(time.perf_counter() - t0)
        med = statistics.median(times)
        flops = model_flops(cfg, b, args.text_length)
        print(f"B={b}: {med * 1e3:.1f} ms/batch (min {min(times) * 1e3:.1f}, max {max(times) * 1e3:.1f}), "
              f"{flops / 1e9:.2f} GFLOP/batch, {flops / med / 1e9:.1f} GFLOP/s")


if __name__ == "__main__":
    main()
