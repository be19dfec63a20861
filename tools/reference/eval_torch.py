#!/usr/bin/env python3
"""PyTorch accuracy of a model directory on a JSONL of image–caption pairs.

    python3 tools/reference/eval_torch.py --model models/default DATA.jsonl
        [--outputs OUT.json] [--summary SUMMARY.json] [--batch 8]

Each line is `{"image": PATH, "text": STRING, "label": NAME or INDEX}`, PATH relative to the
JSONL's folder (or absolute). Every image goes through the seed's pipeline from its encoded
file: `PIL.Image.open(path).convert("RGB")`, `Resize((S, S))`, `ToTensor`, `Normalize(mean,
std)` from config.json; text through `BertTokenizerFast(vocab.txt, do_lower_case)` truncated
to `max_text_length`. The model is `fusion_reference.load_model_dir` (float32, eager attention),
the same numbers the Swift runtime is checked against.

Prints accuracy, the confusion matrix (rows = true label), and, when the folder has the
`scenes.jsonl` written by dataset.py, accuracy by what a negative changed and by image kind.
`--outputs` writes every pair's logits, scores, label and gate (a JSON list, input order),
and next to it OUT.meta.json with the command and the library versions.
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import time

import torch
from PIL import Image
from torchvision import transforms

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from fusion_reference import load_model_dir, pad_batch  # noqa: E402
from train import load_tokenizer  # noqa: E402


def write_outputs_meta(a: argparse.Namespace) -> None:
    """Next to `--outputs X.json`, X.meta.json: the command and library versions that made it."""
    import platform

    import PIL
    import torchvision
    import transformers
    root = os.path.dirname(os.path.dirname(HERE))
    rel = lambda p: os.path.relpath(os.path.abspath(p), root)  # noqa: E731
    meta = {"generator": "tools/reference/eval_torch.py",
            "command": f"python3 tools/reference/eval_torch.py --model {rel(a.model)} {rel(a.data)} "
                       f"--outputs {rel(a.outputs)} --batch {a.batch} --threads {a.threads}",
            "torch": torch.__version__, "torchvision": torchvision.__version__, "pillow": PIL.__version__,
            "transformers": transformers.__version__, "python": platform.python_version()}
    path = os.path.splitext(a.outputs)[0] + ".meta.json"
    with open(path, "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True)
    p.add_argument("data", help="JSONL of {image, text, label}")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--outputs", help="write per-pair outputs here (JSON list)")
    p.add_argument("--summary", help="write accuracy and confusion matrix here (JSON)")
    a = p.parse_args()

    torch.set_num_threads(a.threads)
    model, config = load_model_dir(a.model)
    labels = config["labels"]
    pre = config["preprocess"]
    size = config["image_encoder"]["image_size"]
    tf = transforms.Compose([transforms.Resize((size, size)), transforms.ToTensor(),
                             transforms.Normalize(mean=pre["mean"], std=pre["std"])])
    tok = load_tokenizer(os.path.join(a.model, "vocab.txt"), pre.get("do_lower_case", True))
    max_len = pre.get("max_text_length", 512)

    base = os.path.dirname(os.path.abspath(a.data))
    rows = [json.loads(line) for line in open(a.data) if line.strip()]
    scenes = {}
    scenes_file = os.path.join(base, "scenes.jsonl")
    if os.path.exists(scenes_file):
        for line in open(scenes_file):
            d = json.loads(line)
            scenes[d["image"]] = d

    def label_index(v) -> int:
        return v if isinstance(v, int) else labels.index(v)

    confusion = [[0] * len(labels) for _ in labels]
    outputs = []
    by_kind = collections.defaultdict(lambda: [0, 0])
    t0 = time.time()
    with torch.no_grad():
        for s in range(0, len(rows), a.batch):
            chunk = rows[s:s + a.batch]
            x = torch.stack([tf(Image.open(os.path.join(base, r["image"])).convert("RGB"))
                             for r in chunk])
            ids, mask = pad_batch(tok(r["text"], truncation=True, max_length=max_len)["input_ids"]
                                  for r in chunk)
            out = model(x, ids, mask)
            for j, r in enumerate(chunk):
                pred = int(out["logits"][j].argmax())
                truth = label_index(r["label"])
                confusion[truth][pred] += 1
                outputs.append({"image": r["image"], "text": r["text"], "label": labels[pred],
                                "logits": out["logits"][j].tolist(),
                                "scores": dict(zip(labels, out["scores"][j].tolist())),
                                "gate": {"image": float(out["gate"][j, 0]),
                                         "text": float(out["gate"][j, 1])}})
                sc = scenes.get(r["image"])
                if sc is not None:
                    changed = next((q.get("changed") for q in sc["pairs"] if q["text"] == r["text"]),
                                   None)
                    keys = [f"negative changing {changed}" if changed else f"true label {labels[truth]}",
                            f"{len(sc['objects'])} shape(s)",
                            "grayscale" if sc["grayscale"] else
                            f"{sc['encoding']['format']} {sc['encoding'].get('mode', 'RGB')}",
                            f"{sc['background']} background"]
                    for k in keys:
                        by_kind[k][0] += pred == truth
                        by_kind[k][1] += 1
    seconds = time.time() - t0
    n = len(rows)
    right = sum(confusion[i][i] for i in range(len(labels)))
    acc = right / n
    print(f"accuracy {acc * 100:.2f}% ({right}/{n}) — {a.model} on {a.data}")
    print("confusion (rows = true, columns = predicted):")
    width = max(len(x) for x in labels)
    print(" " * (width + 2) + "  ".join(f"{x:>{width}}" for x in labels))
    for i, row in enumerate(confusion):
        print(f"{labels[i]:>{width}}  " + "  ".join(f"{v:>{width}}" for v in row))
    for k in sorted(by_kind):
        r, t = by_kind[k]
        print(f"  {k:<28} {r / t * 100:6.2f}%  ({r}/{t})")
    print(f"{n / seconds:.1f} pairs/s (batch {a.batch}, {a.threads} threads)")
    if a.outputs:
        with open(a.outputs, "w") as f:
            json.dump(outputs, f, indent=1)
            f.write("\n")
        write_outputs_meta(a)
    if a.summary:
        with open(a.summary, "w") as f:
            json.dump({"accuracy": acc, "correct": right, "total": n, "labels": labels,
                       "confusion": confusion}, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
