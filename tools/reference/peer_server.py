#!/usr/bin/env python3
"""The Python peer of issue 14's service-path target: the same model served the way people do
it today — FastAPI + uvicorn + PyTorch + Pillow/torchvision + BertTokenizerFast — with dynamic
batching of at most 8 requests or 2 ms, whichever comes first.

It answers `POST /infer` with fusion-serve's JSON body (`{"image": base64, "text": ...}`) and the
same top-level fields fusion-serve's load generator reads (`label`, `logits`, `scores`,
`batch_size`), so `fusion-serve bench` drives both servers identically
(`tools/bench/peer_vs_fusion.sh`). Never needed to build, test or serve fusion-serve.

    python tools/reference/peer_server.py --model models/default --port 8090 [--threads 2]

Design, as a careful Python developer would write it:
- decoding, resizing and tokenizing run in Starlette's thread pool (`run_in_threadpool`), so
  the event loop keeps accepting while Pillow and the tokenizer (which release the GIL) work;
- one batcher task collects requests from an asyncio queue, up to `--max-batch` or until
  `--max-delay-ms` after the first, and runs the forward pass on one dedicated thread (PyTorch
  uses `--threads` intra-op threads), so batches never run concurrently and fight for cores;
- `torch.inference_mode()`, the model in eval mode, float32 — as the reference trains it.
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import contextlib
import io
import os
import sys
from concurrent.futures import ThreadPoolExecutor

import torch
import uvicorn
from fastapi import FastAPI, HTTPException
from fastapi.concurrency import run_in_threadpool
from PIL import Image, UnidentifiedImageError
from pydantic import BaseModel
from torchvision import transforms
from transformers import BertTokenizerFast

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fusion_reference import load_model_dir, pad_batch  # noqa: E402


class InferBody(BaseModel):
    image: str
    text: str


class Batcher:
    """Dynamic batching: at most `max_batch` requests, waiting at most `max_delay` seconds
    after the first one for more."""

    def __init__(self, model, max_batch: int, max_delay: float):
        self.model = model
        self.max_batch = max_batch
        self.max_delay = max_delay
        self.queue: asyncio.Queue = asyncio.Queue(maxsize=1024)
        self.forward_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="forward")

    async def submit(self, pixels: torch.Tensor, ids: list[int]) -> dict:
        future = asyncio.get_running_loop().create_future()
        await self.queue.put((pixels, ids, future))
        return await future

    def _forward(self, items) -> dict:
        with torch.inference_mode():
            x = torch.stack([p for p, _, _ in items])
            ids, mask = pad_batch(i for _, i, _ in items)
            out = self.model(x, ids, mask)
            return {k: v.tolist() for k, v in out.items() if k in ("logits", "scores", "gate")}

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            items = [await self.queue.get()]
            deadline = loop.time() + self.max_delay
            while len(items) < self.max_batch:
                timeout = deadline - loop.time()
                if timeout <= 0:
                    break
                try:
                    items.append(await asyncio.wait_for(self.queue.get(), timeout))
                except asyncio.TimeoutError:
                    break
            try:
                out = await loop.run_in_executor(self.forward_thread, self._forward, items)
            except Exception as error:  # the whole batch fails, each request answers 500
                for _, _, future in items:
                    if not future.done():
                        future.set_exception(error)
                continue
            for j, (_, _, future) in enumerate(items):
                if not future.done():
                    future.set_result({"logits": out["logits"][j], "scores": out["scores"][j],
                                       "gate": out["gate"][j], "batch_size": len(items)})


def build_app(model_dir: str, max_batch: int, max_delay_ms: float) -> FastAPI:
    model, config = load_model_dir(model_dir)
    labels = config["labels"]
    pre = config["preprocess"]
    size = config["image_encoder"]["image_size"]
    max_len = pre.get("max_text_length", 512)
    pipeline = transforms.Compose([transforms.Resize((size, size)), transforms.ToTensor(),
                                   transforms.Normalize(mean=pre["mean"], std=pre["std"])])
    tokenizer = BertTokenizerFast(vocab=os.path.join(model_dir, "vocab.txt"),
                                  do_lower_case=pre.get("do_lower_case", True))
    batcher = Batcher(model, max_batch, max_delay_ms / 1000)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI):
        task = asyncio.create_task(batcher.run())
        yield
        task.cancel()

    app = FastAPI(lifespan=lifespan)

    def preprocess(body: InferBody):
        try:
            data = base64.b64decode(body.image, validate=True)
            image = Image.open(io.BytesIO(data)).convert("RGB")
        except (binascii.Error, UnidentifiedImageError, OSError) as error:
            raise HTTPException(status_code=400, detail=f"bad image: {error}") from error
        ids = tokenizer(body.text, truncation=True, max_length=max_len)["input_ids"]
        return pipeline(image), ids

    @app.get("/healthz")
    async def healthz() -> dict:
        return {"status": "ok"}

    @app.post("/infer")
    async def infer(body: InferBody) -> dict:
        pixels, ids = await run_in_threadpool(preprocess, body)
        out = await batcher.submit(pixels, ids)
        best = max(range(len(labels)), key=lambda i: out["logits"][i])
        return {"label": labels[best], "logits": out["logits"],
                "scores": dict(zip(labels, out["scores"])),
                "gate": {"image": out["gate"][0], "text": out["gate"][1]},
                "batch_size": out["batch_size"]}

    return app


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="models/default")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8090)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                   help="PyTorch intra-op threads (default: every CPU)")
    p.add_argument("--max-batch", type=int, default=8)
    p.add_argument("--max-delay-ms", type=float, default=2.0)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    app = build_app(a.model, a.max_batch, a.max_delay_ms)
    uvicorn.run(app, host=a.host, port=a.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
