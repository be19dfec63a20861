import Testing
@testable import Serving

private func parse(_ text: String) throws -> JSONValue { try JSONParser.parse(Array(text.utf8)) }

@Suite struct JSONValueTests {
    @Test func parsesEveryKindOfValue() throws {
        let value = try parse(#" {"a": [1, -2.5e3, true, false, null], "b": "x\"\\\/\n\u00e9\ud83d\ude00", "c": {}} "#)
        #expect(value["a"] == .array([.number("1", 1), .number("-2.5e3", -2500), .bool(true), .bool(false), .null]))
        #expect(value["b"] == .string("x\"\\/\né😀"))
        #expect(value["c"] == .object([]))
        #expect(value["missing"] == nil)
    }

    @Test(arguments: [
        "", "{", "{\"a\":}", "{\"a\" 1}", "[1,]", "{\"a\":1,}", "01", "1.", "-", "1e", "tru", "\"abc",
        "\"a\u{01}b\"", "\"\\x\"", "\"\\ud800\"", "\"\\udc00x\"", "{\"a\":1}{", "{\"a\":1,\"a\":2}", "'a'", "[1 2]",
    ])
    func refusesInvalidDocuments(_ text: String) {
        #expect(throws: JSONParseError.self) { try parse(text) }
    }

    @Test func boundsNesting() throws {
        let ok = String(repeating: "[", count: 63) + String(repeating: "]", count: 63)
        #expect(throws: Never.self) { try parse(ok) }
        let deep = String(repeating: "[", count: 65) + String(repeating: "]", count: 65)
        #expect(throws: JSONParseError.self) { try parse(deep) }
    }

    @Test func reportsWhereItFailed() {
        do {
            _ = try parse("{\"a\": nul}")
            Issue.record("should fail")
        } catch let error as JSONParseError {
            #expect(error.offset == 6)
        } catch {
            Issue.record("wrong error \(error)")
        }
    }

    @Test func typeNamesForMessages() throws {
        #expect(try parse("1").typeName == "number")
        #expect(try parse("[]").typeName == "array")
        #expect(try parse("\"\"").typeName == "string")
    }
}
