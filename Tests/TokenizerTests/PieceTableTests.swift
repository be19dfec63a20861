import Testing
@testable import Tokenizer

@Suite struct PieceTableTests {
    static let keys = ["a", "ab", "abc", "un", "aff", "able", "日本", "é", "", "zz"]

    func table() -> PieceTable {
        PieceTable(keys: Self.keys.enumerated().map { (ArraySlice(Array($0.element.utf8)), Int32($0.offset)) })
    }

    @Test func findsEveryKeyAndNothingElse() {
        let table = table()
        #expect(table.count == Self.keys.count)
        for (id, key) in Self.keys.enumerated() {
            #expect(table.id(of: Array(key.utf8)) == Int32(id))
        }
        for absent in ["abcd", "b", "A", "日", "e", "zzz", "un "] {
            #expect(table.id(of: Array(absent.utf8)) == nil, "\(absent)")
        }
        #expect(table.maxKeyLength == 6)  // "日本" is 6 bytes
    }

    /// Slice hashes from prefix hashes equal whole-key hashes, so slices of a word find the
    /// keys they spell.
    @Test func slicesOfAWordFindTheirKeys() {
        let table = table()
        let word = Array("xunaffable日本".utf8)
        word.withUnsafeBufferPointer { word in
            withUnsafeTemporaryAllocation(of: UInt64.self, capacity: word.count + 1) { prefix in
                PrefixHashes.powers.withUnsafeBufferPointer { powers in
                    PrefixHashes.fill(prefix, word: word)
                    for start in 0..<word.count {
                        for end in start...word.count {
                            let slice = Array(word[start..<end])
                            let hash = PrefixHashes.hash(prefix, start: start, end: end, powers: powers)
                            #expect(hash == PieceTable.hash(slice))
                            let expected = Self.keys.firstIndex(of: String(decoding: slice, as: UTF8.self))
                                .flatMap { Array(Self.keys[$0].utf8) == slice ? Int32($0) : nil }
                            #expect(table.lookup(word, start: start, end: end, hash: hash) == expected)
                        }
                    }
                }
            }
        }
    }

    /// Many keys (more than the initial capacity, so probing wraps and chains).
    @Test func holdsAFullVocabularySizedSet() {
        let keys = (0..<40_000).map { "k\($0)" }
        let table = PieceTable(keys: keys.enumerated().map { (ArraySlice(Array($0.element.utf8)), Int32($0.offset)) })
        for (id, key) in keys.enumerated() where id % 7 == 0 {
            #expect(table.id(of: Array(key.utf8)) == Int32(id))
        }
        #expect(table.id(of: Array("k40000".utf8)) == nil)
    }

    @Test func emptyTableFindsNothing() {
        let table = PieceTable(keys: [])
        #expect(table.id(of: Array("a".utf8)) == nil)
        #expect(table.maxKeyLength == 0)
    }
}
