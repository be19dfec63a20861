import Model

/// Runs batches on a `FusionModel` inside a worker process.
public final class FusionModelExecutor: BatchExecutor {
    private let model: FusionModel
    public let identity: WorkerIdentity

    /// Loads (memory-maps) the model directory; int8 quantizes its weights here.
    public init(directory: String, precision: Precision = .fp32) throws {
        model = try FusionModel.load(directory: directory, precision: precision)
        identity = Self.identity(of: model.config)
    }

    /// The identity a worker serving a model with `config` reports.
    public static func identity(of config: ModelConfig, pid: Int32 = 0) -> WorkerIdentity {
        WorkerIdentity(pid: pid, modelName: config.name, imageSize: config.imageEncoder.imageSize,
                       maxTextLength: config.preprocess.maxTextLength, labelCount: config.labels.count,
                       embeddingSize: config.fusion.hiddenSize)
    }

    public func run(_ batch: [InferencePayload]) throws -> [InferenceResult] {
        let outputs = try model.forward(batch.map { ModelInput(pixels: $0.pixels, inputIds: $0.tokenIds) })
        return outputs.map { output in
            InferenceResult(logits: output.logits, scores: output.scores, label: output.label,
                            gateImage: output.gate?.image ?? .nan, gateText: output.gate?.text ?? .nan,
                            embedding: output.embedding)
        }
    }
}
