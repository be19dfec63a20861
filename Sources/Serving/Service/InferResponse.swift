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
        JSONWriter.number((Double(nanos) / 1e6 * 1000).rounded() / 1000)
    }

    var json: String {
        let labelName = labels.indices.contains(result.label) ? labels[result.label] : "\(result.label)"
        let scores = zip(labels, result.scores).map { ($0, JSONWriter.number($1)) }
        var members: [(String, String)] = [
            ("id", JSONWriter.string(id)),
            ("model", JSONWriter.string(model)),
            ("label", JSONWriter.string(labelName)),
            ("scores", JSONWriter.object(scores)),
            ("logits", JSONWriter.array(result.logits)),
            ("gate", JSONWriter.object([("image", JSONWriter.number(result.gateImage)),
                                        ("text", JSONWriter.number(result.gateText))])),
        ]
        if includeEmbedding { members.append(("embedding", JSONWriter.array(result.embedding))) }
        members += [
            ("batch_size", "\(batch.batchSize)"),
            ("worker", "\(batch.worker)"),
            ("timing_ms", JSONWriter.object([("queue", Self.ms(batch.queueNanos)),
                                             ("preprocess", Self.ms(preprocessNanos)),
                                             ("inference", Self.ms(batch.inferenceNanos)),
                                             ("total", Self.ms(totalNanos))])),
        ]
        return JSONWriter.object(members)
    }
}
