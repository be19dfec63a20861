import Foundation
import Locking
import TLS

/// Why a token file was refused (the path is always named; the tokens never are).
public struct TokenFileError: Error, CustomStringConvertible, Equatable {
    public let path: String
    public let reason: String
    public var description: String { "token file \(path): \(reason)" }
}

/// The bearer tokens that may call protected routes, read from a file (one token per line,
/// `#` comments, blank lines ignored) and kept only as SHA-256 digests.
///
/// A presented token is hashed and compared with every digest without early exit, so the
/// time taken says nothing about how much of a token was right. SIGHUP reloads the file;
/// a file that fails to load keeps the old tokens.
public final class BearerTokenStore: Sendable {
    /// The file the tokens come from.
    public let path: String
    private let digests: Locked<[[UInt8]]>

    /// Largest token file read (a token file is a few lines; this bounds a mistake).
    static let maxFileBytes = 1 << 20

    /// Loads `path`; throws if it cannot be read or holds no token.
    public init(path: String) throws(TokenFileError) {
        self.path = path
        digests = Locked(try Self.load(path))
    }

    /// How many tokens are in force.
    public var count: Int { digests.withLock { $0.count } }

    /// Reads the file again; on error the old tokens stay in force.
    public func reload() throws(TokenFileError) {
        let fresh = try Self.load(path)
        digests.withLock { $0 = fresh }
    }

    /// Whether an `Authorization` header value carries a valid bearer token.
    public func authorizes(_ header: String?) -> Bool {
        guard let token = Self.bearerToken(in: header) else { return false }
        let presented = sha256(Array(token.utf8))
        let known = digests.withLock { $0 }
        var matched = false
        for digest in known {
            var difference: UInt8 = 0
            for index in 0..<32 { difference |= digest[index] ^ presented[index] }
            matched = matched || difference == 0
        }
        return matched
    }

    /// The token of `Bearer <token>` (scheme case-insensitive, RFC 6750), else nil.
    static func bearerToken(in header: String?) -> Substring? {
        guard let header else { return nil }
        let trimmed = header.drop { $0 == " " }
        guard trimmed.count > 7, trimmed.prefix(7).lowercased() == "bearer " else { return nil }
        let token = trimmed.dropFirst(7).drop { $0 == " " }
        let end = token.lastIndex { $0 != " " }.map { token.index(after: $0) } ?? token.startIndex
        let value = token[..<end]
        return value.isEmpty ? nil : value
    }

    static func load(_ path: String) throws(TokenFileError) -> [[UInt8]] {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw TokenFileError(path: path, reason: "cannot be read (missing or no permission)")
        }
        defer { try? handle.close() }
        let data = (try? handle.read(upToCount: maxFileBytes + 1)) ?? Data()
        guard data.count <= maxFileBytes else {
            throw TokenFileError(path: path, reason: "larger than \(maxFileBytes) bytes")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw TokenFileError(path: path, reason: "not UTF-8")
        }
        var digests: [[UInt8]] = []
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let token = line.trimmingCharacters(in: .whitespaces.union(.init(charactersIn: "\r")))
            if token.isEmpty || token.hasPrefix("#") { continue }
            guard !token.contains(where: { $0 == " " || $0 == "\t" }) else {
                throw TokenFileError(path: path, reason: "line \(number + 1) holds more than one word (one token per line)")
            }
            digests.append(sha256(Array(token.utf8)))
        }
        guard !digests.isEmpty else { throw TokenFileError(path: path, reason: "holds no token") }
        return digests
    }
}
