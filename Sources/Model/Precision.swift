import Kernels

/// The arithmetic a model's encoder blocks run in (`--precision`).
public enum Precision: String, Sendable, CaseIterable, CustomStringConvertible {
    /// Every product in fp32 on OpenBLAS: exact to ~1e-6 against PyTorch.
    case fp32
    /// Dynamic quantization, as ONNX Runtime's `quantize_dynamic` and PyTorch's
    /// `quantize_dynamic` do: the encoder blocks' linear layers (Q/K/V, attention output,
    /// feed-forward) use int8 weights per output channel made at load and activations
    /// quantized per row at run time, with oneDNN's u8×s8→s32 product. The patch embedding,
    /// embeddings, attention scores and softmax, LayerNorms and the fusion head (with the gate)
    /// stay fp32.
    case int8

    public var description: String { rawValue }

    /// The libraries that run the matrix products in this mode (`/v1/model`, the start-up log).
    public var backend: String {
        switch self {
        case .fp32: return "openblas"
        case .int8: return "onednn+openblas"  // oneDNN's u8s8s32 for the blocks, OpenBLAS for the rest
        }
    }

    /// The int8 weight range on this CPU: ±127 with VNNI, ±63 without (see `QuantizedWeights.levels`).
    public static var int8Levels: Int { QuantizedWeights.levels }

    /// The accepted values, for error messages: "fp32, int8".
    public static var names: String { allCases.map(\.rawValue).joined(separator: ", ") }
}
