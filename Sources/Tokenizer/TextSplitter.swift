/// Sizes of the per-call scratch space. WordPiece turns any word of more than
/// `maxScalars` scalars into `[UNK]` (tokenizers' `max_input_chars_per_word`, counted in
/// `char`s, i.e. scalars), so the encoder only keeps the bytes of words that could still
/// match; longer words are only counted.
enum WordBuffer {
    /// tokenizers' `max_input_chars_per_word` for BERT.
    static let maxScalars = 100
    /// Room for `maxScalars + 1` scalars of 4 bytes: a word that does not fit is over the limit.
    static let byteCapacity = 4 * (maxScalars + 1)
    /// Pending combining marks awaiting canonical reordering; more than this means the word
    /// is over the limit anyway.
    static let runCapacity = maxScalars + 1
}

/// Receives what `TextSplitter` finds, in order.
protocol WordSink {
    /// One pre-token: normalised UTF-8 `bytes` of a word that has `scalars` Unicode scalars.
    /// When `scalars` exceeds what the buffer holds, `bytes` is only a prefix (such words are
    /// `[UNK]` for WordPiece). Returns false to stop splitting.
    mutating func word(_ bytes: UnsafeBufferPointer<UInt8>, scalars: Int) -> Bool
    /// A special token (`[CLS]`, `[SEP]`, …) written literally in the raw text. Returns false
    /// to stop splitting.
    mutating func special(_ id: Int32) -> Bool
}

/// A special token matched in the raw text before normalisation (tokenizers' added
/// vocabulary with `normalized: false`, `single_word: false`, no stripping).
struct SpecialToken: Sendable {
    let bytes: [UInt8]
    let id: Int32
}

/// tokenizers' BertNormalizer followed by BertPreTokenizer, in one streaming pass over UTF-8:
///
/// 1. special tokens are cut out of the raw text (added vocabulary);
/// 2. clean_text drops NUL, U+FFFD and control/format/private-use scalars and turns white
///    space into a space;
/// 3. CJK ideographs become words of their own;
/// 4. if lower-casing: NFD, canonical reordering of combining marks, nonspacing marks (Mn)
///    dropped, then `char::to_lowercase`;
/// 5. words split at white space; punctuation scalars become words of their own.
///
/// Steps 2–4 are per scalar (precomputed in `CharacterTable`) except canonical reordering,
/// which is done on runs of marks kept in `run`.
struct TextSplitter<Sink: WordSink> {
    private let table: CharacterTable
    private let lowercase: Bool
    private let specials: [SpecialToken]
    private let word: UnsafeMutableBufferPointer<UInt8>
    private var wordBytes = 0
    private var wordScalars = 0
    private let run: UnsafeMutableBufferPointer<UInt32>
    private var runCount = 0
    private var stopped = false
    /// The consumer of words; read it back after `split`.
    var sink: Sink

    /// `word` and `run` are scratch space owned by the caller for the duration of the split.
    init(table: CharacterTable, lowercase: Bool, specials: [SpecialToken],
         word: UnsafeMutableBufferPointer<UInt8>, run: UnsafeMutableBufferPointer<UInt32>, sink: Sink) {
        self.table = table
        self.lowercase = lowercase
        self.specials = specials
        self.word = word
        self.run = run
        self.sink = sink
    }

