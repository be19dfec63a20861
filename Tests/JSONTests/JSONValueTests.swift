import Testing
import JSON

private func parse(_ text: String) throws -> JSONValue { try JSONParser.parse(Array(text.utf8)) }

@Suite struct JSONValueTests {
    @Test func keepsBigIntegersExact() throws {
        let value = try parse("9007199254740993")  // 2^53 + 1: the Double rounds it, the text does not
        #expect(value.nonNegativeInteger == 9_007_199_254_740_993)
        #expect(try parse("9223372036854775807").nonNegativeInteger == Int.max)
        #expect(try parse("9223372036854775808").nonNegativeInteger == nil)
        #expect(try parse("99999999999999999999999").nonNegativeInteger == nil)
    }

    @Test func integerAccessorRejectsNonIntegers() throws {
        for text in ["-1", "1.0", "1e3", "-0", "\"5\"", "true"] {
            #expect(try parse(text).nonNegativeInteger == nil, "\(text)")
        }
        #expect(try parse("0").nonNegativeInteger == 0)
    }

    @Test func typeNamesForMessages() throws {
        #expect(try parse("1").typeName == "number")
        #expect(try parse("[]").typeName == "array")
        #expect(try parse("\"\"").typeName == "string")
        #expect(try parse("{}").typeName == "object")
        #expect(try parse("true").typeName == "boolean")
        #expect(try parse("null").typeName == "null")
        #expect(try parse("-2").summary == "number -2")
        #expect(try parse(String(repeating: "1", count: 60)).summary == "number " + String(repeating: "1", count: 40))
        #expect(try parse("[1]").summary == "array")
    }

    @Test func numbersCompareByValueAndObjectsByOrder() {
        #expect(JSONValue.number("1.0", 1) == .number("1", 1))
        #expect(JSONValue.number("1", 1) != .number("2", 2))
        #expect(JSONValue.object([("a", .null), ("b", .null)]) != .object([("b", .null), ("a", .null)]))
        #expect(JSONValue.array([.bool(true)]) != .array([.bool(true), .null]))
        #expect(JSONValue.string("1") != .number("1", 1))
    }

    @Test func subscriptFindsMembersOfObjectsOnly() throws {
        let value = try parse(#"{"a": {"b": 2}}"#)
        #expect(value["a"]?["b"] == .number("2", 2))
        #expect(value["b"] == nil)
        #expect(try parse("[1]")["a"] == nil)
    }
}
