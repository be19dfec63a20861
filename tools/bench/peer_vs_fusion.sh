#!/usr/bin/env bash
# Issue 14's service-path figure (docs/benchmarks.md): fusion-serve against its Python peer
# (tools/reference/peer_server.py: FastAPI + uvicorn + PyTorch + Pillow, batching ≤ 8 / 2 ms)
# serving the same model, both driven by the same load generator (`fusion-serve bench`,
# closed loop) with the same 640×480 JPEG, one server at a time, rounds alternating.
#     tools/bench/peer_vs_fusion.sh [ROUNDS [SECONDS [CONCURRENCY [MODEL]]]]
# Needs the reference venv (tools/reference/README.md) with fastapi and uvicorn:
#     PYTHON=.cache/venv-bench/bin/python tools/bench/peer_vs_fusion.sh 3 10 16
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-3}
seconds=${2:-10}
concurrency=${3:-16}
model=${4:-models/default}
python=${PYTHON:-.cache/venv-bench/bin/python}
bin=${FUSION_BIN:-.build/release/fusion-serve}
[[ -x $bin ]] || swift build -c release --product fusion-serve
image=Tests/Fixtures/images/good/jpeg_rgb_420_640x480.jpg
logs=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; rm -rf "$logs"' EXIT

$bin serve --port 0 --model "$model" >"$logs/fusion.log" 2>&1 &
pids+=($!)
peer_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$python" tools/reference/peer_server.py --model "$model" --port "$peer_port" >"$logs/peer.log" 2>&1 &
pids+=($!)
fusion_port=""
for _ in $(seq 300); do
    [[ -z $fusion_port ]] && fusion_port=$(grep -o 'address=127.0.0.1:[0-9]*' "$logs/fusion.log" | head -1 | cut -d: -f2 || true)
    if [[ -n $fusion_port ]] && curl -sf "localhost:$fusion_port/healthz" >/dev/null \
        && curl -sf "localhost:$peer_port/healthz" >/dev/null; then break; fi
    sleep 0.5
done
curl -sf "localhost:$peer_port/healthz" >/dev/null || { echo "the peer did not start:"; cat "$logs/peer.log"; exit 1; }
curl -sf "localhost:$fusion_port/healthz" >/dev/null || { echo "fusion-serve did not start:"; cat "$logs/fusion.log"; exit 1; }

echo "model $model, $image, closed loop $concurrency concurrent, $seconds s per run, $rounds rounds"
echo "fusion-serve: $(curl -sf "localhost:$fusion_port/healthz" | python3 -c 'import json,sys; print(json.load(sys.stdin)["workers"]["total"])') workers (its default for $(nproc) CPUs)"
echo "cpu: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs; load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "peer: $("$python" -c 'import torch, fastapi, uvicorn, PIL; print(f"torch {torch.__version__}, fastapi {fastapi.__version__}, uvicorn {uvicorn.__version__}, pillow {PIL.__version__}, {torch.get_num_threads()} threads")')"
run() {  # name port → one JSON report
    $bin bench --port "$2" --image "$image" --text "a red circle" --concurrency "$concurrency" \
        --duration "$seconds" --warmup 2 --json
}
results=()
for round in $(seq "$rounds"); do
    for name in fusion peer; do
        port=$fusion_port; [[ $name == peer ]] && port=$peer_port
        report=$(run "$name" "$port")
        results+=("$name $report")
        python3 -c 'import json,sys; r=json.loads(sys.argv[3]); print("round %s %-6s %7.1f req/s  p50 %6.1f ms  p99 %6.1f ms  errors %s" % (sys.argv[1], sys.argv[2], r["throughput"], r["p50_ms"], r["p99_ms"], r["errors"]))' "$round" "$name" "$report"
    done
done
python3 - "${results[@]}" <<'PY'
import json, statistics, sys
runs = {"fusion": [], "peer": []}
for arg in sys.argv[1:]:
    name, report = arg.split(" ", 1)
    runs[name].append(json.loads(report)["throughput"])
f, p = statistics.median(runs["fusion"]), statistics.median(runs["peer"])
ratios = [a / b for a, b in zip(runs["fusion"], runs["peer"]) if b > 0]
print(f"median: fusion-serve {f:.1f} req/s, peer {p:.1f} req/s → {f / p:.2f}× "
      f"(per round: {', '.join(f'{r:.2f}' for r in ratios)})")
PY
