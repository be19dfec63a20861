import JSON

extension ModelOutput {
    /// One JSON object for this output, as `fusion-serve predict` prints it:
    /// `{"label": NAME, "scores": {NAME: p, …}, "logits": [...], "gate": {"image": g, "text": g},
    /// "embedding": [...]}` (embedding only when asked). Floats use the shortest text that reads
    /// back as the same Float; non-finite values (from broken weights) become null.
    public func json(labels: [String], includeEmbedding: Bool) -> String {
        var members = [
            ("label", label < labels.count ? JSONText.string(labels[label]) : String(label)),
            ("scores", JSONText.object(zip(labels, scores).map { ($0, JSONText.number($1)) })),
            ("logits", JSONText.array(logits)),
        ]
        if let gate {
            members.append(("gate", JSONText.object([("image", JSONText.number(gate.image)), ("text", JSONText.number(gate.text))])))
        }
        if includeEmbedding { members.append(("embedding", JSONText.array(embedding))) }
        return JSONText.object(members)
    }
}
