import Foundation
import Testing
@testable import Tokenizer

@Suite struct VocabularyTests {
    func load(_ text: String) throws -> Vocabulary {
        try Vocabulary(bytes: Array(text.utf8), source: "test")
    }

    @Test func idsAreLineNumbers() throws {
        let vocab = try load("[PAD]\nhello\n##lo\nworld\n")
        #expect(vocab.tokens == ["[PAD]", "hello", "##lo", "world"])
        #expect(vocab.id(of: "world") == 3)
        #expect(vocab.id(of: "##lo") == 2)
        #expect(vocab.continuations.id(of: Array("lo".utf8)) == 2)
        #expect(vocab.continuations.id(of: Array("hello".utf8)) == nil)
        #expect(vocab.continuations.count == 1)
    }

    /// Python's universal newlines: `\r\n`, `\r` and `\n` all end a line; a missing final
    /// newline still ends the last token; blank lines are (empty) tokens.
    @Test func lineEndingsFollowTransformers() throws {
        #expect(try load("a\r\nb\rc\nd").tokens == ["a", "b", "c", "d"])
        #expect(try load("a\n\nb\n").tokens == ["a", "", "b"])
        #expect(try load(" a \t\n").tokens == [" a \t"])
        #expect(try load("x\r\n").tokens == ["x"])
        #expect(try load("x\r").tokens == ["x"])
        #expect(try load("\r\n").tokens == [""])
        #expect(try load("a\n\r\nb").tokens == ["a", "", "b"])
    }

    @Test func duplicateTokensAreRejected() {
        #expect(throws: TokenizerError.duplicateToken(path: "test", token: "b", firstLine: 2, line: 4)) {
            try load("a\nb\nc\nb\n")
        }
        #expect(throws: TokenizerError.duplicateToken(path: "test", token: "", firstLine: 2, line: 3)) {
            try load("a\n\n\n")
        }
    }

    @Test func malformedFilesAreRejected() {
        #expect(throws: TokenizerError.emptyVocabulary(path: "test")) { try load("") }
        #expect(throws: TokenizerError.invalidUTF8(path: "test", line: 2)) {
            try Vocabulary(bytes: Array("ok\n".utf8) + [0xFF, 0x0A], source: "test")
        }
        let long = String(repeating: "x", count: Vocabulary.maxTokenBytes + 1)
        #expect(throws: TokenizerError.tokenTooLong(path: "test", line: 2, bytes: long.utf8.count,
                                                    limit: Vocabulary.maxTokenBytes)) {
            try load("ok\n\(long)\n")
        }
        let huge = [UInt8](repeating: 0x61, count: Vocabulary.maxFileBytes + 1)
        #expect(throws: TokenizerError.vocabularyTooLarge(path: "test", bytes: huge.count,
                                                          limit: Vocabulary.maxFileBytes)) {
            try Vocabulary(bytes: huge, source: "test")
        }
        let many = [UInt8](repeating: 0x0A, count: Vocabulary.maxTokens + 1)
        #expect(throws: TokenizerError.tooManyTokens(path: "test", limit: Vocabulary.maxTokens)) {
            try Vocabulary(bytes: many, source: "test")
        }
        // Exactly the limit in CRLF lines is not too many (it fails later, on duplicates).
        var crlf = [UInt8](repeating: 0x0A, count: 2 * Vocabulary.maxTokens)
        for i in stride(from: 0, to: crlf.count, by: 2) { crlf[i] = 0x0D }
        #expect(throws: TokenizerError.duplicateToken(path: "test", token: "", firstLine: 1, line: 2)) {
            try Vocabulary(bytes: crlf, source: "test")
        }
    }

    @Test func unreadableFilesAreRejected() throws {
        #expect(throws: TokenizerError.self) { try Vocabulary(contentsOf: "/nonexistent/vocab.txt") }
        do {
            _ = try Vocabulary(contentsOf: "/nonexistent/vocab.txt")
        } catch let error as TokenizerError {
            #expect(error.description.contains("/nonexistent/vocab.txt"))
        }
        let directory = FileManager.default.temporaryDirectory.path
        #expect(throws: TokenizerError.self) { try Vocabulary(contentsOf: directory) }
    }

    @Test func bertBaseUncasedLoads() throws {
        let vocab = try Vocabulary(contentsOf: Fixtures.vocabPath)
        #expect(vocab.tokens.count == 30522)
        #expect(vocab.tokens.filter { $0.utf8.starts(with: "##".utf8) }.count == vocab.continuations.count)
        for (id, token) in vocab.tokens.enumerated() where id % 101 == 0 {
            #expect(vocab.id(of: token) == Int32(id))
        }
    }
}
