/// BERT WordPiece tokenizer, token for token identical to Hugging Face `BertTokenizerFast`
/// (the `tokenizers` library: BertNormalizer with clean_text, handle_chinese_chars,
/// strip_accents following lowercase; BertPreTokenizer; WordPiece with `##` and 100 scalars
/// per word; `[CLS] … [SEP]`; the special tokens matched literally in the text).
///
/// Immutable after `init`, so one instance may serve any number of threads.
public final class BertTokenizer: Sendable {
    /// Whether text is lower-cased and stripped of accents (the model's `do_lower_case`).
    public let doLowerCase: Bool
    /// Id of `[CLS]`, which starts every encoding.
    public let clsId: Int32
    /// Id of `[SEP]`, which ends every encoding.
    public let sepId: Int32
    /// Id of `[PAD]`, for callers that pad batches.
    public let padId: Int32
    /// Id of `[UNK]`, for words no piece sequence covers.
    public let unkId: Int32

    private let vocabulary: Vocabulary
    private let specials: [SpecialToken]
    private let table: CharacterTable

    /// Loads `vocab.txt` from `vocabFile`. Throws `TokenizerError` if the file is unreadable,
    /// too large, not UTF-8, has a repeated token, or lacks `[CLS]`, `[SEP]`, `[UNK]` or `[PAD]`.
    public convenience init(vocabFile: String, doLowerCase: Bool) throws {
        try self.init(vocabulary: Vocabulary(contentsOf: vocabFile), source: vocabFile,
                      doLowerCase: doLowerCase)
    }

    /// Builds a tokenizer from the bytes of a `vocab.txt` already in memory.
    public convenience init(vocabularyBytes: [UInt8], doLowerCase: Bool) throws {
        try self.init(vocabulary: Vocabulary(bytes: vocabularyBytes, source: "<memory>"),
                      source: "<memory>", doLowerCase: doLowerCase)
    }

    private init(vocabulary: Vocabulary, source: String, doLowerCase: Bool) throws {
        func required(_ token: String) throws -> Int32 {
            guard let id = vocabulary.id(of: token) else {
                throw TokenizerError.missingSpecialToken(path: source, token: token)
            }
            return id
        }
        clsId = try required("[CLS]")
        sepId = try required("[SEP]")
        unkId = try required("[UNK]")
        padId = try required("[PAD]")
        self.vocabulary = vocabulary
        self.doLowerCase = doLowerCase
        // transformers registers these five as special added tokens (normalized: false).
        specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"].compactMap { token in
            vocabulary.id(of: token).map { SpecialToken(bytes: Array(token.utf8), id: $0) }
        }
        table = CharacterTable.shared
    }

    /// Number of tokens in the vocabulary.
    public var vocabularySize: Int { vocabulary.tokens.count }

    /// The id of `token`, if the vocabulary has it.
    public func id(of token: String) -> Int32? { vocabulary.id(of: token) }

    /// The token with id `id`, if there is one.
    public func token(for id: Int32) -> String? {
        vocabulary.tokens.indices.contains(Int(id)) ? vocabulary.tokens[Int(id)] : nil
    }

    /// Token ids of `text`: `[CLS]`, the WordPiece ids, `[SEP]`, keeping only the first
    /// `maxLength - 2` WordPiece ids so the result has at most `maxLength` ids (longer text is
    /// truncated, never refused). Like `tokenizers`, a `maxLength` below 2 truncates nothing.
    /// The attention mask is all ones over the result (there is no padding).
    public func encode(_ text: String, maxLength: Int) -> [Int32] {
        // Ids kept before [SEP], counting [CLS].
        let keep = maxLength >= 2 ? maxLength - 1 : Int.max
        var ids: [Int32]
        if keep > 1 {
            ids = text.utf8.withContiguousStorageIfAvailable { wordPieces(of: $0, keep: keep) }
                ?? Array(text.utf8).withUnsafeBufferPointer { wordPieces(of: $0, keep: keep) }
            if ids.count > keep { ids.removeSubrange(keep...) }
        } else {
            ids = [clsId]
        }
        ids.append(sepId)
        return ids
    }

    /// `[CLS]` and the WordPiece ids of `text`, stopping once `keep` ids are reached (the last
    /// word may overshoot; the caller truncates).
    private func wordPieces(of text: UnsafeBufferPointer<UInt8>, keep: Int) -> [Int32] {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: WordBuffer.byteCapacity) { word in
            withUnsafeTemporaryAllocation(of: UInt32.self, capacity: WordBuffer.runCapacity) { run in
                withUnsafeTemporaryAllocation(of: UInt64.self, capacity: WordBuffer.byteCapacity + 1) { prefix in
                    PrefixHashes.powers.withUnsafeBufferPointer { powers in
                        var ids: [Int32] = []
                        // Most text gives about one id per 4-5 bytes.
                        ids.reserveCapacity(min(text.count / 4, keep) + 2)
                        ids.append(clsId)
                        let sink = WordPieceSink(vocabulary: vocabulary, unknownId: unkId, limit: keep,
                                                 prefix: prefix, powers: powers, ids: ids)
                        var splitter = TextSplitter(table: table, lowercase: doLowerCase,
                                                    specials: specials, word: word, run: run, sink: sink)
                        splitter.split(text)
                        return splitter.sink.ids
                    }
                }
            }
        }
    }

    /// The words BertNormalizer + BertPreTokenizer make of `text` (no special-token
    /// matching), for parity tests against `tokenizers`' `pre_tokenize_str(normalize_str(…))`.
    package func preTokenize(_ text: String) -> [String] {
        let bytes = Array(text.utf8)
        let capacity = 8 * bytes.count + 16
        return bytes.withUnsafeBufferPointer { text in
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: capacity) { word in
                withUnsafeTemporaryAllocation(of: UInt32.self, capacity: capacity) { run in
                    var splitter = TextSplitter(table: table, lowercase: doLowerCase, specials: [],
                                                word: word, run: run, sink: WordCollector())
                    splitter.split(text)
                    return splitter.sink.words
                }
            }
        }
    }
}
