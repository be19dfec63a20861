import Testing
import JSON

private func parse(_ text: String, limits: JSONLimits = JSONLimits()) throws(JSONParseError) -> JSONValue {
    try JSONParser.parse(Array(text.utf8), limits: limits)
}

/// The error `text` is refused with (nil if it parses).
private func failure(_ text: String, limits: JSONLimits = JSONLimits()) -> JSONParseError? {
    failure(Array(text.utf8), limits: limits)
}

private func failure(_ bytes: [UInt8], limits: JSONLimits = JSONLimits()) -> JSONParseError? {
    do {
        _ = try JSONParser.parse(bytes, limits: limits)
        return nil
    } catch {
        return error
    }
}

@Suite struct JSONParserTests {
    @Test func parsesEveryKindOfValue() throws {
        let value = try parse(#" {"a": [1, -2.5e3, true, false, null], "b": "x\"\\\/\n\u00e9\ud83d\ude00", "c": {}} "#)
        #expect(value["a"] == .array([.number("1", 1), .number("-2.5e3", -2500), .bool(true), .bool(false), .null]))
        #expect(value["b"] == .string("x\"\\/\né😀"))
        #expect(value["c"] == .object([]))
        #expect(value["missing"] == nil)
    }

    @Test func parsesNestedValuesInOrder() throws {
        let value = try parse(#" {"a": [1, -2.5e3, true, false, null], "b": {"c": "x\"\u00e9\ud83d\ude00"}} "#)
        let expected = JSONValue.object([
            ("a", .array([.number("1", 1), .number("-2.5e3", -2500), .bool(true), .bool(false), .null])),
            ("b", .object([("c", .string("x\"é😀"))])),
        ])
        #expect(value == expected)
        guard case .object(let members) = value else { Issue.record("not an object"); return }
        #expect(members.map(\.key) == ["a", "b"])
    }

    @Test(arguments: [
        "", " ", "{", "{\"a\":}", "{\"a\" 1}", "[1,]", "{\"a\":1,}", "01", "-01", "1.", "-", "1e", "1e+", ".5", "+1",
        "tru", "nul", "nan", "\"abc", "\"a\u{01}b\"", "\"tab\there\"", "\"\\x\"", "\"\\u12\"", "\"\\u12g4\"",
        "\"\\ud800\"", "\"\\udc00\"", "\"\\udc00x\"", "\"\\ud800\\u0041\"", "\"\\ud800x\"",
        "{} {}", "{\"a\":1}{", "{\"a\":1}x", "{\"a\":1,\"a\":2}", "'a'", "[1 2]", "[1,,2]", "{,}", "{\"a\":1 \"b\":2}",
        "// c\n1", "[1]/**/",
    ])
    func refusesInvalidDocuments(_ text: String) {
        #expect(throws: JSONParseError.self) { try parse(text) }
    }

    @Test func refusesInvalidUTF8InStringsWhereItStarts() {
        // Overlong, stray continuation, truncated, surrogate, above U+10FFFF, bad lead byte.
        for bytes: [UInt8] in [[0x22, 0xFF, 0x22], [0x22, 0xC0, 0x80, 0x22], [0x22, 0x80, 0x22], [0x22, 0xE2, 0x82, 0x22],
                               [0x22, 0xED, 0xA0, 0x80, 0x22], [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22],
                               [0x22, 0xE0, 0x80, 0x80, 0x22], [0x22, 0xF5, 0x80, 0x80, 0x80, 0x22]] {
            let error = failure([0x5B, 0x20] + bytes + [0x5D])
            #expect(error == JSONParseError(offset: 3, reason: "string is not valid UTF-8"), "\(bytes)")
        }
        #expect(failure([0x22, 0xE2, 0x82]) == JSONParseError(offset: 3, reason: "unterminated string"))
        #expect(throws: Never.self) { try JSONParser.parse([0x22, 0xE2, 0x82, 0xAC, 0xF0, 0x9F, 0x98, 0x80, 0x22]) }
    }

    @Test func duplicateKeysAreRefusedAtTheSecondKey() {
        // Refused at any depth; the same name in sibling objects is fine.
        #expect(failure(#"{"a": 1, "b": 2, "a": 3}"#) == JSONParseError(offset: 17, reason: "duplicate key \"a\""))
        #expect(failure(#"[{"x": {"k": 1, "k": 1}}]"#)?.reason == "duplicate key \"k\"")
        // Escapes are decoded before comparing: "\u0061" is "a".
        #expect(failure(#"{"a": 1, "\u0061": 2}"#)?.reason == "duplicate key \"a\"")
        #expect(throws: Never.self) { try parse(#"[{"a": 1}, {"a": 2}]"#) }
        let long = String(repeating: "k", count: 1000)
        #expect(failure("{\"\(long)\":1,\"\(long)\":2}")?.reason == "duplicate key \"\(long.prefix(200))\"")
    }

    @Test func boundsNesting() throws {
        let ok = String(repeating: "[", count: JSONParser.maxDepth) + String(repeating: "]", count: JSONParser.maxDepth)
        #expect(throws: Never.self) { try parse(ok) }
        let over = String(repeating: "[", count: 65) + String(repeating: "]", count: 65)
        #expect(failure(over) == JSONParseError(offset: 64, reason: "nesting deeper than 64"))
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(throws: JSONParseError.self) { try parse(deep) }
        let objects = String(repeating: "{\"a\":", count: 65) + "1" + String(repeating: "}", count: 65)
        #expect(failure(objects)?.reason == "nesting deeper than 64")
        // A value counts as a level of its own: `[[]]` is two, `[[1]]` three.
        #expect(throws: Never.self) { try parse("[[]]", limits: JSONLimits(maxDepth: 2)) }
        #expect(failure("[[[]]]", limits: JSONLimits(maxDepth: 2)) == JSONParseError(offset: 2, reason: "nesting deeper than 2"))
        #expect(failure("[[1]]", limits: JSONLimits(maxDepth: 2)) == JSONParseError(offset: 2, reason: "nesting deeper than 2"))
    }

    @Test func boundsSizeAndElementCount() throws {
        #expect(throws: Never.self) { try parse("[1,2,3]", limits: JSONLimits(maxBytes: 7, maxElements: 3)) }
        #expect(failure("[1,2,3] ", limits: JSONLimits(maxBytes: 7)) == JSONParseError(offset: 7, reason: "document longer than 7 bytes"))
        #expect(failure("[1,2,3,4]", limits: JSONLimits(maxElements: 3)) == JSONParseError(offset: 7, reason: "more than 3 elements in an array"))
        #expect(failure(#"{"a":1,"b":2}"#, limits: JSONLimits(maxElements: 1))?.reason == "more than 1 members in an object")
    }

    @Test func numbersKeepTheirTextAndValue() throws {
        for (text, value) in [("0", 0.0), ("-0", -0.0), ("12", 12), ("-2.5e3", -2500), ("1E2", 100), ("1e-2", 0.01),
                              ("0.5", 0.5), ("1e+2", 100), ("9007199254740993", 9007199254740992)] {
            let parsed = try parse(text)
            guard case .number(let written, let double) = parsed else { Issue.record("\(text): \(parsed)"); continue }
            #expect(written == text)
            #expect(double == value, "\(text)")
        }
        // Out of Double's range: accepted with its text kept (callers that need an integer read
        // the text, see `nonNegativeInteger`).
        #expect(try parse("1e400") == .number("1e400", .infinity))
        #expect(try parse("-1e400") == .number("-1e400", -.infinity))
        #expect(try parse("1e-400") == .number("1e-400", 0))
        #expect(failure("01") == JSONParseError(offset: 2, reason: "leading zero in number"))
        #expect(failure("1.e3") == JSONParseError(offset: 2, reason: "invalid number"))
    }

    @Test func decodesEveryEscape() throws {
        #expect(try parse(#""\"\\\/\b\f\n\r\t""#) == .string("\"\\/\u{08}\u{0C}\n\r\t"))
        #expect(try parse(#""\u0000\u001F\u00e9\u20AC\uFFFF""#) == .string("\u{0}\u{1F}é€\u{FFFF}"))
        #expect(try parse(#""a\nb""#) == .string("a\nb"))
        #expect(failure(#""\x""#) == JSONParseError(offset: 3, reason: "invalid escape '\\x'"))
        #expect(failure(#""\u12"#) == JSONParseError(offset: 3, reason: "truncated \\u escape"))
        #expect(failure(#""\u12x4""#) == JSONParseError(offset: 5, reason: "invalid \\u escape"))
    }

    @Test func joinsSurrogatePairsAndRefusesLoneHalves() throws {
        #expect(try parse(#""\ud83d\ude00""#) == .string("😀"))
        #expect(try parse(#""\uD834\uDD1E!""#) == .string("𝄞!"))
        #expect(try parse(#""\udbff\udfff""#) == .string("\u{10FFFF}"))
        for text in [#""\ud83d""#, #""\ud83dx""#, #""\ude00""#, #""\ud83d\u0041""#, #""\ud83d\ud83d""#] {
            #expect(failure(text)?.reason == "unpaired surrogate in \\u escape", "\(text)")
        }
    }

    @Test func refusesTrailingData() {
        #expect(failure("{} {}") == JSONParseError(offset: 3, reason: "unexpected data after the JSON value"))
        #expect(failure("1 x") == JSONParseError(offset: 2, reason: "unexpected data after the JSON value"))
        #expect(failure("\"a\"\"b\"")?.offset == 3)
        #expect(throws: Never.self) { try parse(" \t\r\n[] \t\r\n") }
    }

    @Test func reportsWhereItFailed() {
        #expect(failure("{\"a\": nul}")?.offset == 6)
        #expect(failure("{\"a\": nul}")?.description == "invalid literal at byte 6")
        #expect(failure("[1,") == JSONParseError(offset: 3, reason: "unexpected end of input"))
        #expect(failure("{\"a\" 1}") == JSONParseError(offset: 5, reason: "expected ':'"))
        #expect(failure("{1:2}") == JSONParseError(offset: 1, reason: "expected a member name"))
        #expect(failure("[1}") == JSONParseError(offset: 2, reason: "expected ',' or ']'"))
        #expect(failure("{\"a\":1]") == JSONParseError(offset: 6, reason: "expected ',' or '}'"))
        #expect(failure("@") == JSONParseError(offset: 0, reason: "unexpected character '@'"))
        #expect(failure("\"a\u{01}\"") == JSONParseError(offset: 2, reason: "control character in string"))
        #expect(failure("\"abc") == JSONParseError(offset: 4, reason: "unterminated string"))
    }

    @Test func longStringsWithAndWithoutEscapes() throws {
        // The request path: a base64 image of megabytes in one string.
        let base64 = String(repeating: "QUJD", count: 500_000)
        #expect(try parse("{\"image\":\"\(base64)\"}")["image"] == .string(base64))
        let escaped = String(repeating: "ab\\/", count: 100_000)
        #expect(try parse("\"\(escaped)\"") == .string(String(repeating: "ab/", count: 100_000)))
    }
}
