"""Open Inference Protocol (KServe v2) tests, driven by clients none of us wrote: Triton's
`tritonclient[http]` and the KServe SDK's `InferenceRESTClient`, against the real binary on
loopback serving models/default (issue 16).

    tools/ci/protocol-tests.sh [-k EXPRESSION]     (pytest in the test venv; the server is the
                                                   session fixture `server` of conftest.py)

Environment: FUSION_SERVE_BIN (default .build/debug/fusion-serve). Every wait is bounded, each
server started is stopped at the end, only 127.0.0.1 is used.
"""
import asyncio
import base64
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import tritonclient.http as triton
from tritonclient.utils import InferenceServerException

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
BIN = Path(os.environ.get("FUSION_SERVE_BIN", ROOT / ".build/debug/fusion-serve")).resolve()
MODEL = ROOT / "models/default"
EVAL = ROOT / "Tests/Fixtures/eval"
MODEL_NAME = "shapes-match"
START_TIMEOUT_S = 60


class Failure(AssertionError):
    pass


def expect(condition, message):
    if not condition:
        raise Failure(message)


def close(a, b, tolerance, what):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    expect(a.shape == b.shape, f"{what}: shapes {a.shape} and {b.shape}")
    worst = float(np.max(np.abs(a - b))) if a.size else 0.0
    expect(worst <= tolerance, f"{what}: differ by {worst} > {tolerance}\n{a}\n{b}")


class Server:
    """`fusion-serve serve` on an ephemeral port; its log goes to a temporary file."""

    def __init__(self, *arguments, workers=2):
        self.log_file = tempfile.NamedTemporaryFile(prefix="protocol-tests-", suffix=".log", delete=False)
        self.process = subprocess.Popen(
            [str(BIN), "serve", "--port", "0", "--model", str(MODEL), "--workers", str(workers), *arguments],
            stdout=self.log_file, stderr=subprocess.STDOUT, cwd=ROOT)
        deadline = time.monotonic() + START_TIMEOUT_S
        self.port = None
        while time.monotonic() < deadline and self.process.poll() is None:
            match = re.search(r'address"?[=:]"?127\.0\.0\.1:(\d+)', self.log())
            if match:
                self.port = int(match.group(1))
                break
            time.sleep(0.05)
        if self.port is None:
            self.stop()
            raise Failure(f"server did not start:\n{self.log()}")
        while time.monotonic() < deadline:
            try:
                if self.get("/healthz")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        raise Failure(f"server never became ready:\n{self.log()}")

    @property
    def url(self):
        return f"127.0.0.1:{self.port}"

    def log(self):
        return Path(self.log_file.name).read_text(errors="replace")

    def request(self, method, path, body=None, headers=None):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            connection.close()

    def get(self, path, headers=None):
        return self.request("GET", path, headers=headers)

    def infer_v1(self, image, text):
        """The same pair through our own POST /infer (JSON, base64 image)."""
        body = json.dumps({"image": base64.b64encode(image).decode(), "text": text}).encode()
        status, _, answer = self.request("POST", "/infer", body, {"Content-Type": "application/json"})
        expect(status == 200, f"/infer answered {status}: {answer[:300]!r}")
        return json.loads(answer)

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.log_file.close()
        os.unlink(self.log_file.name)


def eval_pairs(count):
    pairs = []
    with open(EVAL / "eval.jsonl") as lines:
        for line in lines:
            entry = json.loads(line)
            pairs.append(((EVAL / entry["image"]).read_bytes(), entry["text"]))
            if len(pairs) == count:
                break
    return pairs


def bytes_input(name, values, binary=True):
    tensor = triton.InferInput(name, [len(values)], "BYTES")
    tensor.set_data_from_numpy(np.array(values, dtype=np.object_), binary_data=binary)
    return tensor


def image_text_inputs(pairs, text_binary=True):
    return [bytes_input("image", [image for image, _ in pairs]),
            bytes_input("text", [text.encode() for _, text in pairs], binary=text_binary)]


