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

/// Minimal JSON text building for the command-line outputs.
public enum JSONText {
    /// A JSON string literal.
    public static func string(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// A JSON number (shortest round-trip form), or `null` when not finite.
    public static func number(_ value: Float) -> String {
        value.isFinite ? "\(value)" : "null"
    }

    /// A JSON array of numbers.
    public static func array(_ values: [Float]) -> String {
        "[" + values.map(number).joined(separator: ",") + "]"
    }
}
