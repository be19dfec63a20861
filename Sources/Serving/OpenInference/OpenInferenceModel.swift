import JSON
import Model

/// One item of an inference request, before it joins the dynamic batcher: an encoded image
/// and a caption that go through `Preprocessing` exactly as `POST /infer`'s do, or tensors the
/// client already preprocessed.
public enum OpenInferenceItem: Sendable, Equatable {
    case encoded(InferRequest)
    case tensors(InferencePayload)
}

/// The served model as the Open Inference Protocol sees it: its tensors, its metadata and
/// Triton-style configuration, and the mapping between protocol tensors and fusion-serve's
/// requests and results.
///
/// Inputs (N items, 1 ≤ N ≤ `maxRequestItems`): `image` and `text`, BYTES `[N]` (or `[N,1]`);
/// or `pixel_values` FP32 `[N,3,S,S]` and `input_ids` INT64 (or INT32) `[N,T]` with an
/// optional right-padding `attention_mask` of the same shape. Outputs: `logits`, `scores`
/// FP32 `[N,L]`, `gate` FP32 `[N,2]` (image, text), `embedding` FP32 `[N,D]`, `label` BYTES `[N]`.
public struct OpenInferenceModel: Sendable {
    public let config: ModelConfig
    /// The one version served (the protocol names versions; fusion-serve serves one model).
    public let version: String
    public let maxRequestItems: Int
    public let maxBatch: Int
    public let maxDelayMilliseconds: Int
    public let maxQueue: Int
    public let requestTimeoutMilliseconds: UInt64
    public let workerCount: Int
    /// What the weights and config hash to, and when they went into service (as `/v1/model`
    /// reports them); empty when not known.
    public var contentVersion = ""
    public var loadedAt = ""

    /// The version every model reports.
    public static let defaultVersion = "1"
    /// Output names in the order they are returned when the request names none.
    public static let outputNames = ["logits", "scores", "gate", "embedding", "label"]

    /// Binds the protocol to `config` and the server's settings.
    public init(config: ModelConfig, settings: ServiceSettings, version: String = OpenInferenceModel.defaultVersion) {
        self.config = config
        self.version = version
        maxRequestItems = settings.maxRequestItems
        maxBatch = settings.maxBatch
        maxDelayMilliseconds = settings.maxDelayMilliseconds
        maxQueue = settings.maxQueue
        requestTimeoutMilliseconds = settings.requestTimeout.unsignedNanoseconds / 1_000_000
        workerCount = settings.workerCount
    }

    var name: String { config.name }
    var imageSize: Int { config.imageEncoder.imageSize }
    var maxTokens: Int { config.textEncoder.maxPositionEmbeddings }

    // MARK: Inputs

    /// The request's items, in order, and whether the embedding must come back. Throws 400
    /// naming the input (or the item) that is wrong.
    public func items(for request: OpenInferenceRequest) throws(APIError) -> (items: [OpenInferenceItem], returnEmbedding: Bool) {
        let returnEmbedding = try checkOutputs(request.outputs)
        var byName: [String: InputTensor] = [:]
        for input in request.inputs {
            guard ["image", "text", "pixel_values", "input_ids", "attention_mask"].contains(input.name) else {
                throw invalidInput("unexpected inference input '\(input.name)' for model '\(name)'")
            }
            byName[input.name] = input
        }
        let encoded = byName["image"] != nil || byName["text"] != nil
        let tensors = byName["pixel_values"] != nil || byName["input_ids"] != nil || byName["attention_mask"] != nil
        if encoded && tensors {
            throw invalidInput("model '\(name)' takes image + text or pixel_values + input_ids (+ attention_mask), not a mix")
        }
        if let image = byName["image"], let text = byName["text"] {
            return (try encodedItems(image: image, text: text, returnEmbedding: returnEmbedding), returnEmbedding)
        }
        if let pixels = byName["pixel_values"], let ids = byName["input_ids"] {
            return (try tensorItems(pixels: pixels, ids: ids, mask: byName["attention_mask"], returnEmbedding: returnEmbedding),
                    returnEmbedding)
        }
        let missing = encoded ? ["image", "text"].filter { byName[$0] == nil }
                              : tensors ? ["pixel_values", "input_ids"].filter { byName[$0] == nil } : ["image", "text"]
        throw invalidInput("model '\(name)' needs the input\(missing.count > 1 ? "s" : "") \(missing.joined(separator: " and ")) "
                           + "(image + text as BYTES [N], or pixel_values FP32 [N,3,\(imageSize),\(imageSize)] + input_ids INT64 [N,T])")
    }

