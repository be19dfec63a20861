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
    /// The encoder blocks' linear layers (as for int8) with weights and input rounded to
    /// bfloat16 and products summed in fp32 (oneDNN's bf16 matmul); everything else fp32.
    /// Needs a CPU with AVX512_BF16 (or AMX): refused elsewhere, where oneDNN has no bf16
    /// kernel or only an emulation slower than fp32.
    case bf16

    public var description: String { rawValue }

    /// The libraries that run the matrix products in this mode with `backend` for the fp32
    /// ones (`/v1/model`, the start-up log): int8 blocks always run on oneDNN's u8×s8.
    public func libraries(backend: Backend) -> String {
        switch (self, backend) {
        case (.fp32, _): return backend.rawValue
        case (.int8, .onednn): return "onednn"
        case (.int8, .openblas): return "onednn+openblas"  // oneDNN's u8s8s32 for the blocks, OpenBLAS for the rest
        case (.bf16, .onednn): return "onednn"
        case (.bf16, .openblas): return "onednn+openblas"  // oneDNN's bf16 matmul for the blocks, OpenBLAS for the rest
        }
    }

    /// The int8 weight range on this CPU: ±127 with VNNI, ±63 without (see `QuantizedWeights.levels`).
    public static var int8Levels: Int { QuantizedWeights.levels }

    /// The accepted values, for error messages: "fp32, int8, bf16".
    public static var names: String { allCases.map(\.rawValue).joined(separator: ", ") }
}

/// The library that runs a model's fp32 matrix products (`--backend`).
public enum Backend: String, Sendable, CaseIterable, CustomStringConvertible {
    /// OpenBLAS `cblas_sgemm`, the weights used in place from the file mapping.
    case openblas
    /// oneDNN's matmul primitive, the weights reordered once at load into the layout it wants
    /// (a private copy per worker) and one primitive per layer (`OneDNNLinear`).
    case onednn

    public var description: String { rawValue }

    /// The backend `--backend` defaults to for a precision, chosen by measurement
    /// (docs/benchmarks.md, "fp32 backends: OpenBLAS or oneDNN"): on the AVX2 test machine
    /// oneDNN was not faster in the forward pass of either model, and its reordered weights are
    /// private memory in every worker (+720 MiB for the seed-size model) where OpenBLAS uses the
    /// shared file mapping. So OpenBLAS for both precisions.
    public static func `default`(for precision: Precision) -> Backend {
        switch precision {
        case .fp32: return .openblas
        case .int8, .bf16: return .openblas
        }
    }

    /// The accepted values, for error messages: "openblas, onednn".
    public static var names: String { allCases.map(\.rawValue).joined(separator: ", ") }
}
