#!/usr/bin/env bash
# HTTPS benchmark, side by side in one run (issue 15): fusion-serve's own TLS against nginx
# (1 worker) on the same certificate, with wrk.
#   1. GET /healthz keep-alive over TLS          (wrk -c16)
#   2. new connections: a full handshake per request (Connection: close)
#   3. POST /infer over TLS vs plain HTTP on the same server build and model
#   4. GET /healthz keep-alive over plain HTTP (vs nginx on plain HTTP), for reference
# Usage: tools/bench/tls_vs_nginx.sh [SECONDS] [ROUNDS]   (release build; wrk and nginx installed)
# FUSION_BENCH_SKIP_INFER=1 leaves out case 3 (the slow one).
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-5}
rounds=${2:-3}
bin=.build/release/fusion-serve
[[ -x $bin ]] || swift build -c release --product fusion-serve
command -v wrk >/dev/null && command -v nginx >/dev/null || { echo "needs wrk and nginx" >&2; exit 1; }
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
bash Tests/Fixtures/tls/make-certs.sh "$tmp/certs"
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
tls_port=$(port); plain_port=$(port); nginx_port=$(port); nginx_plain_port=$(port)
model=${FUSION_BENCH_MODEL:-models/default}
"$bin" serve --port "$tls_port" --model "$model" --workers 1 --log-level warning \
    --tls-cert "$tmp/certs/cert.pem" --tls-key "$tmp/certs/key.pem" >"$tmp/tls.log" 2>&1 & pids+=($!)
"$bin" serve --port "$plain_port" --model "$model" --workers 1 --log-level warning >"$tmp/plain.log" 2>&1 & pids+=($!)
mkdir -p "$tmp/nginx"
cat >"$tmp/nginx/nginx.conf" <<CONF
worker_processes 1;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $tmp/nginx/body; proxy_temp_path $tmp/nginx/proxy;
    fastcgi_temp_path $tmp/nginx/fastcgi; uwsgi_temp_path $tmp/nginx/uwsgi; scgi_temp_path $tmp/nginx/scgi;
    keepalive_requests 100000;
    server {
        listen 127.0.0.1:$nginx_port ssl;
        ssl_certificate $tmp/certs/cert.pem;
        ssl_certificate_key $tmp/certs/key.pem;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_session_cache shared:bench:10m;
        location / { default_type application/json; return 200 '{"status":"ready"}'; }
    }
    server {
        listen 127.0.0.1:$nginx_plain_port;
        location / { default_type application/json; return 200 '{"status":"ready"}'; }
    }
}
CONF
nginx -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" -g "daemon off;" & pids+=($!)
for p in "$tls_port" "$plain_port"; do
    for _ in $(seq 100); do
        curl -sfk "https://localhost:$p/healthz" >/dev/null 2>&1 && break
        curl -sf "http://127.0.0.1:$p/healthz" >/dev/null 2>&1 && break
        sleep 0.2
    done
done
sleep 1
python3 - "$tmp/post.lua" <<'PY'
import base64, json, sys
image = base64.b64encode(open("docs/examples/blue-triangle.jpg", "rb").read()).decode()
body = json.dumps({"image": image, "text": "a blue triangle"})
open(sys.argv[1], "w").write('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = ' + json.dumps(body) + "\n")
PY
rps() { wrk -t1 "$@" -d"${seconds}s" 2>&1 | awk '/Requests\/sec/ {print $2}'; }
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
declare -A r
for round in $(seq "$rounds"); do
    r[fs_ka]+="$(rps -c16 "https://localhost:$tls_port/healthz") "
    r[ng_ka]+="$(rps -c16 "https://localhost:$nginx_port/healthz") "
    r[fs_new]+="$(rps -c16 -H 'Connection: close' "https://localhost:$tls_port/healthz") "
    r[ng_new]+="$(rps -c16 -H 'Connection: close' "https://localhost:$nginx_port/healthz") "
    r[fs_plain]+="$(rps -c16 "http://127.0.0.1:$plain_port/healthz") "
    r[ng_plain]+="$(rps -c16 "http://127.0.0.1:$nginx_plain_port/healthz") "
    [[ -n ${FUSION_BENCH_SKIP_INFER:-} ]] && continue
    r[fs_infer_tls]+="$(rps -c8 -s "$tmp/post.lua" "https://localhost:$tls_port/infer") "
    r[fs_infer_plain]+="$(rps -c8 -s "$tmp/post.lua" "http://127.0.0.1:$plain_port/infer") "
done
ratio() { python3 -c "print(f'{$1/$2:.2f}')"; }
fk=$(median ${r[fs_ka]}); nk=$(median ${r[ng_ka]}); fn=$(median ${r[fs_new]}); nn=$(median ${r[ng_new]})
fpl=$(median ${r[fs_plain]}); npl=$(median ${r[ng_plain]})
echo "cpu: $(lscpu | sed -n 's/^Model name: *//p'); $rounds rounds of ${seconds}s, medians (req/s); model $model"
printf '%-44s %10s %10s %7s\n' case fusion-serve other ratio
printf '%-44s %10s %10s %7s\n' "GET /healthz keep-alive, TLS (vs nginx)" "$fk" "$nk" "$(ratio "$fk" "$nk")"
printf '%-44s %10s %10s %7s\n' "new connection per request, TLS (vs nginx)" "$fn" "$nn" "$(ratio "$fn" "$nn")"
printf '%-44s %10s %10s %7s\n' "GET /healthz keep-alive, plain (vs nginx)" "$fpl" "$npl" "$(ratio "$fpl" "$npl")"
if [[ -z ${FUSION_BENCH_SKIP_INFER:-} ]]; then
    ft=$(median ${r[fs_infer_tls]}); fp=$(median ${r[fs_infer_plain]})
    printf '%-44s %10s %10s %7s\n' "POST /infer, TLS (vs plain HTTP)" "$ft" "$fp" "$(ratio "$ft" "$fp")"
fi
echo "all rounds: ${r[fs_ka]}| ${r[ng_ka]}| ${r[fs_new]}| ${r[ng_new]}| ${r[fs_plain]}| ${r[ng_plain]}| ${r[fs_infer_tls]:-}| ${r[fs_infer_plain]:-}"
