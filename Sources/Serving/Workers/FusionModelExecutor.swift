import Images
import Model

/// Runs batches on a `FusionModel` inside a worker process.
public final class FusionModelExecutor: BatchExecutor {
    private let model: FusionModel
    /// Normalises the resized images the server sends, with the model's mean and std.
    private let images: ImagePreprocessor
    public let identity: WorkerIdentity

    /// Loads (memory-maps) the model directory; int8 quantizes its weights here, bf16 rounds them.
    /// `backend` nil: the precision's default (`Backend.default(for:)`).
    public init(directory: String, precision: Precision = .fp32, backend: Backend? = nil) throws {
        model = try FusionModel.load(directory: directory, precision: precision, backend: backend)
        identity = Self.identity(of: model.config)
        let config = model.config
        images = ImagePreprocessor(size: config.imageEncoder.imageSize, mean: config.preprocess.mean, std: config.preprocess.std)
    }

    /// The identity a worker serving a model with `config` reports.
    public static func identity(of config: ModelConfig, pid: Int32 = 0) -> WorkerIdentity {
        WorkerIdentity(pid: pid, modelName: config.name, imageSize: config.imageEncoder.imageSize,
                       maxTextLength: config.preprocess.maxTextLength, labelCount: config.labels.count,
                       embeddingSize: config.fusion.hiddenSize)
    }

    /// The model's pixel tensor for an item: resized bytes are normalised here (the same
    /// `TensorNormalizer` the server used to run, so the values are identical).
    private func tensor(_ image: PixelInput) throws -> [Float] {
        switch image {
        case .tensor(let values):
            return values
        case .resizedRGB(let bytes):
            let size = images.size
            guard bytes.count == 3 * size * size else {
                throw ImageError.invalidArgument("resized image of \(bytes.count) bytes, expected \(3 * size * size) (\(size)×\(size) RGB)")
            }
            return try images.tensor(from: try RGBImage(width: size, height: size, pixels: bytes))
        }
    }

    public func run(_ batch: [InferencePayload]) throws -> [InferenceResult] {
        let inputs = try batch.map { item in
            ModelInput(pixels: try tensor(item.image), inputIds: item.tokenIds)
        }
        let outputs = try model.forward(inputs)
        return outputs.map { output in
            InferenceResult(logits: output.logits, scores: output.scores, label: output.label,
                            gateImage: output.gate?.image ?? .nan, gateText: output.gate?.text ?? .nan,
                            embedding: output.embedding)
        }
    }
}