def check_against_v1(server, result, pairs, tolerance=1e-5):
    """Every output of a v2 answer equals POST /infer's answer for the same pair."""
    logits = result.as_numpy("logits")
    scores = result.as_numpy("scores")
    gate = result.as_numpy("gate")
    labels = result.as_numpy("label")
    expect(logits.shape == (len(pairs), 2), f"logits shape {logits.shape}")
    for i, (image, text) in enumerate(pairs):
        single = server.infer_v1(image, text)
        close(logits[i], single["logits"], tolerance, f"item {i} logits")
        close(scores[i], [single["scores"]["no_match"], single["scores"]["match"]], tolerance, f"item {i} scores")
        close(gate[i], [single["gate"]["image"], single["gate"]["text"]], tolerance, f"item {i} gate")
        expect(labels[i].decode() == single["label"], f"item {i} label {labels[i]!r} vs {single['label']}")


# MARK: Tests (each takes the shared server)

def test_health_and_metadata(server):
    client = triton.InferenceServerClient(server.url)
    expect(client.is_server_live(), "is_server_live")
    expect(client.is_server_ready(), "is_server_ready")
    expect(client.is_model_ready(MODEL_NAME), "is_model_ready")
    expect(client.is_model_ready(MODEL_NAME, "1"), "is_model_ready version 1")
    expect(not client.is_model_ready("no-such-model"), "an unknown model is not ready")
    metadata = client.get_server_metadata()
    expect(metadata["name"] == "fusion-serve", f"server metadata {metadata}")
    expect({"binary_tensor_data", "statistics", "model_repository"} <= set(metadata["extensions"]), f"extensions {metadata}")
    model = client.get_model_metadata(MODEL_NAME)
    expect(model["name"] == MODEL_NAME and model["versions"] == ["1"], f"model metadata {model}")
    inputs = {tensor["name"]: (tensor["datatype"], tensor["shape"]) for tensor in model["inputs"]}
    expect(inputs["image"] == ("BYTES", [-1]) and inputs["text"] == ("BYTES", [-1]), f"inputs {inputs}")
    expect(inputs["pixel_values"] == ("FP32", [-1, 3, 224, 224]) and inputs["input_ids"] == ("INT64", [-1, -1]),
           f"inputs {inputs}")
    outputs = {tensor["name"]: (tensor["datatype"], tensor["shape"]) for tensor in model["outputs"]}
    expect(outputs == {"logits": ("FP32", [-1, 2]), "scores": ("FP32", [-1, 2]), "gate": ("FP32", [-1, 2]),
                       "embedding": ("FP32", [-1, 128]), "label": ("BYTES", [-1])}, f"outputs {outputs}")
    config = client.get_model_config(MODEL_NAME)
    expect(config["name"] == MODEL_NAME and config["max_batch_size"] == 64, f"config {config}")
    expect(config["dynamic_batching"]["preferred_batch_size"] == [8], f"dynamic batching {config}")
    expect(config["instance_group"][0]["count"] == 2 and config["instance_group"][0]["kind"] == "KIND_CPU", f"{config}")
    expect([o["name"] for o in config["output"]] == ["logits", "scores", "gate", "embedding", "label"], f"{config}")
    try:
        client.get_model_metadata("no-such-model")
        raise Failure("metadata of an unknown model")
    except InferenceServerException as error:
        expect(error.status() == "404" and "unknown model" in error.message(), f"{error.status()} {error.message()}")


def test_infer_binary_bytes_and_json_text(server):
    client = triton.InferenceServerClient(server.url)
    pairs = eval_pairs(1)
    binary = client.infer(MODEL_NAME, image_text_inputs(pairs), request_id="binary-1")
    expect(binary.get_response()["id"] == "binary-1", f"id echoed: {binary.get_response()}")
    check_against_v1(server, binary, pairs)
    # The caption as a JSON string (the image stays binary: JPEG bytes are not UTF-8).
    mixed = client.infer(MODEL_NAME, image_text_inputs(pairs, text_binary=False),
                         outputs=[triton.InferRequestedOutput("logits", binary_data=False),
                                  triton.InferRequestedOutput("label", binary_data=False)],
                         request_id="json-text")
    response = mixed.get_response()
    expect(response["id"] == "json-text", f"id echoed: {response}")
    expect([o["name"] for o in response["outputs"]] == ["logits", "label"], f"only the requested outputs: {response}")
    expect(all("data" in o for o in response["outputs"]), f"JSON outputs carry data: {response}")
    close(mixed.as_numpy("logits"), binary.as_numpy("logits"), 1e-6, "JSON vs binary logits")
    # tritonclient gives JSON BYTES as str and binary BYTES as bytes.
    expect([label for label in mixed.as_numpy("label")] == [label.decode() for label in binary.as_numpy("label")],
           f"labels {mixed.as_numpy('label')} {binary.as_numpy('label')}")
    expect(mixed.as_numpy("embedding") is None, "embedding was not requested")


