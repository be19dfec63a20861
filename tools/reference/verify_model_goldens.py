#!/usr/bin/env python3
"""Re-run the committed model goldens through `load_model_dir`, as the Swift tests will.

    python3 tools/reference/verify_model_goldens.py

For each Tests/Fixtures/goldens/model/<name>.json, loads Tests/Fixtures/models/<name>/
(for minilm-fusion: a temporary directory linking minilm.safetensors and vocab.txt from
.cache/minilm/, exactly what the Swift test assembles), runs every case alone and reports the
largest difference per output. Exits non-zero above the issue's tolerances (1e-4 logits and
embedding, 1e-5 gate) or on a label mismatch.
"""

from __future__ import annotations

import glob
import json
import os
import sys
import tempfile

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from fusion_reference import load_model_dir, pad_batch  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(HERE))
TOLERANCE = {"logits": 1e-4, "scores": 1e-4, "embedding": 1e-4, "gate": 1e-5}
LINKED = {"minilm-fusion": {"minilm.safetensors": "model.safetensors", "vocab.txt": "vocab.txt"}}


def main() -> int:
    torch.set_grad_enabled(False)
    failed = False
    for path in sorted(glob.glob(os.path.join(ROOT, "Tests/Fixtures/goldens/model/*.json"))):
        if os.path.basename(path) == "meta.json":   # generator and versions, not a golden
            continue
        with open(path) as f:
            golden = json.load(f)
        name = golden["model"]
        src = os.path.join(ROOT, "Tests/Fixtures/models", name)
        with tempfile.TemporaryDirectory() as tmp:
            directory = src
            if name in LINKED:
                cache = os.path.join(ROOT, ".cache/minilm")
                if not all(os.path.exists(os.path.join(cache, t)) for t in LINKED[name].values()):
                    print(f"{name}: skipped, {cache} incomplete (run tools/fetch-minilm.sh)")
                    continue
                for entry in os.listdir(src):
                    os.symlink(os.path.join(src, entry), os.path.join(tmp, entry))
                for link, target in LINKED[name].items():
                    os.symlink(os.path.join(cache, target), os.path.join(tmp, link))
                directory = tmp
            model, cfg = load_model_dir(directory)
            s = cfg["image_encoder"]["image_size"]
            worst = dict.fromkeys(TOLERANCE, 0.0)
            for case in golden["cases"]:
                ids, mask = pad_batch([case["input_ids"]])
                px = torch.tensor(case["pixels"], dtype=torch.float32).view(1, 3, s, s)
                out = model(px, ids, mask)
                for k in TOLERANCE:
                    want = torch.tensor(case[k], dtype=torch.float32)
                    worst[k] = max(worst[k], (out[k][0] - want).abs().max().item())
                if int(out["logits"][0].argmax()) != case["label"]:
                    print(f"{name}: label mismatch in case {case['input_ids']}")
                    failed = True
            bad = [k for k in TOLERANCE if worst[k] > TOLERANCE[k]]
            failed |= bool(bad)
            print(f"{name}: {len(golden['cases'])} cases, max diff "
                  + ", ".join(f"{k} {v:.2g}" for k, v in worst.items()) + (f"  FAIL {bad}" if bad else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
