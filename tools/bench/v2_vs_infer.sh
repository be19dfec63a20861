#!/usr/bin/env bash
# Issue 16's performance figures (docs/benchmarks.md): the Open Inference Protocol route with
# binary tensors against POST /infer with JSON (base64), both closed loop on models/default,
# run alternately; then one 64-item v2 request at a time, its latency against the time the
# workers spent on its 64 items (Σ forward passes ÷ workers, from /v2/models/.../stats).
#     tools/bench/v2_vs_infer.sh [WORKERS [SECONDS [CONCURRENCY]]]
set -euo pipefail
cd "$(dirname "$0")/../.."
workers=${1:-1}
seconds=${2:-10}
concurrency=${3:-8}
bin=.build/release/fusion-serve
[[ -x $bin ]] || swift build -c release --product fusion-serve
log=$(mktemp)
$bin serve --port 0 --workers "$workers" >"$log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -f "$log"' EXIT
port=""
for _ in $(seq 100); do
    port=$(grep -o 'address=127.0.0.1:[0-9]*' "$log" | head -1 | cut -d: -f2 || true)
    [[ -n $port ]] && curl -sf "localhost:$port/healthz" >/dev/null && break
    sleep 0.2
done
image=docs/examples/blue-triangle.jpg
common=(--port "$port" --image "$image" --text "a blue triangle" --json)
# CPU time (user + system, clock ticks) of the server and its worker processes: on a shared
# machine the CPU each request costs is steadier than wall-clock throughput.
cpu_ticks() {
    local total=0 pid fields
    for pid in $server $(cat /proc/$server/task/*/children 2>/dev/null); do
        read -ra fields < <(sed 's/.*) //' /proc/$pid/stat 2>/dev/null || true)
        [[ ${#fields[@]} -gt 13 ]] && total=$((total + fields[11] + fields[12]))
    done
    echo $total
}
hz=$(getconf CLK_TCK)
echo "workers $workers, $seconds s per run, closed loop $concurrency concurrent; load: $(cut -d' ' -f1-3 /proc/loadavg)"
for protocol in v1 v2; do   # warm-up, not reported
    $bin bench "${common[@]}" --duration 2 --warmup 0 --concurrency "$concurrency" --protocol "$protocol" >/dev/null
done
for round in 1 2 3; do
    for protocol in v1 v2; do
        printf '%s round %d: ' "$protocol" "$round"
        ticks=$(cpu_ticks)
        result=$($bin bench "${common[@]}" --duration "$seconds" --warmup 0 --concurrency "$concurrency" --protocol "$protocol")
        spent=$(( $(cpu_ticks) - ticks ))
        python3 -c 'import json,sys; r=json.loads(sys.argv[1]); print("%.1f req/s  p50 %.1f ms  p99 %.1f ms  server CPU %.2f ms/request  errors %s" % (r["throughput"], r["p50_ms"], r["p99_ms"], float(sys.argv[2]) / int(sys.argv[3]) * 1000 / max(1, r["requests"]), r["errors"]))' "$result" "$spent" "$hz"
    done
done
stats() { curl -s "localhost:$port/v2/models/shapes-match/stats"; }
before=$(stats)
report=$($bin bench "${common[@]}" --duration "$seconds" --warmup 2 --concurrency 1 --protocol v2 --items 64)
after=$(stats)
python3 - "$before" "$after" "$report" "$workers" <<'PY'
import json, sys
before, after, report = (json.loads(a) for a in sys.argv[1:4])
workers = int(sys.argv[4])
def forward_ns(stats):
    m = stats["model_stats"][0]
    return sum(b["compute_infer"]["ns"] for b in m["batch_stats"]), m["inference_count"], m["execution_count"]
ns0, items0, runs0 = forward_ns(before)
ns1, items1, runs1 = forward_ns(after)
items = items1 - items0
requests = items // 64
per_request_ms = (ns1 - ns0) / requests / workers / 1e6
print(f"64-item v2 requests, one at a time: {report['throughput']:.2f} req/s = {report['item_throughput']:.1f} items/s, "
      f"latency p50 {report['p50_ms']:.1f} ms p99 {report['p99_ms']:.1f} ms (incl. warm-up-free {requests} requests)")
print(f"  workers' forward time per request: {per_request_ms:.1f} ms (Σ {runs1 - runs0} batches ÷ {workers} worker(s), "
      f"{items / max(1, runs1 - runs0):.1f} items per batch)")
print(f"  latency ÷ workers' time: p50 {report['p50_ms'] / per_request_ms:.2f}")
PY
