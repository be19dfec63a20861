#!/usr/bin/env bash
# Builds the libFuzzer targets of Fuzz/ (Swift and the C shims instrumented for coverage,
# with AddressSanitizer) into .build-fuzz, separate from the normal .build.
#   tools/fuzz/build.sh            all targets
#   tools/fuzz/build.sh png jpeg   some (names as in Fuzz/, lower case)
# Prints the directory holding the fuzz-<name> executables on its last line.
set -euo pipefail
cd "$(dirname "$0")/../.."
SWIFT=${SWIFT:-swift}
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
  for main in Fuzz/*/main.swift; do
    names+=("$(basename "$(dirname "$main")" | tr 'A-Z' 'a-z')")
  done
fi
# The C targets (CImageCodecs, CSystemShims) get coverage and ASan too; libjpeg and libpng
# themselves are the system's, uninstrumented.
flags=(-c release --build-path .build-fuzz
       -Xswiftc -sanitize=fuzzer,address
       -Xcc -fsanitize=fuzzer-no-link,address)
for name in "${names[@]}"; do
  FUSION_FUZZ=1 "$SWIFT" build "${flags[@]}" --product "fuzz-$name" >&2
done
FUSION_FUZZ=1 "$SWIFT" build "${flags[@]}" --show-bin-path
