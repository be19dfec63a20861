/// Why an IPC frame was refused.
public enum WireError: Error, Equatable, CustomStringConvertible {
    case badMagic(UInt32)
    case unknownType(UInt16)
    case frameTooLarge(Int, limit: Int)
    case truncated(String)
    case countTooLarge(String, count: Int, limit: Int)
    case invalidUTF8(String)
    case trailingBytes(Int)
    case versionMismatch(got: UInt32, expected: UInt32)
    case unexpected(String)
    case unknownFlags(UInt8)

    public var description: String {
        switch self {
        case .badMagic(let m): return "IPC frame: bad magic 0x\(String(m, radix: 16))"
        case .unknownType(let t): return "IPC frame: unknown message type \(t)"
        case .frameTooLarge(let n, let limit): return "IPC frame: \(n) bytes exceeds the limit of \(limit)"
        case .truncated(let what): return "IPC frame: truncated while reading \(what)"
        case .countTooLarge(let what, let n, let limit): return "IPC frame: \(what) count \(n) exceeds \(limit)"
        case .invalidUTF8(let what): return "IPC frame: \(what) is not valid UTF-8"
        case .trailingBytes(let n): return "IPC frame: \(n) unexpected bytes after the message"
        case .versionMismatch(let got, let expected): return "IPC protocol version \(got), expected \(expected)"
        case .unexpected(let what): return "IPC: unexpected message \(what)"
        case .unknownFlags(let flags): return "IPC frame: unknown batch item flags 0x\(String(flags, radix: 16))"
        }
    }
}

/// What a worker reports once its model is loaded; the server checks it against its own view
/// of the model before sending the worker any batch.
public struct WorkerIdentity: Sendable, Equatable {
    public var protocolVersion: UInt32
    public var pid: Int32
    public var modelName: String
    public var imageSize: Int
    public var maxTextLength: Int
    public var labelCount: Int
    public var embeddingSize: Int

    /// Creates an identity.
    public init(protocolVersion: UInt32 = WireProtocol.version, pid: Int32, modelName: String, imageSize: Int,
                maxTextLength: Int, labelCount: Int, embeddingSize: Int) {
        self.protocolVersion = protocolVersion
        self.pid = pid
        self.modelName = modelName
        self.imageSize = imageSize
        self.maxTextLength = maxTextLength
        self.labelCount = labelCount
        self.embeddingSize = embeddingSize
    }

    /// Same model (name and sizes); the pid may differ.
    func describesSameModel(as other: WorkerIdentity) -> Bool {
        modelName == other.modelName && imageSize == other.imageSize && maxTextLength == other.maxTextLength
            && labelCount == other.labelCount && embeddingSize == other.embeddingSize
    }
}

/// One message between the server and a worker process.
///
/// Conversation: server `hello` → worker loads the model → `ready` (or `loadFailed`);
/// then `batch` → `results` (or `batchFailed`), repeatedly, in order; `shutdown` ends it.
public enum WireMessage: Equatable, Sendable {
    case hello(protocolVersion: UInt32, workerIndex: UInt32)
    case ready(WorkerIdentity)
    case loadFailed(String)
    case batch(id: UInt64, items: [InferencePayload])
    case results(id: UInt64, inferenceTime: Duration, items: [InferenceResult])
    case batchFailed(id: UInt64, message: String)
    case shutdown

    var type: UInt16 {
        switch self {
        case .hello: return 1
        case .ready: return 2
        case .loadFailed: return 3
        case .batch: return 4
        case .results: return 5
        case .batchFailed: return 6
        case .shutdown: return 7
        }
    }

    var name: String {
        switch self {
        case .hello: return "hello"
        case .ready: return "ready"
        case .loadFailed: return "loadFailed"
        case .batch: return "batch"
        case .results: return "results"
        case .batchFailed: return "batchFailed"
        case .shutdown: return "shutdown"
        }
    }
}

/// Bounds for decoding, derived from the model and the batch size, so no frame can make the
/// reader allocate more than a legitimate batch needs.
public struct WireLimits: Sendable, Equatable {
    public var maxBatch: Int
    public var maxPixels: Int
    public var maxTokens: Int
    public var maxOutputs: Int
    public var maxString = 64 * 1024