    /// Checks the requested outputs; true when `embedding` is among them (or all are wanted).
    func checkOutputs(_ outputs: [RequestedOutput]?) throws(APIError) -> Bool {
        guard let outputs else { return true }
        for output in outputs where !Self.outputNames.contains(output.name) {
            throw invalidInput("unexpected inference output '\(output.name)' for model '\(name)'; "
                               + "it has \(Self.outputNames.joined(separator: ", "))")
        }
        return outputs.contains { $0.name == "embedding" }
    }

    private func invalidInput(_ message: String) -> APIError {
        APIError(.badRequest, "invalid_input", message)
    }

    /// N from `[N]` or `[N,1]`, within bounds.
    private func itemCount(_ tensor: InputTensor, _ datatype: TensorDataType) throws(APIError) -> Int {
        guard tensor.datatype == datatype else {
            throw invalidInput("input '\(tensor.name)' must be \(datatype.rawValue), not \(tensor.datatype.rawValue)")
        }
        guard tensor.shape.count == 1 || (tensor.shape.count == 2 && tensor.shape[1] == 1) else {
            throw invalidInput("input '\(tensor.name)' must have shape [N] or [N,1], not \(shapeText(tensor.shape))")
        }
        return try checkedItems(tensor.shape[0], tensor.name)
    }

    private func checkedItems(_ n: Int, _ input: String) throws(APIError) -> Int {
        guard n >= 1, n <= maxRequestItems else {
            throw invalidInput("input '\(input)' has \(n) items; a request holds 1 to \(maxRequestItems) (--max-request-items)")
        }
        return n
    }

    private func shapeText(_ shape: [Int]) -> String { "[" + shape.map(String.init).joined(separator: ",") + "]" }

    private func encodedItems(image: InputTensor, text: InputTensor, returnEmbedding: Bool) throws(APIError) -> [OpenInferenceItem] {
        let n = try itemCount(image, .bytes)
        let m = try itemCount(text, .bytes)
        guard n == m else { throw invalidInput("inputs 'image' and 'text' have \(n) and \(m) items; they must match") }
        guard case .bytes(let images) = image.values, case .bytes(let texts) = text.values else {
            throw invalidInput("inputs 'image' and 'text' must hold BYTES")
        }
        var items: [OpenInferenceItem] = []
        items.reserveCapacity(n)
        for i in 0..<n {
            var bytes = images[i]
            if image.fromJSON {
                // A JSON string cannot carry JPEG or PNG bytes (neither is UTF-8), so a JSON
                // `image` element is the file in base64, as in `POST /infer`.
                do {
                    bytes = try Base64.decode(String(decoding: bytes, as: UTF8.self))
                } catch {
                    throw invalidInput("item \(i): input 'image' sent as JSON must be base64 (or send it as binary data): \(error.reason)")
                }
            }
            guard let caption = String(validating: texts[i], as: UTF8.self) else {
                throw invalidInput("item \(i): input 'text' is not valid UTF-8")
            }
            items.append(.encoded(InferRequest(image: bytes, text: caption, returnEmbedding: returnEmbedding)))
        }
        return items
    }

