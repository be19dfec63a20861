/// A parsed JSON value. Objects keep their members in the order written.
///
/// Numbers keep their literal text next to their `Double` value: safetensors offsets and
/// other integers can exceed 2^53, where the `Double` would silently round them.
public enum JSONValue: Equatable, Sendable {
    case null
    case bool(Bool)
    /// The number's text as written (so integers stay exact) and its value.
    case number(String, Double)
    case string(String)
    case array([JSONValue])
    case object([(key: String, value: JSONValue)])

    /// Numbers compare by value (`1.0 == 1`), objects member by member in order.
    public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): return true
        case (.bool(let a), .bool(let b)): return a == b
        case (.number(_, let a), .number(_, let b)): return a == b
        case (.string(let a), .string(let b)): return a == b
        case (.array(let a), .array(let b)): return a == b
        case (.object(let a), .object(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        default: return false
        }
    }

    /// A member of an object (nil for other values or a missing key).
    public subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.last(where: { $0.key == key })?.value
    }

    /// The JSON type name, for "wrong type" messages.
    public var typeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "boolean"
        case .number: return "number"
        case .string: return "string"
        case .array: return "array"
        case .object: return "object"
        }
    }

    /// The type name, and for a number its text (at most 40 characters): `number -2`, so a
    /// message can say which entry was wrong.
    public var summary: String {
        if case .number(let text, _) = self { return "number \(text.prefix(40))" }
        return typeName
    }

    /// The value as a non-negative integer if it is written as one (no sign, fraction or
    /// exponent) and fits in `Int`; otherwise nil. Read from the text, not the `Double`, so
    /// values above 2^53 stay exact.
    public var nonNegativeInteger: Int? {
        guard case .number(let text, _) = self, !text.isEmpty else { return nil }
        var value = 0
        for byte in text.utf8 {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            let (times10, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(Int(byte - UInt8(ascii: "0")))
            if o1 || o2 { return nil }
            value = sum
        }
        return value
    }
}
