#!/usr/bin/env python3
"""fusion-serve vs ONNX Runtime vs PyTorch eager, one run, same threads and batches (issue 14).

    python3 tools/reference/bench_ort.py [--binary LABEL=PATH ...] [--cases default:1:1,default:1:8,seed:2:8]
                                         [--runs 15] [--rounds 3] [--text-length 32] [--work DIR] [--reuse-onnx]

For every model the cases name (`default` = models/default, `seed` = the seed-size random-weight
model `fusion-serve bench-model` times by default, written once with `bench-model --write-model`
so all engines run the same weights) this script

  1. exports the PyTorch reference (`fusion_reference.load_model_dir`) to ONNX with
     `torch.onnx.export` (dynamic batch and text axes; outputs logits, gate, embedding) and checks
     ONNX Runtime's logits against PyTorch's;
  2. makes an int8 copy with `onnxruntime.quantization.quantize_dynamic` (QInt8 weights), reported only;
  3. times, for each case (model, threads, batch), in `--rounds` interleaved rounds:
     ONNX Runtime fp32 and int8 (CPU EP, intra-op threads = threads, sequential), PyTorch eager fp32
     (`torch.set_num_threads`), and every `--binary` with `bench-model --model DIR --threads T
     --batches B --runs R --precision P` for each P of `--precisions` (its own median forward
     time); a fusion-serve int8 run is compared with ONNX Runtime int8, a bf16 run (`--precisions
     fp32,bf16`, on a CPU with avx512_bf16) with ONNX Runtime fp32 and with its own fp32.
Inputs: random pixels and `[CLS] … [SEP]` ids of exactly --text-length tokens, no padding (as
bench-model). Reported: median over rounds of each round's median ms per request, and the
throughput ratio of each fusion-serve binary to ONNX Runtime fp32 and to PyTorch (> 1 = faster),
once on wall time and once on process CPU time (all threads; bench-model's "CPU time"), which
is less distorted when other processes share the cores (it still counts spin-waiting threads).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
from fusion_reference import load_model_dir  # noqa: E402


class Exported(torch.nn.Module):
    """The reference with tuple outputs, as ONNX export needs."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, pixel_values, input_ids, attention_mask):
        out = self.model(pixel_values, input_ids, attention_mask)
        return out["logits"], out["gate"], out["embedding"]


