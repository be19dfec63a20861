import ArgumentParser
import Model

/// `--precision fp32|int8` on `predict`, `eval` and `bench-model` (`serve` parses it with its
/// other settings in `ServeConfiguration`).
extension Precision: ExpressibleByArgument {}

/// The help text every command shows for `--precision`.
let precisionHelp = ArgumentHelp("Arithmetic of the encoder blocks: \(Precision.names) (int8: dynamic quantization, docs/models.md).")
