#!/usr/bin/env bash
# Sanitizer test runs (issue 13), each in its own build directory so the normal .build
# stays as it is:
#   asan   AddressSanitizer (Swift and C) + UndefinedBehaviorSanitizer (C targets: swiftc has
#          no -sanitize=undefined on Linux; Swift code traps on overflow and out-of-bounds
#          access by itself) over the HTTP, Images, Tensors and EndToEnd tests; the
#          end-to-end tests run the ASan-built fusion-serve next to the test bundle.
#   tsan   ThreadSanitizer over the HTTP and Serving tests, with tools/ci/tsan.supp.
#     tools/ci/sanitizers.sh [asan] [tsan]       (default: both)
# Any sanitizer report fails the run (halt_on_error / abort_on_error).
set -euo pipefail
cd "$(dirname "$0")/../.."
SWIFT=${SWIFT:-swift}
runs=("$@"); [ ${#runs[@]} -gt 0 ] || runs=(asan tsan)

for run in "${runs[@]}"; do
  start=$(date +%s)
  case "$run" in
  asan)
    flags=(--sanitize=address -Xcc -fsanitize=undefined -Xcc -fno-sanitize-recover=undefined
           --build-path .build-asan)
    "$SWIFT" build --build-tests "${flags[@]}"
    # The soak already ran for 2 minutes in the plain build; 30 s here finds what ASan can.
    FUSION_SOAK_SECONDS=30 \
    ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:halt_on_error=1:detect_stack_use_after_return=0:quarantine_size_mb=32 \
    UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
      "$SWIFT" test --skip-build "${flags[@]}" --filter 'HTTPTests|ImagesTests|TensorsTests|EndToEndTests'
    ;;
  tsan)
    flags=(--sanitize=thread --build-path .build-tsan)
    "$SWIFT" build --build-tests "${flags[@]}"
    TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/tools/ci/tsan.supp" \
      "$SWIFT" test --skip-build "${flags[@]}" --filter 'HTTPTests|ServingTests'
    ;;
  *) echo "sanitizers: unknown run '$run' (asan, tsan)" >&2; exit 2 ;;
  esac
  echo "sanitizers: $run clean in $(( $(date +%s) - start )) s"
done
