import ArgumentParser
import Model

/// `--precision fp32|int8|bf16` and `--backend openblas|onednn` on `predict`, `eval` and
/// `bench-model` (`serve` parses them with its other settings in `ServeConfiguration`).
extension Precision: ExpressibleByArgument {}
extension Backend: ExpressibleByArgument {}

/// The help text every command shows for `--precision`.
let precisionHelp = ArgumentHelp("Arithmetic of the encoder blocks: \(Precision.names) (int8: dynamic quantization; bf16 needs AVX512_BF16; docs/models.md).")

/// The help text every command shows for `--backend`.
let backendHelp = ArgumentHelp("Library of the fp32 matrix products: \(Backend.names) (default openblas: oneDNN measured no faster here and costs private memory, docs/benchmarks.md).")