def test_five_items_equal_five_single_infer_calls(server):
    client = triton.InferenceServerClient(server.url)
    pairs = eval_pairs(5)
    result = client.infer(MODEL_NAME, image_text_inputs(pairs), request_id="five")
    expect(result.get_response()["id"] == "five", "id echoed")
    expect(result.as_numpy("embedding").shape == (5, 128), "every output by default, embedding included")
    check_against_v1(server, result, pairs)


def preprocessed(image_path, text):
    """pixel_values and input_ids as `fusion-serve preprocess` and `tokenize` write them."""
    with tempfile.TemporaryDirectory() as directory:
        npy = Path(directory) / "pixels.npy"
        subprocess.run([str(BIN), "preprocess", "--model", str(MODEL), str(image_path), "--output", str(npy)],
                       check=True, capture_output=True, timeout=60)
        pixels = np.load(npy)
    ids = subprocess.run([str(BIN), "tokenize", "--model", str(MODEL)], input=json.dumps(text) + "\n",
                         check=True, capture_output=True, text=True, timeout=60).stdout
    return pixels, json.loads(ids)


def test_preprocessed_fp32_int64_tensors_match_the_image_path(server):
    client = triton.InferenceServerClient(server.url)
    entries = [json.loads(line) for line in (EVAL / "eval.jsonl").read_text().splitlines()[:3]]
    tensors = [preprocessed(EVAL / e["image"], e["text"]) for e in entries]
    length = max(len(ids) for _, ids in tensors)
    pixel_values = np.stack([pixels for pixels, _ in tensors]).astype(np.float32)
    input_ids = np.zeros((len(tensors), length), dtype=np.int64)
    mask = np.zeros((len(tensors), length), dtype=np.int64)
    for i, (_, ids) in enumerate(tensors):
        input_ids[i, :len(ids)] = ids
        mask[i, :len(ids)] = 1
    inputs = [triton.InferInput("pixel_values", list(pixel_values.shape), "FP32"),
              triton.InferInput("input_ids", list(input_ids.shape), "INT64"),
              triton.InferInput("attention_mask", list(mask.shape), "INT64")]
    for tensor, array in zip(inputs, (pixel_values, input_ids, mask)):
        tensor.set_data_from_numpy(array)
    result = client.infer(MODEL_NAME, inputs)
    images = client.infer(MODEL_NAME, image_text_inputs([((EVAL / e["image"]).read_bytes(), e["text"]) for e in entries]))
    expect(len(set(len(ids) for _, ids in tensors)) > 1, "the captions differ in length, so padding is exercised")
    close(result.as_numpy("logits"), images.as_numpy("logits"), 1e-4, "tensor path vs image path logits")
    close(result.as_numpy("embedding"), images.as_numpy("embedding"), 1e-4, "tensor path vs image path embedding")


def test_sixty_four_concurrent_async_infer(server):
    client = triton.InferenceServerClient(server.url, concurrency=64)
    pairs = eval_pairs(8)
    expected = {}
    for i, pair in enumerate(pairs):
        expected[i] = client.infer(MODEL_NAME, image_text_inputs([pair])).as_numpy("logits")[0]
    pending = [(i, client.async_infer(MODEL_NAME, image_text_inputs([pairs[i % len(pairs)]]), request_id=f"a{i}"))
               for i in range(64)]
    for i, request in pending:
        result = request.get_result(timeout=120)
        expect(result.get_response()["id"] == f"a{i}", f"id of async request {i}")
        close(result.as_numpy("logits")[0], expected[i % len(pairs)], 1e-5, f"async request {i}")
    client.close()


