import JSON

extension ModelOutput {
    /// One JSON object for this output, as `fusion-serve predict` prints it:
    /// `{"label": NAME, "scores": {NAME: p, …}, "logits": [...], "gate": {"image": g, "text": g},
    /// "embedding": [...]}` (embedding only when asked). Floats use the shortest text that reads
    /// back as the same Float; non-finite values (from broken weights) become null.
    public func json(labels: [String], includeEmbedding: Bool) -> String {
        var out = "{\"label\":"
        out += label < labels.count ? JSONText.string(labels[label]) : String(label)
        out += ",\"scores\":{"
        out += zip(labels, scores).map { JSONText.string($0) + ":" + JSONText.number($1) }.joined(separator: ",")
        out += "},\"logits\":" + JSONText.array(logits)
        if let gate {
            out += ",\"gate\":{\"image\":" + JSONText.number(gate.image) + ",\"text\":" + JSONText.number(gate.text) + "}"
        }
        if includeEmbedding { out += ",\"embedding\":" + JSONText.array(embedding) }
        return out + "}"
    }
}
