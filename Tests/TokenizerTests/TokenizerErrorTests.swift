import Testing
import Tokenizer

@Suite struct TokenizerErrorTests {
    @Test func descriptionsSayWhatAndWhere() {
        let cases: [(TokenizerError, [String])] = [
            (.unreadableVocabulary(path: "/m/vocab.txt", reason: "No such file"), ["/m/vocab.txt", "No such file"]),
            (.vocabularyTooLarge(path: "v", bytes: 99, limit: 10), ["v", "99", "10"]),
            (.tooManyTokens(path: "v", limit: 7), ["v", "7"]),
            (.emptyVocabulary(path: "v"), ["v", "no tokens"]),
            (.invalidUTF8(path: "v", line: 3), ["v", "line 3", "UTF-8"]),
            (.tokenTooLong(path: "v", line: 4, bytes: 2000, limit: 1024), ["line 4", "2000", "1024"]),
            (.duplicateToken(path: "v", token: "##a", firstLine: 2, line: 9), ["line 9", "\"##a\"", "line 2"]),
            (.missingSpecialToken(path: "v", token: "[CLS]"), ["v", "[CLS]"]),
        ]
        for (error, parts) in cases {
            for part in parts {
                #expect(error.description.contains(part), "\(error.description) lacks \(part)")
            }
            #expect(!error.description.contains("\n"))
        }
    }
}
