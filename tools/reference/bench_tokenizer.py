#!/usr/bin/env python3
"""Tokenizer throughput: Hugging Face `tokenizers` (BertTokenizerFast's backend) against
`fusion-serve bench-tokenizer`, one thread each, on the same JSON Lines corpus.

The reference is measured two ways, one string at a time (`Tokenizer.encode`) and as one
batch (`Tokenizer.encode_batch`, kept on one thread by TOKENIZERS_PARALLELISM=false and
RAYON_NUM_THREADS=1); the ratio is taken against the faster of the two. Each round encodes
the corpus --passes times; medians over --rounds rounds are reported.

Usage (from the repository root, after `swift build -c release`):
  python3 tools/reference/bench_tokenizer.py
  python3 tools/reference/bench_tokenizer.py --kinds prose,caption,english
"""
import os

os.environ["TOKENIZERS_PARALLELISM"] = "false"
os.environ["RAYON_NUM_THREADS"] = "1"

import argparse
import json
import shutil
import statistics
import subprocess
import tempfile
import time

import tokenizers
import transformers

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
VOCAB = os.path.join(ROOT, "Tests", "Fixtures", "vocab", "bert-base-uncased", "vocab.txt")
CORPUS = os.path.join(ROOT, "Tests", "Fixtures", "goldens", "tokenizer", "uncased.jsonl")
BINARY = os.path.join(ROOT, ".build", "release", "fusion-serve")


def load_corpus(path, kinds):
    texts = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            item = json.loads(line)
            if isinstance(item, str):
                if kinds is None:
                    texts.append(item)
            elif kinds is None or item.get("kind") in kinds:
                texts.append(item["text"])
    return texts


def reference(vocab, lower, max_length):
    tmp = tempfile.mkdtemp()
    shutil.copy(vocab, os.path.join(tmp, "vocab.txt"))
    tok = transformers.BertTokenizerFast.from_pretrained(tmp, do_lower_case=lower)
    shutil.rmtree(tmp)
    backend = tok.backend_tokenizer
    backend.no_padding()
    backend.enable_truncation(max_length=max_length)
    return backend


def timed(fn, rounds):
    seconds = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", default=CORPUS)
    ap.add_argument("--kinds", help="comma-separated kinds to keep (default: all lines)")
    ap.add_argument("--vocab", default=VOCAB)
    ap.add_argument("--cased", action="store_true", help="do_lower_case false")
    ap.add_argument("--max-length", type=int, default=512)
    ap.add_argument("--passes", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--swift", default=BINARY, help="fusion-serve binary ('' to skip)")
    args = ap.parse_args()

    kinds = set(args.kinds.split(",")) if args.kinds else None
    texts = load_corpus(args.corpus, kinds)
    tk = reference(args.vocab, not args.cased, args.max_length)
    n_bytes = sum(len(t.encode("utf-8")) for t in texts)
    tokens = sum(len(e.ids) for e in tk.encode_batch(texts))
    print(f"corpus: {len(texts)} strings, {n_bytes} bytes, {tokens} ids per pass, "
          f"max_length {args.max_length}; tokenizers {tokenizers.__version__}, single thread")

    def one_by_one():
        for _ in range(args.passes):
            for t in texts:
                tk.encode(t)

    def batch():
        for _ in range(args.passes):
            tk.encode_batch(texts)

    results = {}
    for name, fn in (("tokenizers encode (one by one)", one_by_one),
                     ("tokenizers encode_batch", batch)):
        s = timed(fn, args.rounds)
        results[name] = s
        n = len(texts) * args.passes
        print(f"{name}: median {s:.4f} s per {args.passes} passes → {n / s:.0f} strings/s, "
              f"{tokens * args.passes / s:.0f} tokens/s")
    best_name = min(results, key=results.get)
    best = results[best_name]

    if not args.swift:
        return
    cmd = [args.swift, "bench-tokenizer", "--vocab", args.vocab, "--corpus", args.corpus,
           "--max-length", str(args.max_length), "--passes", str(args.passes),
           "--rounds", str(args.rounds), "--json",
           "--no-do-lower-case" if args.cased else "--do-lower-case"]
    if args.kinds:
        cmd += ["--kinds", args.kinds]
    out = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    if out["tokens"] != tokens or out["strings"] != len(texts):
        raise SystemExit(f"corpus mismatch: swift saw {out['strings']} strings / {out['tokens']} "
                         f"ids, tokenizers {len(texts)} / {tokens}")
    s = out["median_seconds"]
    n = len(texts) * args.passes
    print(f"swift BertTokenizer: median {s:.4f} s per {args.passes} passes → {n / s:.0f} strings/s, "
          f"{tokens * args.passes / s:.0f} tokens/s")
    print(f"ratio (swift / {best_name}): {best / s:.2f}x")


if __name__ == "__main__":
    main()
