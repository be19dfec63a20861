import Foundation
import Testing
@testable import Tokenizer

@Suite struct BertTokenizerTests {
    /// Every golden string must give exactly the ids `BertTokenizerFast` gave.
    func checkGoldens(_ file: String, lowercase: Bool, minimum: Int) throws {
        let tokenizer = try Fixtures.tokenizer(lowercase: lowercase)
        let lines = try Fixtures.lines("goldens/tokenizer/\(file)")
        #expect(lines.count >= minimum)
        var failures = 0
        for (index, line) in lines.enumerated() {
            let golden = try JSONDecoder().decode(IdGolden.self, from: line)
            let got = tokenizer.encode(golden.text, maxLength: golden.max_length)
            if got != golden.ids {
                failures += 1
                if failures <= 20 {
                    Issue.record("""
                        \(file):\(index + 1) [\(golden.kind)] max_length \(golden.max_length)
                          text:     \(golden.text.debugDescription)
                          scalars:  \(scalarDump(golden.text))
                          expected: \(golden.ids)
                          got:      \(got)
                        """)
                }
            }
        }
        #expect(failures == 0, "\(failures) of \(lines.count) strings in \(file) differ")
    }

    @Test func uncasedGoldensMatchExactly() throws {
        try checkGoldens("uncased.jsonl", lowercase: true, minimum: 3000)
    }

    @Test func casedGoldensMatchExactly() throws {
        try checkGoldens("cased.jsonl", lowercase: false, minimum: 500)
    }

    @Test func specialTokenIdsComeFromTheVocabulary() throws {
        let tokenizer = try Fixtures.tokenizer(lowercase: true)
        let tokens = try String(contentsOfFile: Fixtures.vocabPath, encoding: .utf8)
            .split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(tokenizer.clsId == Int32(try #require(tokens.firstIndex(of: "[CLS]"))))
        #expect(tokenizer.sepId == Int32(try #require(tokens.firstIndex(of: "[SEP]"))))
        #expect(tokenizer.unkId == Int32(try #require(tokens.firstIndex(of: "[UNK]"))))
        #expect(tokenizer.padId == Int32(try #require(tokens.firstIndex(of: "[PAD]"))))
        #expect(tokenizer.vocabularySize == tokens.count - 1)  // the file ends with a newline
        #expect(tokenizer.token(for: tokenizer.clsId) == "[CLS]")
        #expect(tokenizer.token(for: -1) == nil)
        #expect(tokenizer.token(for: Int32(tokenizer.vocabularySize)) == nil)
    }

    @Test func truncationKeepsClsAndSepWithinMaxLength() throws {
        let tokenizer = try Fixtures.tokenizer(lowercase: true)
        let text = String(repeating: "the quick brown fox jumps over the lazy dog. ", count: 50)
        let full = tokenizer.encode(text, maxLength: Int.max)
        for maxLength in 2...40 {
            let ids = tokenizer.encode(text, maxLength: maxLength)
            #expect(ids.count == maxLength)
            #expect(ids.first == tokenizer.clsId && ids.last == tokenizer.sepId)
            #expect(Array(ids.dropLast()) == Array(full.prefix(maxLength - 1)))
        }
        // Like tokenizers, a max_length below the two special tokens truncates nothing.
        #expect(tokenizer.encode(text, maxLength: 1) == full)
        #expect(tokenizer.encode(text, maxLength: 0) == full)
        #expect(tokenizer.encode(text, maxLength: -5) == full)
    }

    @Test func concurrentEncodingAgreesWithSerial() async throws {
        let tokenizer = try Fixtures.tokenizer(lowercase: true)
        let lines = try Fixtures.lines("goldens/tokenizer/uncased.jsonl").prefix(400)
        let goldens = try lines.map { try JSONDecoder().decode(IdGolden.self, from: $0) }
        let mismatches = await withTaskGroup(of: Int.self) { group in
            for part in 0..<4 {
                group.addTask {
                    var bad = 0
                    for (i, g) in goldens.enumerated() where i % 4 == part {
                        if tokenizer.encode(g.text, maxLength: g.max_length) != g.ids { bad += 1 }
                    }
                    return bad
                }
            }
            return await group.reduce(0, +)
        }
        #expect(mismatches == 0)
    }

    @Test func hostileInputsStayBounded() throws {
        let tokenizer = try Fixtures.tokenizer(lowercase: true)
        // A megabyte-long word, a long run of combining marks with classes, and many marks
        // between letters: each gives bounded output and returns.
        let cases = [
            String(repeating: "a", count: 1 << 20),
            "a" + String(repeating: "\u{1D165}\u{1D16D}", count: 100_000),
            String(repeating: "e\u{301}\u{316}", count: 100_000),
            String(repeating: "[CLS]", count: 10_000),
        ]
        for text in cases {
            let ids = tokenizer.encode(text, maxLength: 512)
            #expect(ids.count <= 512)
            #expect(ids.first == tokenizer.clsId && ids.last == tokenizer.sepId)
        }
        let unbounded = tokenizer.encode(cases[1], maxLength: 0)
        #expect(unbounded == [tokenizer.clsId, tokenizer.unkId, tokenizer.sepId])
    }

    @Test func loadErrorsAreTyped() throws {
        #expect(throws: TokenizerError.self) {
            try BertTokenizer(vocabFile: "/nonexistent/vocab.txt", doLowerCase: true)
        }
        for missing in ["[CLS]", "[SEP]", "[UNK]", "[PAD]"] {
            let tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "hello"].filter { $0 != missing }
            let bytes = Array(tokens.joined(separator: "\n").utf8)
            #expect(throws: TokenizerError.missingSpecialToken(path: "<memory>", token: missing)) {
                try BertTokenizer(vocabularyBytes: bytes, doLowerCase: true)
            }
        }
        // [MASK] is optional: without it the literal text is split like any other (transformers
        // would append it as an id past the vocabulary; see docs/tokenizer.md).
        let minimal = Array("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[\n]\nmask\n".utf8)
        let tokenizer = try BertTokenizer(vocabularyBytes: minimal, doLowerCase: true)
        #expect(tokenizer.encode("[MASK]", maxLength: 16) == [2, 4, 6, 5, 3])
        #expect(tokenizer.encode("[SEP]", maxLength: 16) == [2, 3, 3])
    }
}
