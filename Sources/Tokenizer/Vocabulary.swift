#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A WordPiece vocabulary: `vocab.txt`, one token per line, id = line index.
///
/// Lines are split the way `transformers` reads the file (Python universal newlines: `\n`,
/// `\r\n` and `\r` all end a line; nothing else is stripped). Unlike `transformers`, which keeps
/// the last id of a repeated token, a repeated token is an error: the file is broken.
struct Vocabulary: Sendable {
    /// Largest `vocab.txt` accepted (bert-base is 226 KiB).
    static let maxFileBytes = 64 << 20
    /// Most tokens accepted (ids must fit the model's embedding table, and `Int32`).
    static let maxTokens = 1 << 22
    /// Longest token accepted, in bytes; WordPiece never matches more than 100 scalars anyway.
    static let maxTokenBytes = 1024

    /// The prefix WordPiece puts on every piece after the first of a word.
    static let continuationPrefix: [UInt8] = Array("##".utf8)

    /// Every token, keyed by its full bytes: pieces that start a word.
    let wordStarts: PieceTable
    /// Tokens that begin with `##`, keyed by the bytes after it: pieces inside a word.
    let continuations: PieceTable
    /// Token strings by id.
    let tokens: [String]

    /// Loads `path`; every failure is a `TokenizerError` naming the file.
    init(contentsOf path: String) throws {
        try self.init(bytes: Self.readFile(path), source: path)
    }

    /// Parses the bytes of a `vocab.txt`; `source` names them in errors.
    init(bytes: [UInt8], source: String) throws {
        guard bytes.count <= Self.maxFileBytes else {
            throw TokenizerError.vocabularyTooLarge(path: source, bytes: bytes.count, limit: Self.maxFileBytes)
        }
        // Count lines first so an oversized file is refused before anything is allocated.
        let breaks = bytes.withUnsafeBufferPointer { buffer in
            var count = 0
            for i in buffer.indices {
                let b = buffer[i]
                if b == 0x0A || (b == 0x0D && (i + 1 == buffer.count || buffer[i + 1] != 0x0A)) { count += 1 }
            }
            return count
        }
        let lineCount = breaks + (bytes.last == 0x0A || bytes.last == 0x0D ? 0 : 1)
        guard lineCount <= Self.maxTokens else {
            throw TokenizerError.tooManyTokens(path: source, limit: Self.maxTokens)
        }
        guard !bytes.isEmpty else { throw TokenizerError.emptyVocabulary(path: source) }

        var tokens: [String] = []
        tokens.reserveCapacity(lineCount)
        var firstLine: [String: Int] = [:]
        firstLine.reserveCapacity(lineCount)
        var all: [(key: ArraySlice<UInt8>, id: Int32)] = []
        all.reserveCapacity(lineCount)
        var continuations: [(key: ArraySlice<UInt8>, id: Int32)] = []

        func add(_ line: ArraySlice<UInt8>) throws {
            let index = tokens.count
            guard line.count <= Self.maxTokenBytes else {
                throw TokenizerError.tokenTooLong(path: source, line: index + 1, bytes: line.count,
                                                  limit: Self.maxTokenBytes)
            }
            guard let token = String(validating: line, as: UTF8.self) else {
                throw TokenizerError.invalidUTF8(path: source, line: index + 1)
            }
            if let first = firstLine[token] {
                throw TokenizerError.duplicateToken(path: source, token: token, firstLine: first,
                                                    line: index + 1)
            }
            firstLine[token] = index + 1
            tokens.append(token)
            all.append((line, Int32(index)))
            if line.starts(with: Self.continuationPrefix) {
                continuations.append((line.dropFirst(Self.continuationPrefix.count), Int32(index)))
            }
        }

        var start = 0
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            if b == 0x0A || b == 0x0D {
                try add(bytes[start..<i])
                if b == 0x0D && i + 1 < bytes.count && bytes[i + 1] == 0x0A { i += 1 }
                start = i + 1
            }
            i += 1
        }
        if start < bytes.count { try add(bytes[start...]) }
        self.tokens = tokens
        self.wordStarts = PieceTable(keys: all)
        self.continuations = PieceTable(keys: continuations)
    }

    /// The id of a token, if the vocabulary has it.
    func id(of token: String) -> Int32? { wordStarts.id(of: Array(token.utf8)) }

    private static func readFile(_ path: String) throws -> [UInt8] {
        guard let file = fopen(path, "rb") else {
            throw TokenizerError.unreadableVocabulary(path: path, reason: String(cString: strerror(errno)))
        }
        defer { fclose(file) }
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, file) }
            if n > 0 { result.append(contentsOf: chunk[0..<n]) }
            if result.count > maxFileBytes {
                throw TokenizerError.vocabularyTooLarge(path: path, bytes: result.count, limit: maxFileBytes)
            }
            if n < chunk.count {
                if ferror(file) != 0 {
                    throw TokenizerError.unreadableVocabulary(path: path, reason: String(cString: strerror(errno)))
                }
                return result
            }
        }
    }
}