    /// Creates limits.
    public init(maxBatch: Int, maxPixels: Int, maxTokens: Int, maxOutputs: Int) {
        self.maxBatch = maxBatch
        self.maxPixels = maxPixels
        self.maxTokens = maxTokens
        self.maxOutputs = maxOutputs
    }

    /// Limits for a model with square images of `imageSize`, texts of `maxTextLength` tokens and
    /// outputs (logits, scores, embedding) of at most `maxOutputs` floats.
    public static func forModel(imageSize: Int, maxTextLength: Int, maxOutputs: Int, maxBatch: Int) -> WireLimits {
        WireLimits(maxBatch: maxBatch, maxPixels: 3 * imageSize * imageSize, maxTokens: maxTextLength,
                   maxOutputs: maxOutputs)
    }

    /// The largest legitimate frame payload under these limits.
    public var maxFrameBytes: Int {
        let item = 1 + 8 + 4 * maxPixels + 4 * maxTokens
        let result = 12 + 12 + 12 * maxOutputs
        return 64 + maxString + maxBatch * max(item, result)
    }
}

/// Encoding and decoding of frames: a 12-byte header (magic, type, flags, payload length),
/// then the payload.
public enum WireProtocol {
    /// Bumped whenever the layout of any message changes.
    public static let version: UInt32 = 2
    static let magic: UInt32 = 0x4653_5256   // "FSRV"
    /// Header bytes before each payload.
    public static let headerSize = 12

    /// The whole frame (header and payload) for a message.
    public static func encode(_ message: WireMessage) -> [UInt8] {
        // Header first with a zero length, patched at the end: the payload is written once,
        // straight into the frame (batches are megabytes; a second copy would show).
        var payload = ByteWriter(reservingCapacity: headerSize + estimatedSize(message))
        payload.u32(magic)
        payload.u16(message.type)
        payload.u16(0)
        payload.u32(0)
        switch message {
        case .hello(let version, let index):
            payload.u32(version)
            payload.u32(index)
        case .ready(let identity):
            payload.u32(identity.protocolVersion)
            payload.i32(identity.pid)
            payload.string(identity.modelName)
            payload.u32(UInt32(identity.imageSize))
            payload.u32(UInt32(identity.maxTextLength))
            payload.u32(UInt32(identity.labelCount))
            payload.u32(UInt32(identity.embeddingSize))
        case .loadFailed(let message):
            payload.string(message)
        case .batch(let id, let items):
            payload.u64(id)
            payload.u32(UInt32(items.count))
            for item in items {
                switch item.image {
                case .tensor(let values):
                    payload.u8(item.returnEmbedding ? ItemFlags.returnEmbedding : 0)
                    payload.floats(values)
                case .resizedRGB(let bytes):
                    payload.u8((item.returnEmbedding ? ItemFlags.returnEmbedding : 0) | ItemFlags.resizedRGB)
                    payload.bytes(bytes)
                }
                payload.int32s(item.tokenIds)
            }
        case .results(let id, let time, let items):
            payload.u64(id)
            payload.u64(time.unsignedNanoseconds)   // whole nanoseconds on the wire
            payload.u32(UInt32(items.count))
            for item in items {
                payload.i32(Int32(clamping: item.label))
                payload.f32(item.gateImage)
                payload.f32(item.gateText)
                payload.floats(item.logits)
                payload.floats(item.scores)
                payload.floats(item.embedding)
            }
        case .batchFailed(let id, let message):
            payload.u64(id)
            payload.string(message)
        case .shutdown:
            break
        }
        payload.patchU32(at: 8, UInt32(payload.bytes.count - headerSize))
        return payload.bytes
    }

    private static func estimatedSize(_ message: WireMessage) -> Int {
        switch message {
        case .batch(_, let items):
            return 16 + items.reduce(0) {
                let pixelBytes: Int
                switch $1.image {
                case .resizedRGB(let bytes): pixelBytes = bytes.count
                case .tensor(let values): pixelBytes = 4 * values.count
                }
                return $0 + 9 + pixelBytes + 4 * $1.tokenIds.count
            }
        case .results(_, _, let items):
            return 24 + items.reduce(0) { $0 + 24 + 4 * ($1.logits.count + $1.scores.count + $1.embedding.count) }
        default: return 64
        }
    }

