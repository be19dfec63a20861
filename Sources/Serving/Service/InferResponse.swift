import JSON

/// The body of a successful `POST /infer`.
struct InferResponse {
    var id: String
    var model: String
    var labels: [String]
    var result: InferenceResult
    var includeEmbedding: Bool
    var batch: BatchInfo
    var preprocessTime: Duration
    var totalTime: Duration

    /// Milliseconds with three decimals, from whole nanoseconds (the wire format).
    private static func ms(_ duration: Duration) -> String {
        JSONText.number((Double(duration.unsignedNanoseconds) / 1e6 * 1000).rounded() / 1000)
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
            ("timing_ms", JSONText.object([("queue", Self.ms(batch.queueTime)),
                                           ("preprocess", Self.ms(preprocessTime)),
                                           ("inference", Self.ms(batch.inferenceTime)),
                                           ("total", Self.ms(totalTime))])),
        ]
        return JSONText.object(members)
    }
}
