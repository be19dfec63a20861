import Testing
@testable import Tokenizer

/// The generated tables parse completely: no token is silently dropped by the parser.
@Suite struct UnicodeDataTests {
    func tokenCount(_ text: String) -> Int {
        text.split(whereSeparator: { $0 == " " || $0 == "\n" }).count
    }

    @Test func everyTokenParses() {
        for text in [UnicodeData.removed, UnicodeData.whitespace, UnicodeData.punctuation,
                     UnicodeData.nonspacingMarks] {
            let ranges = UnicodeDataParser.ranges(text)
            #expect(ranges.count == tokenCount(text))
            #expect(ranges.allSatisfy { $0.upperBound <= 0x10_FFFF })
        }
        let classes = UnicodeDataParser.classes(UnicodeData.combiningClasses)
        #expect(classes.count == tokenCount(UnicodeData.combiningClasses))
        #expect(classes.allSatisfy { $0.1 > 0 })
        for text in [UnicodeData.decompositions, UnicodeData.lowercase] {
            let map = UnicodeDataParser.mappings(text)
            #expect(map.count == tokenCount(text))
            #expect(map.values.allSatisfy { !$0.isEmpty && $0.count <= 4 })
        }
    }

    @Test func parserRejectsMalformedTokens() {
        #expect(UnicodeDataParser.ranges("zz 10-20 30") .count == 2)
        #expect(UnicodeDataParser.classes("300:e6 bad 301:zz").count == 1)
        #expect(UnicodeDataParser.mappings("c0:41,300 nope").count == 1)
    }
}
