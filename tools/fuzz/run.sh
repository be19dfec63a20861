#!/usr/bin/env bash
# Builds and runs every libFuzzer target of Fuzz/ for FUZZ_SECONDS each (default 30).
#   tools/fuzz/run.sh              all targets
#   tools/fuzz/run.sh png jpeg     some
# Seeds come from Fuzz/corpus/<name> (read only); what the fuzzer learns goes to
# .build-fuzz/corpus/<name>, so later runs resume from it. A crash, leak, timeout (>10 s for
# one input) or out-of-memory (>2 GB) stops that target, leaves the reproducer in
# .build-fuzz/artifacts/ and makes the script fail after the other targets ran.
# Reproduce one:  .build-fuzz/release/fuzz-<name> .build-fuzz/artifacts/<file>
set -uo pipefail
cd "$(dirname "$0")/../.."
seconds=${FUZZ_SECONDS:-30}
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
  for main in Fuzz/*/main.swift; do
    names+=("$(basename "$(dirname "$main")" | tr 'A-Z' 'a-z')")
  done
fi
bin=$(tools/fuzz/build.sh "${names[@]}" | tail -1) || { echo "fuzz: build failed" >&2; exit 1; }
mkdir -p .build-fuzz/artifacts .build-fuzz/logs
rm -f .build-fuzz/logs/*.status
declare -A dict=([httpparser]=http [inferjson]=json [modelconfig]=json [safetensors]=json [openinference]=json)
# Targets run FUZZ_JOBS at a time (default: one per CPU; each still gets FUZZ_SECONDS of wall
# time), so the CI smoke takes half as long on two cores.
jobs_max=${FUZZ_JOBS:-$(nproc)}
run_one() {
  local name=$1
  mkdir -p ".build-fuzz/corpus/$name"
  local options=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
                 -artifact_prefix=".build-fuzz/artifacts/$name-")
  [ -n "${dict[$name]:-}" ] && options+=(-dict="Fuzz/dict/${dict[$name]}.dict")
  # ASan: report leaks (libFuzzer checks each input), abort on the first error. Swift's own
  # crash backtracer is off so a trap reaches libFuzzer's handler, which saves the input.
  SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1} \
    "$bin/fuzz-$name" "${options[@]}" ".build-fuzz/corpus/$name" "Fuzz/corpus/$name" \
    >".build-fuzz/logs/$name.log" 2>&1
  echo $? >".build-fuzz/logs/$name.status"
}
for name in "${names[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do wait -n; done
  run_one "$name" &
done
wait
failed=()
printf '%-12s %8s %12s %10s %s\n' target seconds executions exec/s result
for name in "${names[@]}"; do
  log=".build-fuzz/logs/$name.log"
  status=$(cat ".build-fuzz/logs/$name.status" 2>/dev/null || echo "?")
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  if [ "$status" = 0 ]; then result="0 crashes"; else
    result="FAILED (exit $status), see $log and $(ls -t .build-fuzz/artifacts/"$name"-* 2>/dev/null | head -1)"
    failed+=("$name"); fi
  printf '%-12s %8s %12s %10s %s\n' "$name" "$seconds" "${runs:-?}" "${rate:-?}" "$result"
done
[ ${#failed[@]} -eq 0 ] || { echo "fuzz: failures in ${failed[*]}" >&2; exit 1; }
