/// Builds compact JSON text (no Foundation): the one writer for responses, error bodies,
/// logs, command-line output and safetensors headers.
///
/// Numbers are written as Swift prints them (the shortest text that reads back as the same
/// value); non-finite values, which JSON cannot carry, become `null`.
public enum JSONText {
    /// `text` as a JSON string literal, quotes included: `"` and `\` escaped, control
    /// characters, DEL and U+2028/U+2029 (line breaks to JavaScript) as `\uXXXX` or their
    /// short escapes, everything else passed through as UTF-8.
    public static func string(_ text: String) -> String {
        var out = "\""
        out.reserveCapacity(text.utf8.count + 2)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F || scalar.value == 0x2028 || scalar.value == 0x2029:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default:
                out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
        return out
    }

    /// A number, or `null` when not finite.
    public static func number(_ value: Float) -> String { value.isFinite ? "\(value)" : "null" }

    /// A number, or `null` when not finite.
    public static func number(_ value: Double) -> String { value.isFinite ? "\(value)" : "null" }

    /// An array of numbers.
    public static func array(_ values: [Float]) -> String {
        "[" + values.map { number($0) }.joined(separator: ",") + "]"
    }

    /// `{"k":v,…}` from member names and already encoded values, in the order given.
    public static func object(_ members: [(String, String)]) -> String {
        "{" + members.map { string($0.0) + ":" + $0.1 }.joined(separator: ",") + "}"
    }

    /// A parsed value written back (numbers as they were written, members in order).
    public static func value(_ value: JSONValue) -> String {
        switch value {
        case .null: return "null"
        case .bool(let flag): return flag ? "true" : "false"
        case .number(let text, _): return text
        case .string(let text): return string(text)
        case .array(let elements): return "[" + elements.map { Self.value($0) }.joined(separator: ",") + "]"
        case .object(let members): return object(members.map { ($0.key, Self.value($0.value)) })
        }
    }
}