    /// Parses a frame header: the message type and payload length, checked against the limit.
    public static func decodeHeader(_ header: [UInt8], limits: WireLimits) throws -> (type: UInt16, length: Int) {
        var reader = ByteReader(header)
        let m = try reader.u32("magic")
        guard m == magic else { throw WireError.badMagic(m) }
        let type = try reader.u16("type")
        _ = try reader.u16("flags")
        let length = Int(try reader.u32("length"))
        guard length <= limits.maxFrameBytes else { throw WireError.frameTooLarge(length, limit: limits.maxFrameBytes) }
        return (type, length)
    }

    /// Parses a payload of the given type, checking every count against `limits`.
    public static func decodePayload(type: UInt16, _ payload: [UInt8], limits: WireLimits) throws -> WireMessage {
        var r = ByteReader(payload)
        let message: WireMessage
        switch type {
        case 1:
            message = .hello(protocolVersion: try r.u32("version"), workerIndex: try r.u32("worker index"))
        case 2:
            let version = try r.u32("version")
            let pid = try r.i32("pid")
            let name = try r.string("model name", limit: limits.maxString)
            message = .ready(WorkerIdentity(protocolVersion: version, pid: pid, modelName: name,
                                            imageSize: Int(try r.u32("image size")),
                                            maxTextLength: Int(try r.u32("max text length")),
                                            labelCount: Int(try r.u32("label count")),
                                            embeddingSize: Int(try r.u32("embedding size"))))
        case 3:
            message = .loadFailed(try r.string("message", limit: limits.maxString))
        case 4:
            let id = try r.u64("batch id")
            let count = Int(try r.u32("batch size"))
            guard count <= limits.maxBatch else { throw WireError.countTooLarge("batch", count: count, limit: limits.maxBatch) }
            var items: [InferencePayload] = []
            items.reserveCapacity(count)
            for _ in 0..<count {
                let flags = try r.u8("flags")
                guard flags & ~ItemFlags.known == 0 else { throw WireError.unknownFlags(flags) }
                let image: PixelInput = flags & ItemFlags.resizedRGB != 0
                    ? .resizedRGB(try r.bytes("pixels", limit: limits.maxPixels))
                    : .tensor(try r.floats("pixels", limit: limits.maxPixels))
                let tokens = try r.int32s("token ids", limit: limits.maxTokens)
                items.append(InferencePayload(image: image, tokenIds: tokens,
                                              returnEmbedding: flags & ItemFlags.returnEmbedding != 0))
            }
            message = .batch(id: id, items: items)
        case 5:
            let id = try r.u64("batch id")
            let nanos = try r.u64("inference time")
            let count = Int(try r.u32("result count"))
            guard count <= limits.maxBatch else { throw WireError.countTooLarge("results", count: count, limit: limits.maxBatch) }
            var items: [InferenceResult] = []
            items.reserveCapacity(count)
            for _ in 0..<count {
                let label = Int(try r.i32("label"))
                let gateImage = try r.f32("image gate")
                let gateText = try r.f32("text gate")
                let logits = try r.floats("logits", limit: limits.maxOutputs)
                let scores = try r.floats("scores", limit: limits.maxOutputs)
                let embedding = try r.floats("embedding", limit: limits.maxOutputs)
                items.append(InferenceResult(logits: logits, scores: scores, label: label, gateImage: gateImage,
                                             gateText: gateText, embedding: embedding))
            }
            message = .results(id: id, inferenceTime: .nanoseconds(nanos), items: items)
        case 6:
            message = .batchFailed(id: try r.u64("batch id"), message: try r.string("message", limit: limits.maxString))
        case 7:
            message = .shutdown
        default:
            throw WireError.unknownType(type)
        }
        guard r.remaining == 0 else { throw WireError.trailingBytes(r.remaining) }
        return message
    }
}

/// The flags byte in front of each batch item.
enum ItemFlags {
    /// The worker sends the fused embedding back.
    static let returnEmbedding: UInt8 = 1
    /// The pixels are resized RGB bytes (`PixelInput.resizedRGB`), not floats.
    static let resizedRGB: UInt8 = 2
    static let known: UInt8 = returnEmbedding | resizedRGB
}