def make_inputs(config: dict, batch: int, text_length: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    s = config["image_encoder"]["image_size"]
    vocab = config["text_encoder"]["vocab_size"]
    pixels = torch.rand(batch, 3, s, s, generator=g) * 4 - 2
    ids = torch.randint(1000 if vocab > 2000 else 0, vocab, (batch, text_length), generator=g)
    ids[:, 0], ids[:, -1] = 101, 102
    return pixels, ids, torch.ones_like(ids)


def export(model, config: dict, path: str, text_length: int) -> None:
    args = make_inputs(config, 2, text_length, 0)
    names = ["pixel_values", "input_ids", "attention_mask"]
    axes = {"pixel_values": {0: "batch"}, "input_ids": {0: "batch", 1: "text"},
            "attention_mask": {0: "batch", 1: "text"}, "logits": {0: "batch"}, "gate": {0: "batch"},
            "embedding": {0: "batch"}}
    kwargs = dict(input_names=names, output_names=["logits", "gate", "embedding"], opset_version=17,
                  dynamic_axes=axes)
    # nn.MultiheadAttention's inference fast path is one fused aten op ONNX has no export for.
    torch.backends.mha.set_fastpath_enabled(False)
    with torch.inference_mode(False), torch.no_grad():
        try:
            torch.onnx.export(Exported(model), args, path, dynamo=False, **kwargs)
        except TypeError:  # a torch without the dynamo switch
            torch.onnx.export(Exported(model), args, path, **kwargs)
    torch.backends.mha.set_fastpath_enabled(True)  # PyTorch eager is timed as people run it


def ort_session(path: str, threads: int):
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def time_runs(fn, runs: int, warmup: int = 2) -> tuple[float, float]:
    """Median wall seconds and median process CPU seconds (all threads) of `runs` calls after
    `warmup` untimed ones."""
    for _ in range(warmup):
        fn()
    wall, cpu = [], []
    for _ in range(runs):
        c0, t0 = time.process_time(), time.perf_counter()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return statistics.median(wall), statistics.median(cpu)


FORWARD = re.compile(r"^B=(\d+): forward ([0-9.]+) ms/batch.*CPU time ([0-9.]+) ms/batch")


def time_binary(binary: str, model_dir: str, threads: int, batch: int, runs: int, text_length: int,
                precision: str = "fp32") -> tuple[float, float]:
    out = subprocess.run([binary, "bench-model", "--model", model_dir, "--threads", str(threads),
                          "--batches", str(batch), "--runs", str(runs), "--text-length", str(text_length),
                          "--precision", precision],
                         check=True, capture_output=True, text=True).stdout
    for line in out.splitlines():
        m = FORWARD.match(line)
        if m and int(m.group(1)) == batch:
            return float(m.group(2)) / 1e3, float(m.group(3)) / 1e3
    raise RuntimeError(f"no 'B={batch}: forward' line in the output of {binary}:\n{out}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", action="append", default=[],
                    help="LABEL=PATH of a fusion-serve binary (repeatable; default fusion-serve=.build/release/fusion-serve)")
    ap.add_argument("--cases", default="default:1:1,default:1:8,seed:2:8",
                    help="comma-separated MODEL:THREADS:BATCH, MODEL = default | seed | a model directory")
    ap.add_argument("--precisions", default="fp32,int8",
                    help="comma-separated fusion-serve precisions to time each binary in (bench-model --precision)")
    ap.add_argument("--runs", type=int, default=15, help="timed forward passes per engine, case and round")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds (the median round is reported)")
    ap.add_argument("--text-length", type=int, default=32)
    ap.add_argument("--reuse-onnx", action="store_true",
                    help="keep ONNX files already in --work that are newer than the model's files (the seed-size export takes minutes)")
    ap.add_argument("--work", default=os.path.join(ROOT, ".cache", "bench-ort"),
                    help="where the seed-size model and the ONNX files go")
    args = ap.parse_args()
    plain = [b.split("=", 1) for b in args.binary] or [["fusion-serve", os.path.join(ROOT, ".build/release/fusion-serve")]]
    for label, path in plain:
        if not os.access(path, os.X_OK):
            ap.error(f"--binary {label}={path}: not an executable")
    # (label, path, precision): "fusion-serve" for fp32, "fusion-serve int8" for int8. ONNX Runtime has
    # no bf16 CPU kernels to compare with, so bf16 is set against ORT fp32 and against its own
    # binary's fp32 (issue 14's bf16 target: >= 1.5x our fp32 on a CPU with avx512_bf16).
    binaries = [(label if precision == "fp32" else f"{label} {precision}", path, precision)
                for label, path in plain for precision in args.precisions.split(",")]
    cases = []
    for c in args.cases.split(","):
        model, threads, batch = c.split(":")
        cases.append((model, int(threads), int(batch)))
    os.makedirs(args.work, exist_ok=True)

    import onnxruntime as ort
    from onnxruntime.quantization import QuantType, quantize_dynamic

    models = {}
    for name in dict.fromkeys(m for m, _, _ in cases):
        if name == "default":
            directory = os.path.join(ROOT, "models", "default")
        elif name == "seed":
            directory = os.path.join(args.work, "seed-size")
            if not os.path.exists(os.path.join(directory, "config.json")):
                subprocess.run([plain[0][1], "bench-model", "--write-model", directory], check=True)
        else:
            directory = name
        torch.set_num_threads(max(t for _, t, _ in cases))
        model, config = load_model_dir(directory)
        fp32 = os.path.join(args.work, f"{os.path.basename(os.path.normpath(directory))}.onnx")
        int8 = fp32.replace(".onnx", ".int8.onnx")
        t0 = time.perf_counter()
        newest_input = max(os.path.getmtime(os.path.join(directory, f)) for f in os.listdir(directory))
        fresh = all(os.path.exists(f) and os.path.getmtime(f) > newest_input for f in (fp32, int8))
        if not (args.reuse_onnx and fresh):
            export(model, config, fp32, args.text_length)
            quantize_dynamic(fp32, int8, weight_type=QuantType.QInt8)
        check = make_inputs(config, 3, args.text_length, 1)
        with torch.inference_mode():
            expected = model(*check)["logits"].numpy()
        feeds = {"pixel_values": check[0].numpy(), "input_ids": check[1].numpy(), "attention_mask": check[2].numpy()}
        got = ort_session(fp32, 1).run(["logits"], feeds)[0]
        got8 = ort_session(int8, 1).run(["logits"], feeds)[0]
        done = "reused" if args.reuse_onnx and fresh else f"exported in {time.perf_counter() - t0:.0f} s:"
        print(f"{name}: {directory} {done} {fp32} + int8; "
              f"max |logit ORT fp32 - PyTorch| {np.abs(got - expected).max():.2e}, int8 {np.abs(got8 - expected).max():.2e}")
        models[name] = (directory, model, config, fp32, int8)

    print(f"torch {torch.__version__}, onnxruntime {ort.__version__}; T = {args.text_length}; "
          f"{args.rounds} rounds x {args.runs} runs per engine and case")
    results = {}
    for round_index in range(args.rounds):
        for model_name, threads, batch in cases:
            directory, model, config, fp32, int8 = models[model_name]
            key = (model_name, threads, batch)
            pixels, ids, mask = make_inputs(config, batch, args.text_length, 2)
            feeds = {"pixel_values": pixels.numpy(), "input_ids": ids.numpy(), "attention_mask": mask.numpy()}
            row = results.setdefault(key, {})
            for label, path in (("ORT fp32", fp32), ("ORT int8", int8)):
                session = ort_session(path, threads)
                row.setdefault(label, []).append(time_runs(lambda: session.run(None, feeds), args.runs))
            torch.set_num_threads(threads)
            with torch.inference_mode():
                row.setdefault("PyTorch", []).append(time_runs(lambda: model(pixels, ids, mask), args.runs))
            for label, path, precision in binaries:
                row.setdefault(label, []).append(time_binary(path, directory, threads, batch, args.runs,
                                                             args.text_length, precision))
            print(f"  round {round_index + 1}: {model_name} {threads} thread(s) B={batch}, ms/request wall (CPU): "
                  + ", ".join(f"{k} {v[-1][0] / batch * 1e3:.2f} ({v[-1][1] / batch * 1e3:.2f})" for k, v in row.items())
                  + f"; load average {os.getloadavg()[0]:.1f}", flush=True)

    engines = ["ORT fp32", "ORT int8", "PyTorch"] + [label for label, _, _ in binaries]
    for title, index in (("wall time", 0), ("process CPU time (all threads)", 1)):
        print(f"\nms/request, {title}: median over rounds of each round's median; "
              "ratios are throughput (> 1 = fusion-serve faster)")
        print("| case | " + " | ".join(engines) + " | "
              + " | ".join(f"{label} vs ORT {ort_precision(precision)} | {label} vs PyTorch" for label, _, precision in binaries) + " |")
        print("|---" * (1 + len(engines) + 2 * len(binaries)) + "|")
        for (model_name, threads, batch), row in results.items():
            med = {k: statistics.median(sample[index] for sample in v) / batch for k, v in row.items()}
            cells = [f"{med[e] * 1e3:.2f}" for e in engines]
            ratios = [f"{med['ORT ' + ort_precision(precision)] / med[label]:.2f}x | {med['PyTorch'] / med[label]:.2f}x"
                      for label, _, precision in binaries]
            print(f"| {model_name}, {threads} thread(s), B={batch} | " + " | ".join(cells) + " | " + " | ".join(ratios) + " |")
            for label, _, precision in binaries:
                own = label[: -len(" " + precision)] if precision != "fp32" else None
                if precision == "bf16" and own in med:
                    print(f"  {model_name}, {threads} thread(s), B={batch}: {label} vs its fp32: {med[own] / med[label]:.2f}x")


def ort_precision(precision: str) -> str:
    """The ONNX Runtime run a fusion-serve precision is compared with (no ORT bf16 on CPU)."""
    return "int8" if precision == "int8" else "fp32"

if __name__ == "__main__":
    main()
