import HTTP

/// Builds compact JSON text for responses (numbers as Swift prints them: the shortest text
/// that reads back as the same Float; non-finite values, which JSON cannot carry, as null).
struct JSONWriter {
    private(set) var text = ""

    static func number(_ value: Float) -> String { value.isFinite ? "\(value)" : "null" }
    static func number(_ value: Double) -> String { value.isFinite ? "\(value)" : "null" }

    static func array(_ values: [Float]) -> String {
        "[" + values.map { number($0) }.joined(separator: ",") + "]"
    }

    /// `{"k":v,...}` from already encoded values.
    static func object(_ members: [(String, String)]) -> String {
        "{" + members.map { "\(JSONText.quoted($0.0)):\($0.1)" }.joined(separator: ",") + "}"
    }

    static func string(_ value: String) -> String { JSONText.quoted(value) }
}