    /// Splits `text` (valid UTF-8, as every Swift `String` is; invalid sequences are skipped
    /// byte by byte rather than read past the end).
    mutating func split(_ text: UnsafeBufferPointer<UInt8>) {
        let n = text.count
        var i = 0
        asciiTable.withUnsafeBufferPointer { ascii in
            while i < n && !stopped {
                let b = text[i]
                if b < 0x80 {
                    let cls = ascii[Int(b)]
                    if cls == 0 {
                        if runCount > 0 { flushRun() }
                        appendByte(lowercase && b &- 0x41 < 26 ? b | 0x20 : b)
                        i += 1
                        continue
                    }
                    i += 1
                    switch cls {
                    case 1:
                        break
                    case 2:
                        if runCount > 0 { flushRun() }
                        endWord()
                    default:
                        if b == 0x5B, !specials.isEmpty, let special = matchSpecial(text, at: i - 1) {
                            if runCount > 0 { flushRun() }
                            endWord()
                            if !stopped && !sink.special(special.id) { stopped = true }
                            i += special.bytes.count - 1
                        } else {
                            if runCount > 0 { flushRun() }
                            endWord()
                            appendByte(b)
                            endWord()
                        }
                    }
                } else {
                    let (scalar, length) = Self.decode(text, at: i)
                    i += length
                    if let scalar { process(scalar) }
                }
            }
        }
        if runCount > 0 { flushRun() }
        endWord()
    }

    /// Leftmost-longest match of a special token at `i`.
    private func matchSpecial(_ text: UnsafeBufferPointer<UInt8>, at i: Int) -> SpecialToken? {
        var best: SpecialToken?
        for special in specials where special.bytes.count <= text.count - i {
            if special.bytes.count > (best?.bytes.count ?? 0) {
                var k = 0
                while k < special.bytes.count && text[i + k] == special.bytes[k] { k += 1 }
                if k == special.bytes.count { best = special }
            }
        }
        return best
    }

    /// Decodes one scalar; a malformed sequence (bad lead or continuation byte, truncated,
    /// surrogate or beyond U+10FFFF) yields nil and consumes one byte.
    @inline(__always)
    private static func decode(_ text: UnsafeBufferPointer<UInt8>, at i: Int) -> (UInt32?, Int) {
        let b0 = UInt32(text[i])
        let length = b0 >= 0xF0 ? 4 : b0 >= 0xE0 ? 3 : b0 >= 0xC0 ? 2 : 1
        guard length > 1, i + length <= text.count else { return (nil, 1) }
        var scalar = b0 & (0x7F >> UInt32(length))
        for k in 1..<length {
            let b = UInt32(text[i + k])
            guard b & 0xC0 == 0x80 else { return (nil, 1) }
            scalar = scalar << 6 | (b & 0x3F)
        }
        guard scalar <= 0x10_FFFF, scalar & 0x1F_F800 != 0xD800 else { return (nil, 1) }
        return (scalar, length)
    }

    @inline(__always)
    private mutating func process(_ scalar: UInt32) {
        let info = table.info(scalar)
        switch info & CharacterTable.kindMask {
        case CharacterTable.kindRemoved:
            return
        case CharacterTable.kindWhitespace:
            if runCount > 0 { flushRun() }
            endWord()
            return
        default:
            break
        }
        if !lowercase {
            // Cased: no NFD, so no reordering; CJK and punctuation stand alone.
            if info & (CharacterTable.cjkBit | CharacterTable.punctuationBit) != 0 {
                endWord()
                appendScalar(scalar)
                endWord()
            } else {
                appendScalar(scalar)
            }
            return
        }
        if info & CharacterTable.cjkBit != 0 {
            // The normaliser pads CJK ideographs with spaces before NFD.
            if runCount > 0 { flushRun() }
            endWord()
            emitItems(scalar, info: info)
            if runCount > 0 { flushRun() }
            endWord()
        } else {
            emitItems(scalar, info: info)
        }
    }

    @inline(__always)
    private mutating func emitItems(_ scalar: UInt32, info: UInt32) {
        if info & CharacterTable.hangulBit != 0 {
            let (l, v, t) = CharacterTable.hangulJamo(scalar)
            handle(item: l)
            handle(item: v)
            if let t { handle(item: t) }
            return
        }
        let mapping = Int(info >> CharacterTable.mappingShift)
        if mapping == 0 {
            handle(item: CharacterTable.identityItem(scalar, info: info))
            return
        }
        let items = table.items
        let count = Int(items[mapping])
        for k in 0..<count { handle(item: items[mapping + 1 + k]) }
    }

