/// Greedy longest-match-first WordPiece (tokenizers' `WordPiece::tokenize`), appending ids.
///
/// A word of more than `WordBuffer.maxScalars` scalars, or one with a part no vocabulary
/// piece matches, becomes a single `[UNK]`. Candidate pieces are hashed as byte slices of the
/// word (see `PrefixHashes`), never materialised as strings.
struct WordPieceSink: WordSink {
    let vocabulary: Vocabulary
    let unknownId: Int32
    /// Stop once this many ids have been produced (truncation needs no more).
    let limit: Int
    let prefix: UnsafeMutableBufferPointer<UInt64>
    let powers: UnsafeBufferPointer<UInt64>
    var ids: [Int32]

    mutating func special(_ id: Int32) -> Bool {
        ids.append(id)
        return ids.count < limit
    }

    mutating func word(_ word: UnsafeBufferPointer<UInt8>, scalars: Int) -> Bool {
        if scalars > WordBuffer.maxScalars {
            ids.append(unknownId)
        } else if !appendPieces(word) {
            ids.append(unknownId)
        }
        return ids.count < limit
    }

    /// Appends the pieces of `word`, or nothing and false if some part matches no piece.
    @inline(__always)
    private mutating func appendPieces(_ word: UnsafeBufferPointer<UInt8>) -> Bool {
        let n = word.count
        let mark = ids.count
        PrefixHashes.fill(prefix, word: word)
        var start = 0
        while start < n {
            let table = start == 0 ? vocabulary.wordStarts : vocabulary.continuations
            var end = min(n, start + table.maxKeyLength)
            while end > start && end < n && word[end] & 0xC0 == 0x80 { end -= 1 }
            var found: Int32?
            while end > start {
                let hash = PrefixHashes.hash(prefix, start: start, end: end, powers: powers)
                if let id = table.lookup(word, start: start, end: end, hash: hash) {
                    found = id
                    break
                }
                end -= 1
                while end > start && word[end] & 0xC0 == 0x80 { end -= 1 }
            }
            guard let id = found else {
                ids.removeSubrange(mark...)
                return false
            }
            ids.append(id)
            start = end
        }
        return true
    }
}

/// Collects the words themselves (for tests and debugging).
struct WordCollector: WordSink {
    var words: [String] = []
    var truncated = false

    mutating func word(_ bytes: UnsafeBufferPointer<UInt8>, scalars: Int) -> Bool {
        let text = String(decoding: bytes, as: UTF8.self)
        if text.unicodeScalars.count != scalars { truncated = true }
        words.append(text)
        return true
    }

    mutating func special(_ id: Int32) -> Bool {
        words.append("<special \(id)>")
        return true
    }
}