    private func tensorItems(pixels: InputTensor, ids: InputTensor, mask: InputTensor?,
                             returnEmbedding: Bool) throws(APIError) -> [OpenInferenceItem] {
        let size = imageSize
        guard pixels.datatype == .fp32 else {
            throw invalidInput("input 'pixel_values' must be FP32, not \(pixels.datatype.rawValue)")
        }
        guard pixels.shape.count == 4, pixels.shape[1] == 3, pixels.shape[2] == size, pixels.shape[3] == size else {
            throw invalidInput("input 'pixel_values' must have shape [N,3,\(size),\(size)], not \(shapeText(pixels.shape))")
        }
        let n = try checkedItems(pixels.shape[0], "pixel_values")
        for tensor in [ids] + (mask.map { [$0] } ?? []) {
            guard tensor.datatype == .int64 || tensor.datatype == .int32 else {
                throw invalidInput("input '\(tensor.name)' must be INT64 or INT32, not \(tensor.datatype.rawValue)")
            }
            guard tensor.shape.count == 2, tensor.shape[0] == n, tensor.shape[1] >= 1 else {
                throw invalidInput("input '\(tensor.name)' must have shape [\(n),T] with T ≥ 1 (N as in pixel_values), not \(shapeText(tensor.shape))")
            }
        }
        let length = ids.shape[1]
        if let mask, mask.shape != ids.shape {
            throw invalidInput("input 'attention_mask' must have the shape of input_ids, \(shapeText(ids.shape)), not \(shapeText(mask.shape))")
        }
        guard case .fp32(let values) = pixels.values, case .int64(let tokens) = ids.values else {
            throw invalidInput("inputs 'pixel_values' and 'input_ids' must hold FP32 and integers")
        }
        var maskValues: [Int64]?
        if let mask {
            guard case .int64(let values) = mask.values else { throw invalidInput("input 'attention_mask' must hold integers") }
            maskValues = values
        }
        let perImage = 3 * size * size
        // The codec guarantees these; checked again so no slice below can trap.
        guard values.count == n * perImage, tokens.count == n * length, maskValues.map({ $0.count == n * length }) ?? true else {
            throw invalidInput("inputs hold a different number of elements than their shapes say")
        }
        let vocab = config.textEncoder.vocabSize
        var items: [OpenInferenceItem] = []
        items.reserveCapacity(n)
        for i in 0..<n {
            let image = Array(values[(i * perImage)..<((i + 1) * perImage)])
            guard image.allSatisfy(\.isFinite) else {
                throw invalidInput("item \(i): input 'pixel_values' holds a value that is not finite")
            }
            let row = tokens[(i * length)..<((i + 1) * length)]
            // Right padding only: the mask is ones, then zeros; tokens under the zeros are dropped.
            var used = length
            if let maskValues {
                let maskRow = maskValues[(i * length)..<((i + 1) * length)]
                guard maskRow.allSatisfy({ $0 == 0 || $0 == 1 }) else {
                    throw invalidInput("item \(i): input 'attention_mask' must hold only 0 and 1")
                }
                used = maskRow.firstIndex(of: 0).map { $0 - maskRow.startIndex } ?? length
                guard maskRow.dropFirst(used).allSatisfy({ $0 == 0 }) else {
                    throw invalidInput("item \(i): input 'attention_mask' must be ones then zeros (right padding)")
                }
                guard used >= 1 else { throw invalidInput("item \(i): input 'attention_mask' masks every token") }
            }
            guard used <= maxTokens else {
                throw invalidInput("item \(i): \(used) tokens exceed the model's \(maxTokens) positions")
            }
            var tokenIds: [Int32] = []
            tokenIds.reserveCapacity(used)
            for token in row.prefix(used) {
                // Checked here, not in the worker: a bad id there fails the whole batch,
                // other clients' requests included.
                guard token >= 0, token < vocab else {
                    throw invalidInput("item \(i): input 'input_ids' holds \(token), outside the vocabulary (0..<\(vocab))")
                }
                tokenIds.append(Int32(token))
            }
            items.append(.tensors(InferencePayload(pixels: image, tokenIds: tokenIds, returnEmbedding: returnEmbedding)))
        }
        return items
    }

    // MARK: Outputs

    /// The requested outputs (all when none were named) for `results`, in request order,
    /// each with whether it goes as binary data.
    public func outputs(for results: [InferenceResult], requested: [RequestedOutput]?,
                        binaryDefault: Bool) -> [(tensor: OutputTensor, binary: Bool)] {
        let wanted = requested ?? Self.outputNames.map { RequestedOutput(name: $0) }
        let n = results.count
        let labelCount = config.labels.count
        return wanted.compactMap { output in
            let tensor: OutputTensor
            switch output.name {
            case "logits":
                tensor = OutputTensor(name: "logits", datatype: .fp32, shape: [n, labelCount], values: .fp32(results.flatMap(\.logits)))
            case "scores":
                tensor = OutputTensor(name: "scores", datatype: .fp32, shape: [n, labelCount], values: .fp32(results.flatMap(\.scores)))
            case "gate":
                tensor = OutputTensor(name: "gate", datatype: .fp32, shape: [n, 2],
                                      values: .fp32(results.flatMap { [$0.gateImage, $0.gateText] }))
            case "embedding":
                tensor = OutputTensor(name: "embedding", datatype: .fp32, shape: [n, config.fusion.hiddenSize],
                                      values: .fp32(results.flatMap(\.embedding)))
            case "label":
                let labels = results.map { result in
                    Array((config.labels.indices.contains(result.label) ? config.labels[result.label] : "\(result.label)").utf8)
                }
                tensor = OutputTensor(name: "label", datatype: .bytes, shape: [n], values: .bytes(labels))
            default:
                return nil
            }
            return (tensor, output.binary ?? binaryDefault)
        }
    }

    // MARK: Metadata and configuration

    private struct TensorSpec {
        var name: String
        var datatype: TensorDataType
        /// Without the batch dimension; -1 is variable.
        var dims: [Int]
    }

