/// The image of one request as it travels to a worker.
public enum PixelInput: Sendable, Equatable {
    /// The image decoded and resized to S×S: row-major RGB bytes, which the worker normalises
    /// into the model's tensor. What `/infer` and v2 BYTES images send: a quarter of the bytes
    /// of the float tensor on the worker's socket, and the normalising moves off the server.
    case resizedRGB([UInt8])
    /// The normalised `[3, S, S]` float tensor, C order, ready for the model (v2 `pixel_values`,
    /// which clients preprocess themselves).
    case tensor([Float])
}

/// One preprocessed request, as it travels to a worker.
public struct InferencePayload: Sendable, Equatable {
    /// The image, resized or already a tensor.
    public var image: PixelInput
    /// Token ids with `[CLS]` … `[SEP]`, unpadded.
    public var tokenIds: [Int32]
    /// Whether the worker should send the fused embedding back.
    public var returnEmbedding: Bool

    /// Creates a payload.
    public init(image: PixelInput, tokenIds: [Int32], returnEmbedding: Bool) {
        self.image = image
        self.tokenIds = tokenIds
        self.returnEmbedding = returnEmbedding
    }

    /// Creates a payload with an already normalised image tensor.
    public init(pixels: [Float], tokenIds: [Int32], returnEmbedding: Bool) {
        self.init(image: .tensor(pixels), tokenIds: tokenIds, returnEmbedding: returnEmbedding)
    }
}

/// The model's answer for one request.
public struct InferenceResult: Sendable, Equatable {
    public var logits: [Float]
    public var scores: [Float]
    public var label: Int
    public var gateImage: Float
    public var gateText: Float
    /// Empty unless the request asked for it.
    public var embedding: [Float]

    /// Creates a result.
    public init(logits: [Float], scores: [Float], label: Int, gateImage: Float, gateText: Float,
                embedding: [Float]) {
        self.logits = logits
        self.scores = scores
        self.label = label
        self.gateImage = gateImage
        self.gateText = gateText
        self.embedding = embedding
    }
}

/// Where and how a request ran.
public struct BatchInfo: Sendable, Equatable {
    public var batchSize: Int
    public var worker: Int
    /// From entering the dispatcher queue to being sent to a worker.
    public var queueTime: Duration
    /// The worker's own measurement of the batch's forward pass.
    public var inferenceTime: Duration
}

/// Why a request that was accepted did not get a result.
public enum InferenceFailure: Error, Sendable, Equatable, CustomStringConvertible {
    /// Its deadline passed before it could run (HTTP 504).
    case deadlineExceeded
    /// The worker died while holding it, and so did the worker it was retried on.
    case workerFailed(String)
    /// The model raised an error for its batch.
    case inferenceFailed(String)
    /// The service stopped (drain time over) before it ran.
    case shuttingDown
    /// The client went away before its batch was formed; nothing was computed.
    case cancelled

    public var description: String {
        switch self {
        case .deadlineExceeded: return "the request's deadline passed before it could run"
        case .workerFailed(let why): return "the worker running the request failed twice: \(why)"
        case .inferenceFailed(let why): return "the model failed on the request's batch: \(why)"
        case .shuttingDown: return "the server stopped before the request could run"
        case .cancelled: return "the client closed the connection before the request ran"
        }
    }
}

/// A request accepted by the dispatcher: its payload, its deadline and whom to tell.
public final class InferenceJob: Sendable {
    public let requestID: String
    public let payload: InferencePayload
    /// After this instant (of the dispatcher's clock) it must not start.
    public let deadline: ContinuousClock.Instant
    private let completion: @Sendable (Result<(InferenceResult, BatchInfo), InferenceFailure>) -> Void
    private let cancelled: @Sendable () -> Bool

    /// Creates a job; `completion` is called exactly once, on a dispatcher or worker thread.
    /// `isCancelled` says the client is gone: a job still queued then leaves the queue
    /// uncomputed and completes with `.cancelled`.
    public init(requestID: String, payload: InferencePayload, deadline: ContinuousClock.Instant,
                isCancelled: @escaping @Sendable () -> Bool = { false },
                completion: @escaping @Sendable (Result<(InferenceResult, BatchInfo), InferenceFailure>) -> Void) {
        self.requestID = requestID
        self.payload = payload
        self.deadline = deadline
        self.cancelled = isCancelled
        self.completion = completion
    }

    /// Whether the client went away (checked when batches are formed).
    public var isCancelled: Bool { cancelled() }

    func finish(_ result: Result<(InferenceResult, BatchInfo), InferenceFailure>) {
        completion(result)
    }
}
