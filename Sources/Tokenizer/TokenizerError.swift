/// Why a vocabulary could not be loaded. Each case names the file (or `<memory>`) and, where
/// it applies, the 1-based line of `vocab.txt` at fault.
public enum TokenizerError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The file could not be opened or read.
    case unreadableVocabulary(path: String, reason: String)
    /// The file is larger than the loader accepts.
    case vocabularyTooLarge(path: String, bytes: Int, limit: Int)
    /// The file holds more tokens than the loader accepts.
    case tooManyTokens(path: String, limit: Int)
    /// The file holds no tokens at all.
    case emptyVocabulary(path: String)
    /// A line is not valid UTF-8.
    case invalidUTF8(path: String, line: Int)
    /// A token is longer than the loader accepts.
    case tokenTooLong(path: String, line: Int, bytes: Int, limit: Int)
    /// The same token appears on two lines, so its id would be ambiguous.
    case duplicateToken(path: String, token: String, firstLine: Int, line: Int)
    /// One of `[CLS]`, `[SEP]`, `[UNK]`, `[PAD]` is not in the vocabulary.
    case missingSpecialToken(path: String, token: String)

    /// A one-line message saying what is wrong and where.
    public var description: String {
        switch self {
        case let .unreadableVocabulary(path, reason):
            return "cannot read vocabulary \(path): \(reason)"
        case let .vocabularyTooLarge(path, bytes, limit):
            return "vocabulary \(path) has \(bytes) bytes, more than the limit of \(limit)"
        case let .tooManyTokens(path, limit):
            return "vocabulary \(path) has more than \(limit) tokens"
        case let .emptyVocabulary(path):
            return "vocabulary \(path) has no tokens"
        case let .invalidUTF8(path, line):
            return "vocabulary \(path) line \(line): not valid UTF-8"
        case let .tokenTooLong(path, line, bytes, limit):
            return "vocabulary \(path) line \(line): token of \(bytes) bytes exceeds the limit of \(limit)"
        case let .duplicateToken(path, token, firstLine, line):
            return "vocabulary \(path) line \(line): token \(token.debugDescription) already on line \(firstLine)"
        case let .missingSpecialToken(path, token):
            return "vocabulary \(path) lacks the special token \(token)"
        }
    }
}