    @inline(__always)
    private mutating func handle(item: UInt32) {
        if item >> CharacterTable.itemCCCShift != 0 {
            if runCount < run.count { run[runCount] = item }
            runCount += 1
            return
        }
        if runCount > 0 { flushRun() }
        if item & CharacterTable.itemBarrierBit != 0 { return }
        let scalar = item & CharacterTable.itemScalarMask
        if item & CharacterTable.itemPunctuationBit != 0 {
            endWord()
            appendScalar(scalar)
            endWord()
        } else {
            appendScalar(scalar)
        }
    }

    /// Canonical ordering: a stable sort of the pending marks by combining class. Marks with a
    /// class are never punctuation (checked by a test), so they always join the current word.
    private mutating func flushRun() {
        let stored = min(runCount, run.count)
        if stored > 1 {
            for k in 1..<stored {
                let item = run[k]
                let key = item >> CharacterTable.itemCCCShift
                var j = k - 1
                while j >= 0 && run[j] >> CharacterTable.itemCCCShift > key {
                    run[j + 1] = run[j]
                    j -= 1
                }
                run[j + 1] = item
            }
        }
        for k in 0..<stored { appendScalar(run[k] & CharacterTable.itemScalarMask) }
        wordScalars += runCount - stored
        runCount = 0
    }

    @inline(__always)
    private mutating func appendByte(_ b: UInt8) {
        if wordBytes < word.count {
            word[wordBytes] = b
            wordBytes += 1
        }
        wordScalars += 1
    }

    @inline(__always)
    private mutating func appendScalar(_ scalar: UInt32) {
        wordScalars += 1
        if scalar < 0x80 {
            if wordBytes < word.count {
                word[wordBytes] = UInt8(scalar)
                wordBytes += 1
            }
            return
        }
        let length = scalar < 0x800 ? 2 : scalar < 0x1_0000 ? 3 : 4
        // A word whose bytes overflow the buffer has more scalars than WordPiece accepts.
        guard wordBytes + length <= word.count else {
            wordBytes = word.count
            return
        }
        switch length {
        case 2:
            word[wordBytes] = UInt8(0xC0 | scalar >> 6)
            word[wordBytes + 1] = UInt8(0x80 | scalar & 0x3F)
        case 3:
            word[wordBytes] = UInt8(0xE0 | scalar >> 12)
            word[wordBytes + 1] = UInt8(0x80 | (scalar >> 6) & 0x3F)
            word[wordBytes + 2] = UInt8(0x80 | scalar & 0x3F)
        default:
            word[wordBytes] = UInt8(0xF0 | scalar >> 18)
            word[wordBytes + 1] = UInt8(0x80 | (scalar >> 12) & 0x3F)
            word[wordBytes + 2] = UInt8(0x80 | (scalar >> 6) & 0x3F)
            word[wordBytes + 3] = UInt8(0x80 | scalar & 0x3F)
        }
        wordBytes += length
    }

    @inline(__always)
    private mutating func endWord() {
        guard wordScalars > 0 else { return }
        if !stopped && !sink.word(UnsafeBufferPointer(rebasing: word[0..<wordBytes]), scalars: wordScalars) {
            stopped = true
        }
        wordBytes = 0
        wordScalars = 0
    }
}

/// ASCII classes shared by every splitter: 0 word byte, 1 removed, 2 white space, 3 punctuation.
private let asciiTable: [UInt8] = (0..<128).map { b -> UInt8 in
    let info = CharacterTable.shared.info(UInt32(b))
    switch info & CharacterTable.kindMask {
    case CharacterTable.kindRemoved: return 1
    case CharacterTable.kindWhitespace: return 2
    default: return info & CharacterTable.punctuationBit != 0 ? 3 : 0
    }
}
