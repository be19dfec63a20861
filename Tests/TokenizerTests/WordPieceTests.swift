import Testing
@testable import Tokenizer

/// Greedy longest-match-first WordPiece on a small vocabulary whose expected pieces follow
/// from the algorithm's definition (tokenizers' `WordPiece::tokenize`).
@Suite struct WordPieceTests {
    static let vocabText = "[UNK]\nun\n##aff\n##able\n##a\n##ffable\nu\n##n\ncafé\n##é\n日\n##本\nx\n##x\n"

    func pieces(_ word: String, limit: Int = Int.max) throws -> [Int32] {
        let vocab = try Vocabulary(bytes: Array(Self.vocabText.utf8), source: "test")
        let bytes = Array(word.utf8)
        return bytes.withUnsafeBufferPointer { word in
            withUnsafeTemporaryAllocation(of: UInt64.self, capacity: WordBuffer.byteCapacity + 1) { prefix in
                PrefixHashes.powers.withUnsafeBufferPointer { powers in
                    var sink = WordPieceSink(vocabulary: vocab, unknownId: 0, limit: limit,
                                             prefix: prefix, powers: powers, ids: [])
                    _ = sink.word(word, scalars: String(decoding: word, as: UTF8.self).unicodeScalars.count)
                    return sink.ids
                }
            }
        }
    }

    @Test func longestPieceWinsAtEachPosition() throws {
        // Longest start "un" (not "u"), then longest continuation "##aff" (there is no
        // "##affable"), then "##able"; "##ffable" would need the split "una"+"ffable", which
        // greedy matching never considers.
        #expect(try pieces("unaffable") == [1, 2, 3])
        #expect(try pieces("una") == [1, 4])
        #expect(try pieces("u") == [6])
    }

    @Test func unmatchedPartMakesTheWholeWordUnknown() throws {
        #expect(try pieces("unz") == [0])
        #expect(try pieces("z") == [0])
    }

    @Test func multiByteScalarsAreNeverSplit() throws {
        #expect(try pieces("café") == [8])
        #expect(try pieces("日本") == [10, 11])
        #expect(try pieces("cafée") == [0])  // "##e" missing
        #expect(try pieces("caféé") == [8, 9])
    }

    /// The limit is in scalars, not bytes: 100 two-byte scalars still tokenise.
    @Test func hundredScalarsIsTheLimit() throws {
        #expect(try pieces(String(repeating: "x", count: 100)) == [12] + Array(repeating: 13, count: 99))
        #expect(try pieces(String(repeating: "x", count: 101)) == [0])
        #expect(try pieces("café" + String(repeating: "é", count: 96)) == [8] + Array(repeating: 9, count: 96))
        #expect(try pieces("café" + String(repeating: "é", count: 97)) == [0])
    }

    /// The sink asks to stop once it holds `limit` ids.
    @Test func reportsWhenTheLimitIsReached() throws {
        let vocab = try Vocabulary(bytes: Array(Self.vocabText.utf8), source: "test")
        let word = Array("xxx".utf8)
        let (more, ids) = word.withUnsafeBufferPointer { word in
            withUnsafeTemporaryAllocation(of: UInt64.self, capacity: WordBuffer.byteCapacity + 1) { prefix in
                PrefixHashes.powers.withUnsafeBufferPointer { powers in
                    var sink = WordPieceSink(vocabulary: vocab, unknownId: 0, limit: 2,
                                             prefix: prefix, powers: powers, ids: [])
                    let more = sink.word(word, scalars: 3)
                    return (more, sink.ids)
                }
            }
        }
        #expect(more == false)
        #expect(ids == [12, 13, 13])  // the whole word; the caller truncates
    }
}