def test_protocol_errors(server):
    client = triton.InferenceServerClient(server.url)
    pairs = eval_pairs(3)

    def refused(inputs, model=MODEL_NAME, **kwargs):
        try:
            client.infer(model, inputs, **kwargs)
        except InferenceServerException as error:
            return error.status(), error.message()
        raise Failure("the request was accepted")

    wrong = [bytes_input("picture", [pairs[0][0]]), bytes_input("text", [b"a red circle"])]
    status, message = refused(wrong)
    expect(status == "400" and "unexpected inference input 'picture'" in message, f"{status} {message}")

    corrupt = pairs[0][0][:200] + b"\x00" * 50
    status, message = refused(image_text_inputs([pairs[0], (corrupt, "a red circle"), pairs[2]]))
    expect(status == "400" and "item 1 of 3" in message and "cannot be decoded" in message, f"{status} {message}")

    status, message = refused(image_text_inputs(pairs[:1]), model="no-such-model")
    expect(status == "404" and "unknown model" in message, f"{status} {message}")

    status, message = refused(image_text_inputs(pairs[:1]),
                              outputs=[triton.InferRequestedOutput("probabilities")])
    expect(status == "400" and "unexpected inference output 'probabilities'" in message, f"{status} {message}")

    # What tritonclient cannot send: a lying binary header, and a shape that claims too much.
    body = json.dumps({"inputs": [{"name": "text", "datatype": "BYTES", "shape": [1],
                                   "parameters": {"binary_data_size": 1000}}]}).encode()
    status, _, answer = server.request("POST", f"/v2/models/{MODEL_NAME}/infer", body + b"abc",
                                       {"Inference-Header-Content-Length": str(len(body))})
    error = json.loads(answer)
    expect(status == 400 and isinstance(error["error"], str) and "binary_data_size 1000" in error["error"],
           f"{status} {answer[:300]!r}")
    body = json.dumps({"inputs": [{"name": "text", "datatype": "BYTES", "shape": [4294967296, 4294967296],
                                   "data": ["x"]}]}).encode()
    status, _, answer = server.request("POST", f"/v2/models/{MODEL_NAME}/infer", body)
    expect(status == 400 and "more elements" in json.loads(answer)["error"], f"{status} {answer[:300]!r}")
    status, _, answer = server.request("POST", f"/v2/models/{MODEL_NAME}/infer", b"{not json")
    expect(status == 400 and "error" in json.loads(answer), f"{status} {answer[:300]!r}")
    # The server still answers after all that.
    expect(client.infer(MODEL_NAME, image_text_inputs(pairs[:1])).as_numpy("logits").shape == (1, 2), "still serving")


def test_statistics_count_the_inferences(server):
    client = triton.InferenceServerClient(server.url)
    before = client.get_inference_statistics(MODEL_NAME)["model_stats"][0]
    client.infer(MODEL_NAME, image_text_inputs(eval_pairs(4)))
    try:
        client.infer(MODEL_NAME, [bytes_input("image", [b"not an image"]), bytes_input("text", [b"x"])])
        raise Failure("a corrupt image was accepted")
    except InferenceServerException:
        pass
    after = client.get_inference_statistics(MODEL_NAME)["model_stats"][0]
    expect(after["name"] == MODEL_NAME and after["version"] == "1", f"{after}")
    expect(int(after["inference_count"]) == int(before["inference_count"]) + 4, f"4 more items: {before} -> {after}")
    expect(int(after["execution_count"]) > int(before["execution_count"]), f"at least one more batch: {after}")
    success = after["inference_stats"]["success"]
    expect(int(success["count"]) == int(before["inference_stats"]["success"]["count"]) + 1, f"{after}")
    expect(int(after["inference_stats"]["compute_infer"]["ns"]) > int(before["inference_stats"]["compute_infer"]["ns"]),
           f"forward-pass time grows: {after}")
    expect(int(after["inference_stats"]["fail"]["count"]) == int(before["inference_stats"]["fail"]["count"]) + 1,
           f"one more failed request: {after}")


