import Testing
import JSON

@Suite struct JSONTextTests {
    @Test func stringEscapesControlsAndKeepsUnicode() {
        #expect(JSONText.string("a\"b\\c\n\t\r\u{1}\u{7F}é😀\u{2028}") == #""a\"b\\c\n\t\r\u0001\u007fé😀\u2028""#)
        #expect(JSONText.string("\u{1}\n") == "\"\\u0001\\n\"")
        #expect(JSONText.string("\u{2029}\u{1F}/") == #""\u2029\u001f/""#)
    }

    @Test func stringsReadBackUnchanged() throws {
        let samples = ["", "plain", "a\"b\\c", "\u{0}\u{8}\u{C}\u{1F}\u{7F}", "é€😀\u{2028}\u{2029}\u{10FFFF}", "\r\n\t"]
        for text in samples {
            #expect(try JSONParser.parse(Array(JSONText.string(text).utf8)) == .string(text))
        }
    }

    @Test func floatsRoundTrip() {
        for value: Float in [0.1, 1e-7, 3.4028235e38, -2.5e-12, 123456.79] {
            #expect(Float(JSONText.number(value)) == value)
        }
        for value: Double in [0.1, 1e-300, -2.5e-12, 1.7976931348623157e308] {
            #expect(Double(JSONText.number(value)) == value)
        }
        #expect(JSONText.number(Float.infinity) == "null")
        #expect(JSONText.number(Float.nan) == "null")
        #expect(JSONText.number(-Double.infinity) == "null")
        #expect(JSONText.array([1.5, .nan, -0.25]) == "[1.5,null,-0.25]")
        #expect(JSONText.array([]) == "[]")
    }

    @Test func objectsKeepOrderAndQuoteNames() {
        #expect(JSONText.object([("b", "1"), ("a\"", "[]")]) == #"{"b":1,"a\"":[]}"#)
        #expect(JSONText.object([]) == "{}")
    }

    @Test func parsedValuesWriteBackAsWritten() throws {
        let text = #"{"a":[1,-2.5e3,true,false,null],"b":{"c":"x\"é\n"},"d":9007199254740993}"#
        let value = try JSONParser.parse(Array(text.utf8))
        #expect(JSONText.value(value) == text)
        #expect(try JSONParser.parse(Array(JSONText.value(value).utf8)) == value)
    }
}
