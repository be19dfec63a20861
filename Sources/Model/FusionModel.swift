import Foundation
import Locking
import Kernels
import Tensors

/// An image + text fusion model loaded from a model directory, ready to run batches.
///
/// Weights are immutable after loading; F32 weights stay in the shared file mapping. `forward`
/// may be called from several threads at once: each call borrows its own activation workspace.
public final class FusionModel: Sendable {

    /// The validated configuration.
    public let config: ModelConfig
    /// Bytes of weight data the model uses (mapped or owned).
    public let weightBytes: Int
    /// The arithmetic of the encoder blocks.
    public let precision: Precision
    /// The library of the fp32 products.
    public let backend: Backend
    /// Largest batch `forward` accepts.
    public static let maxBatchSize = 1024

    private let image: ImageEncoder
    private let text: TextEncoder
    private let fusion: FusionHead
    /// Activation buffers of finished forward passes, for the next ones to reuse.
    private let idleWorkspaces = Locked<[Workspace]>([])
    private static let maxIdleWorkspaces = 4

    /// Loads `directory/config.json` and the weight files it names.
    ///
    /// Throws a `ModelError` naming the file, field or tensor when the directory is not a valid
    /// model (missing files, malformed or hostile safetensors, missing or mis-shaped tensors).
    /// `precision` other than fp32 converts the weights once, here.
    public static func load(directory: String, precision: Precision = .fp32, backend: Backend? = nil) throws -> FusionModel {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) else {
            throw ModelError.io(path: directory, reason: "model directory does not exist")
        }
        guard isDirectory.boolValue else { throw ModelError.io(path: directory, reason: "not a directory") }
        let config = try ModelConfig.load(path: directory + "/config.json")
        let tensors = try WeightLoader.load(directory: directory, config: config)
        return try FusionModel(config: config, tensors: tensors, precision: precision, backend: backend)
    }

    /// Throws `unsupportedPrecision` if this machine (or its sandbox) cannot run `precision`;
    /// `serve` calls it at start so a bad setting stops the service with the reason.
    public static func check(_ precision: Precision) throws(ModelError) {
        switch precision {
        case .fp32: return
        case .int8:
            if let problem = checkQuantizedProducts() { throw .unsupportedPrecision(.int8, reason: problem) }
        case .bf16:
            guard BFloat16.cpuHasAVX512BF16 else {
                throw .unsupportedPrecision(.bf16, reason: "this CPU has no AVX512_BF16 (the lscpu flag avx512_bf16), so "
                    + "oneDNN has no bf16 kernel faster than fp32 for it; use --precision fp32 or int8")
            }
            if let problem = checkOneDNNMatmul(dataType: .bf16) { throw .unsupportedPrecision(.bf16, reason: problem) }
        }
    }

    /// Throws `unsupportedBackend` if this machine (or its sandbox) cannot run `backend`.
    public static func check(_ backend: Backend) throws(ModelError) {
        switch backend {
        case .openblas: return
        case .onednn:
            if let problem = checkOneDNNMatmul() { throw .unsupportedBackend(.onednn, reason: problem) }
        }
    }

    /// Checks a model directory the way `load` would — `config.json`, every weight file's
    /// header and layout against its size (a truncated file fails here), each declared
    /// tensor's presence, shape and dtype — without reading tensor data or building the
    /// encoders, so it costs a few header reads. Returns the validated configuration.
    public static func check(directory: String) throws(ModelError) -> ModelConfig {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) else {
            throw ModelError.io(path: directory, reason: "model directory does not exist")
        }
        guard isDirectory.boolValue else { throw ModelError.io(path: directory, reason: "not a directory") }
        let config = try ModelConfig.load(path: directory + "/config.json")
        for (name, source) in try WeightLoader.resolve(directory: directory, config: config) {
            switch source.entry.dtype {
            case .f32, .f16, .bf16: continue
            default:
                throw .weights(.unsupportedDType(path: source.file.path, tensor: name, dtype: source.entry.dtype.rawValue))
            }
        }
        return config
    }

    /// Sets the threads used by matrix products in this process (see `Kernels.setBLASThreads`).
    public static func setThreads(_ count: Int) {
        setBLASThreads(count)
    }

    /// A model from in-memory tensors (full names), checked like files are.
    /// `backend` nil: `Backend.default(for: precision)`.
    package init(config: ModelConfig, tensors: [String: Tensor], precision: Precision = .fp32,
                 backend: Backend? = nil) throws(ModelError) {
        let backend = backend ?? .default(for: precision)
        try config.validate()
        try WeightLoader.check(tensors, config: config)
        let table = WeightTable(tensors: tensors)
        self.config = config
        let image = try ImageEncoder(table, config: config.imageEncoder)
        let text = try TextEncoder(table, config: config.textEncoder)
        var (encodedImage, encodedText) = (image, text)
        if precision == .int8 {
            try Self.check(precision)
            encodedImage = image.quantized(levels: Precision.int8Levels)
            encodedText = text.quantized(levels: Precision.int8Levels)
        }
        if precision == .bf16 {
            try Self.check(precision)
            encodedImage = try image.onOneDNN(.bf16)
            encodedText = try text.onOneDNN(.bf16)
        }
        var fusion = try FusionHead(table, config: config.fusion)
        if backend == .onednn {
            try Self.check(backend)
            // After quantizing: the int8 layers stay on their u8×s8 products, the rest moves.
            encodedImage = try encodedImage.onOneDNN()
            encodedText = try encodedText.onOneDNN()
            fusion = try fusion.onOneDNN()
        }
        self.image = encodedImage
        self.text = encodedText
        self.fusion = fusion
        self.precision = precision
        self.backend = backend
        let declared = Set(WeightDeclaration(config: config).entries.map(\.name))
        weightBytes = tensors.reduce(0) { declared.contains($1.key) ? $0 + $1.value.byteCount : $0 }
    }

    /// Runs the model on a batch (1 ≤ count ≤ `maxBatchSize`); outputs are in input order.
    ///
    /// Texts are right-padded to the batch's longest; padding never changes another request's
    /// result. Throws `ModelError.invalidInput` naming the request for a wrong pixel count, an
    /// empty or too long token sequence, or a token id outside the vocabulary.
    public func forward(_ batch: [ModelInput]) throws -> [ModelOutput] {
        try forward(batch, log: nil)
    }

    /// `forward`, counting every matrix product in `log` (for the benchmark).
    package func forward(_ batch: [ModelInput], log: GEMMLog?) throws(ModelError) -> [ModelOutput] {
        try validate(batch)
        let length = batch.map(\.inputIds.count).max() ?? 0
        let ws = borrowWorkspace()
        defer { returnWorkspace(ws) }
        ws.reserve(.needed(config: config, batch: batch.count, textLength: length))
        image.forward(batch, ws: ws, log: log)
        text.forward(batch, length: length, ws: ws, log: log)
        return fusion.forward(batch: batch.count, imageTokens: config.imageEncoder.tokenCount, textLength: length,
                              textLengths: batch.map(\.inputIds.count),
                              imageWidth: config.imageEncoder.hiddenSize, textWidth: config.textEncoder.hiddenSize,
                              ws: ws, log: log)
    }

    private func validate(_ batch: [ModelInput]) throws(ModelError) {
        guard !batch.isEmpty else { throw .invalidInput(index: 0, reason: "empty batch") }
        guard batch.count <= Self.maxBatchSize else {
            throw .invalidInput(index: Self.maxBatchSize, reason: "batch of \(batch.count) exceeds \(Self.maxBatchSize)")
        }
        let size = config.imageEncoder.imageSize
        let pixelCount = 3 * size * size
        let vocab = config.textEncoder.vocabSize
        let maxLength = config.textEncoder.maxPositionEmbeddings
        for (i, input) in batch.enumerated() {
            guard input.pixels.count == pixelCount else {
                throw .invalidInput(index: i, reason: "pixels has \(input.pixels.count) values, expected 3×\(size)×\(size) = \(pixelCount)")
            }
            guard !input.inputIds.isEmpty else { throw .invalidInput(index: i, reason: "input_ids is empty") }
            guard input.inputIds.count <= maxLength else {
                throw .invalidInput(index: i, reason: "\(input.inputIds.count) tokens exceed max_position_embeddings (\(maxLength))")
            }
            if let bad = input.inputIds.first(where: { $0 < 0 || Int($0) >= vocab }) {
                throw .invalidInput(index: i, reason: "token id \(bad) is outside the vocabulary (0..<\(vocab))")
            }
        }
    }

    private func borrowWorkspace() -> Workspace {
        idleWorkspaces.withLock { $0.popLast() } ?? Workspace()
    }

    private func returnWorkspace(_ ws: Workspace) {
        idleWorkspaces.withLock { if $0.count < Self.maxIdleWorkspaces { $0.append(ws) } }
    }
}