def test_kserve_rest_client(server):
    from kserve import InferenceRESTClient, InferInput, InferRequest, RESTConfig

    pairs = eval_pairs(2)

    async def run():
        client = InferenceRESTClient(RESTConfig(protocol="v2", timeout=60))
        try:
            image = InferInput("image", [2], "BYTES")
            image.set_data_from_numpy(np.array([p[0] for p in pairs], dtype=np.object_), binary_data=True)
            text = InferInput("text", [2], "BYTES", data=[p[1] for p in pairs])
            request = InferRequest(model_name=MODEL_NAME, infer_inputs=[image, text], request_id="kserve-1")
            live = await client.is_server_live(f"http://{server.url}")
            ready = await client.is_model_ready(f"http://{server.url}", MODEL_NAME)
            response = await client.infer(f"http://{server.url}", request, model_name=MODEL_NAME)
            return live, ready, response
        finally:
            await client.close()

    live, ready, response = asyncio.run(run())
    expect(live and ready, f"kserve live {live} ready {ready}")
    expect(response.id == "kserve-1" and response.model_name == MODEL_NAME, f"{response.id} {response.model_name}")
    outputs = {output.name: output for output in response.outputs}
    logits = outputs["logits"].as_numpy()
    expect(logits.shape == (2, 2), f"logits {logits.shape}")
    for i, (image, text) in enumerate(pairs):
        close(logits[i], server.infer_v1(image, text)["logits"], 1e-5, f"kserve item {i}")


def test_bearer_token_guards_v2_but_not_its_health_probes():
    with tempfile.NamedTemporaryFile("w", suffix=".tokens", delete=False) as tokens:
        tokens.write("v2-secret\n")
    guarded = Server("--auth-token-file", tokens.name, workers=1)
    try:
        expect(guarded.get("/v2/health/live")[0] == 200, "live probe open")
        expect(guarded.get("/v2/health/ready")[0] == 200, "ready probe open")
        for path in ("/v2", f"/v2/models/{MODEL_NAME}", f"/v2/models/{MODEL_NAME}/ready"):
            status, headers, body = guarded.get(path)
            expect(status == 401 and isinstance(json.loads(body)["error"], str), f"{path}: {status} {body[:200]!r}")
            expect("Bearer" in headers.get("WWW-Authenticate", ""), f"{path}: challenge {headers}")
        client = triton.InferenceServerClient(guarded.url)
        token = {"Authorization": "Bearer v2-secret"}
        expect(client.is_model_ready(MODEL_NAME, headers=token), "ready with the token")
        result = client.infer(MODEL_NAME, image_text_inputs(eval_pairs(1)), headers=token)
        expect(result.as_numpy("label").shape == (1,), "infer with the token")
        try:
            client.infer(MODEL_NAME, image_text_inputs(eval_pairs(1)))
            raise Failure("infer without a token was accepted")
        except InferenceServerException as error:
            expect(error.status() == "401", f"{error.status()} {error.message()}")
    finally:
        guarded.stop()
        os.unlink(tokens.name)


def test_schemathesis_finds_no_5xx_and_every_response_matches_the_spec(server):
    """docs/openapi.yaml, as the server itself serves it, against the live server."""
    status, _, served = server.get("/openapi.yaml")
    expect(status == 200 and served == (ROOT / "docs/openapi.yaml").read_bytes(), "GET /openapi.yaml is docs/openapi.yaml")
    schemathesis = Path(sys.executable).parent / "st"
    # Its caches (.schemathesis, .hypothesis) go to a directory thrown away afterwards.
    with tempfile.TemporaryDirectory(prefix="schemathesis-") as scratch:
        run = subprocess.run(
            [str(schemathesis), "--config-file", str(ROOT / "tools/ci/schemathesis.toml"), "run", str(ROOT / "docs/openapi.yaml"),
             "--url", f"http://{server.url}", "--checks",
             "not_a_server_error,response_schema_conformance,content_type_conformance,status_code_conformance",
             "--max-examples", "30", "--generation-database", "none", "--no-color"],
            capture_output=True, text=True, timeout=120, cwd=scratch)
    summary = "\n".join(run.stdout.splitlines()[-25:])
    expect(run.returncode == 0, f"schemathesis exit {run.returncode}:\n{run.stdout[-6000:]}\n{run.stderr[-2000:]}")
    expect(re.search(r"\d+ generated, \d+ passed", run.stdout), f"schemathesis ran nothing?\n{summary}")
    print(re.search(r"\d+ generated, \d+ passed", run.stdout).group(0), flush=True)
