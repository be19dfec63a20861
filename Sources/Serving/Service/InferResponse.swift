import JSON

/// The body of a successful `POST /infer`.
struct InferResponse {
    var id: String
    var model: String
    var labels: [String]
    var result: InferenceResult
    var includeEmbedding: Bool
    var batch: BatchInfo
    var preprocessNanos: UInt64
    var totalNanos: UInt64

    private static func ms(_ nanos: UInt64) -> String {
        JSONText.number((Double(nanos) / 1e6 * 1000).rounded() / 1000)
    }

    var json: String {
        let labelName = labels.indices.contains(result.label) ? labels[result.label] : "\(result.label)"
        let scores = zip(labels, result.scores).map { ($0, JSONText.number($1)) }
        var members: [(String, String)] = [
            ("id", JSONText.string(id)),
            ("model", JSONText.string(model)),
            ("label", JSONText.string(labelName)),
            ("scores", JSONText.object(scores)),
            ("logits", JSONText.array(result.logits)),
            ("gate", JSONText.object([("image", JSONText.number(result.gateImage)),
                                      ("text", JSONText.number(result.gateText))])),
        ]
        if includeEmbedding { members.append(("embedding", JSONText.array(result.embedding))) }
        members += [
            ("batch_size", "\(batch.batchSize)"),
            ("worker", "\(batch.worker)"),
            ("timing_ms", JSONText.object([("queue", Self.ms(batch.queueNanos)),
                                           ("preprocess", Self.ms(preprocessNanos)),
                                           ("inference", Self.ms(batch.inferenceNanos)),
                                           ("total", Self.ms(totalNanos))])),
        ]
        return JSONText.object(members)
    }
}
