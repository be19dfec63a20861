import Testing
@testable import Tensors

struct HeaderJSONTests {
    private func parse(_ text: String) throws -> JSONValue {
        try JSONParser.parse(Array(text.utf8))
    }

    @Test func parsesNestedValues() throws {
        let value = try parse(#" {"a": [1, -2.5e3, true, false, null], "b": {"c": "x\"\u00e9\ud83d\ude00"}} "#)
        let expected = JSONValue.object([
            ("a", .array([.number("1"), .number("-2.5e3"), .bool(true), .bool(false), .null])),
            ("b", .object([("c", .string("x\"é😀"))])),
        ])
        #expect(value == expected)
    }

    @Test func keepsBigIntegersExact() throws {
        let value = try parse("9007199254740993")  // 2^53 + 1: a Double would round it
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

    @Test(arguments: [
        "", "{", "{\"a\":1,}", "[1,]", "{\"a\" 1}", "01", "1.", "-", "1e", "tru", "nul",
        "\"abc", "\"\\x\"", "\"\\u12\"", "\"\\ud800\"", "\"\\udc00\"", "\"\\ud800\\u0041\"",
        "{} {}", "{\"a\":1}x", "\"tab\there\"",
    ])
    func rejectsMalformed(_ text: String) {
        #expect(throws: JSONSyntaxError.self) { try parse(text) }
    }

    @Test func rejectsInvalidUTF8() {
        for bytes: [UInt8] in [[0x22, 0xFF, 0x22], [0x22, 0xC0, 0x80, 0x22], [0x22, 0xE2, 0x82, 0x22],
                               [0x22, 0xED, 0xA0, 0x80, 0x22], [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22]] {
            #expect(throws: JSONSyntaxError.self) { try JSONParser.parse(bytes) }
        }
    }

    @Test func rejectsDuplicateKeys() {
        #expect(throws: JSONSyntaxError.self) { try parse(#"{"a": 1, "b": 2, "a": 3}"#) }
    }

    @Test func boundsNestingDepth() throws {
        let ok = String(repeating: "[", count: JSONParser.maxDepth) + String(repeating: "]", count: JSONParser.maxDepth)
        _ = try parse(ok)
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(throws: JSONSyntaxError.self) { try parse(deep) }
    }
}