    private var inputSpecs: [TensorSpec] {
        [TensorSpec(name: "image", datatype: .bytes, dims: []),
         TensorSpec(name: "text", datatype: .bytes, dims: []),
         TensorSpec(name: "pixel_values", datatype: .fp32, dims: [3, imageSize, imageSize]),
         TensorSpec(name: "input_ids", datatype: .int64, dims: [-1]),
         TensorSpec(name: "attention_mask", datatype: .int64, dims: [-1])]
    }

    private var outputSpecs: [TensorSpec] {
        let labels = config.labels.count
        return [TensorSpec(name: "logits", datatype: .fp32, dims: [labels]),
                TensorSpec(name: "scores", datatype: .fp32, dims: [labels]),
                TensorSpec(name: "gate", datatype: .fp32, dims: [2]),
                TensorSpec(name: "embedding", datatype: .fp32, dims: [config.fusion.hiddenSize]),
                TensorSpec(name: "label", datatype: .bytes, dims: [])]
    }

    private static func ints(_ values: [Int]) -> String { "[" + values.map(String.init).joined(separator: ",") + "]" }

    /// `GET /v2/models/{name}`: shapes with the batch dimension, -1 where variable.
    public var metadataJSON: String {
        func tensors(_ specs: [TensorSpec]) -> String {
            "[" + specs.map { spec in
                JSONText.object([("name", JSONText.string(spec.name)),
                                 ("datatype", JSONText.string(spec.datatype.rawValue)),
                                 ("shape", Self.ints([-1] + spec.dims))])
            }.joined(separator: ",") + "]"
        }
        return JSONText.object([
            ("name", JSONText.string(name)),
            ("versions", "[" + JSONText.string(version) + "]"),
            ("platform", JSONText.string("fusion-serve")),
            ("inputs", tensors(inputSpecs)),
            ("outputs", tensors(outputSpecs)),
            // Not in the protocol (its `versions` are directory numbers): the content hash
            // that changes on a reload, as `/v1/model` has it (issue 17).
            ("parameters", JSONText.object([("content_version", JSONText.string(contentVersion)),
                                            ("loaded_at", JSONText.string(loadedAt))])),
        ])
    }

    /// `GET /v2/models/{name}/config`, in Triton's model-configuration JSON: dims without
    /// the batch dimension; a per-item string is `dims [1]` reshaped to `[]`, as Triton writes
    /// it (fusion-serve takes `[N]` and `[N,1]`). Every input is optional because a request
    /// sends one of the two input sets.
    public var configJSON: String {
        func tensor(_ spec: TensorSpec, input: Bool) -> String {
            var fields: [(String, String)] = [
                ("name", JSONText.string(spec.name)),
                ("data_type", JSONText.string(spec.datatype.tritonConfigName)),
                ("dims", Self.ints(spec.dims.isEmpty ? [1] : spec.dims)),
            ]
            if spec.dims.isEmpty { fields.append(("reshape", JSONText.object([("shape", "[]")]))) }
            if input { fields.append(("optional", "true")) }
            return JSONText.object(fields)
        }
        func parameter(_ value: String) -> String { JSONText.object([("string_value", JSONText.string(value))]) }
        return JSONText.object([
            ("name", JSONText.string(name)),
            ("platform", JSONText.string("fusion-serve")),
            ("backend", JSONText.string("fusion-serve")),
            ("version_policy", JSONText.object([("latest", JSONText.object([("num_versions", "1")]))])),
            ("max_batch_size", "\(maxRequestItems)"),
            ("input", "[" + inputSpecs.map { tensor($0, input: true) }.joined(separator: ",") + "]"),
            ("output", "[" + outputSpecs.map { tensor($0, input: false) }.joined(separator: ",") + "]"),
            ("dynamic_batching", JSONText.object([
                ("preferred_batch_size", "[\(maxBatch)]"),
                ("max_queue_delay_microseconds", "\(maxDelayMilliseconds * 1000)"),
                ("default_queue_policy", JSONText.object([
                    ("timeout_action", JSONText.string("REJECT")),
                    ("default_timeout_microseconds", "\(requestTimeoutMilliseconds * 1000)"),
                    ("allow_timeout_override", "true"),
                    ("max_queue_size", "\(maxQueue)"),
                ])),
            ])),
            ("instance_group", "[" + JSONText.object([
                ("name", JSONText.string(name)),
                ("kind", JSONText.string("KIND_CPU")),
                ("count", "\(workerCount)"),
            ]) + "]"),
            ("parameters", JSONText.object([
                ("labels", parameter(config.labels.joined(separator: ","))),
                ("max_text_length", parameter("\(config.preprocess.maxTextLength)")),
                ("max_position_embeddings", parameter("\(maxTokens)")),
                ("vocab_size", parameter("\(config.textEncoder.vocabSize)")),
            ])),
        ])
    }
}
