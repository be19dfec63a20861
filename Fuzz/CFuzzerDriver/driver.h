// libFuzzer's entry for programs that have their own `main` (compiler-rt's
// FuzzerInterface.h). SwiftPM gives every executable a Swift `main`, so the fuzz targets call
// this from it instead of linking libFuzzer's `main`.
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
