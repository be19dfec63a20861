#if canImport(Glibc)
import Glibc
#endif

/// One part of a `multipart/form-data` body.
public struct MultipartPart: Sendable, Hashable {
    /// The form field name (`name=` of `Content-Disposition`).
    public var name: String
    /// The file name, for file fields.
    public var filename: String?
    /// The part's `Content-Type` (`text/plain` when absent, per RFC 7578).
    public var contentType: String
    /// All part headers.
    public var headers: HTTPHeaders
    /// The content.
    public var body: [UInt8]

    /// Creates a part.
    public init(name: String, filename: String? = nil, contentType: String = "text/plain",
                headers: HTTPHeaders = [:], body: [UInt8]) {
        self.name = name
        self.filename = filename
        self.contentType = contentType
        self.headers = headers
        self.body = body
    }

    /// The body as UTF-8 text, or `nil` if it is not valid UTF-8.
    public var text: String? { String(validating: body, as: UTF8.self) }
}

extension Array where Element == MultipartPart {
    /// The first part named `name`.
    public func first(named name: String) -> MultipartPart? { first { $0.name == name } }
}

/// Bounds for multipart parsing.
public struct MultipartLimits: Sendable, Hashable {
    /// Parts per body (default 32).
    public var maxParts: Int
    /// Header bytes per part (default 8 KiB).
    public var maxPartHeaderBytes: Int
    /// Header fields per part (default 16).
    public var maxPartHeaderCount: Int

    /// Creates limits.
    public init(maxParts: Int = 32, maxPartHeaderBytes: Int = 8 * 1024, maxPartHeaderCount: Int = 16) {
        self.maxParts = maxParts
        self.maxPartHeaderBytes = maxPartHeaderBytes
        self.maxPartHeaderCount = maxPartHeaderCount
    }
}

/// Why a multipart body was refused (the detail names the part index when known).
public typealias MultipartError = CodedError<MultipartFailure>

/// The kind of a `MultipartError`; its raw value is a stable snake_case code.
public enum MultipartFailure: String, ErrorKind {
    /// The Content-Type is not `multipart/form-data`.
    case notMultipart = "not_multipart_form_data"
    /// No usable `boundary` parameter.
    case invalidBoundary = "invalid_multipart_boundary"
    /// The body does not start with (a preamble and) the first delimiter.
    case missingDelimiter = "missing_multipart_delimiter"
    /// The body ends before the close delimiter.
    case unterminated = "unterminated_multipart_body"
    /// Junk after a delimiter, or a malformed part header section.
    case malformed = "malformed_multipart_body"
    /// More than `maxParts` parts.
    case tooManyParts = "too_many_multipart_parts"
    /// A part's header section is over the limits.
    case partHeadersTooLarge = "multipart_headers_too_large"
    /// No `Content-Disposition: form-data; name=…` on a part.
    case invalidContentDisposition = "invalid_content_disposition"
}

/// A strict `multipart/form-data` parser (RFC 7578 / RFC 2046) over a complete body.
public enum MultipartFormData {
    /// The boundary from a `Content-Type` value such as
    /// `multipart/form-data; boundary="----x"`. Checks the type and the boundary syntax
    /// (1–70 characters from RFC 2046's `bchars`, not ending in a space).
    public static func boundary(fromContentType contentType: String) throws(MultipartError) -> String {
        let (type, parameters) = parseParameterized(contentType)
        guard type == "multipart/form-data" else {
            throw MultipartError(.notMultipart, "content type '\(type.prefix(64))' is not multipart/form-data")
        }
        guard let boundary = parameters.first(where: { $0.0 == "boundary" })?.1 else {
            throw MultipartError(.invalidBoundary, "no boundary parameter")
        }
        guard (1...70).contains(boundary.utf8.count), boundary.utf8.last != UInt8(ascii: " "),
              boundary.utf8.allSatisfy(isBoundaryByte) else {
            throw MultipartError(.invalidBoundary, "boundary must be 1-70 characters of [A-Za-z0-9'()+_,-./:=? ]")
        }
        return boundary
    }

    /// Parses `body` using the boundary from `contentType`.
    public static func parse(_ body: [UInt8], contentType: String,
                             limits: MultipartLimits = MultipartLimits()) throws(MultipartError) -> [MultipartPart] {
        try parse(body, boundary: boundary(fromContentType: contentType), limits: limits)
    }

    /// Parses `body` with `boundary`. A preamble before the first delimiter and an epilogue
    /// after the last are ignored; every part needs `Content-Disposition: form-data; name=`.
    public static func parse(_ body: [UInt8], boundary: String,
                             limits: MultipartLimits = MultipartLimits()) throws(MultipartError) -> [MultipartPart] {
        let dashBoundary: [UInt8] = Array("--".utf8) + Array(boundary.utf8)
        let delimiter: [UInt8] = [HTTPSyntax.cr, HTTPSyntax.lf] + dashBoundary
        // Position just after the first "--boundary".
        var position: Int
        if body.starts(with: dashBoundary) {
            position = dashBoundary.count
        } else if let found = find(delimiter, in: body, from: 0) {
            position = found + delimiter.count
        } else {
            throw MultipartError(.missingDelimiter, "body does not contain the boundary delimiter")
        }
        var parts: [MultipartPart] = []
        while true {
            // After a delimiter: "--" closes, else optional padding then CRLF.
            if body.count - position >= 2, body[position] == UInt8(ascii: "-"), body[position + 1] == UInt8(ascii: "-") {
                return parts
            }
            while position < body.count, HTTPSyntax.isWhitespace(body[position]) { position += 1 }
            guard body.count - position >= 2 else {
                throw MultipartError(.unterminated, "body ends after a delimiter without the closing '--'")
            }
            guard body[position] == HTTPSyntax.cr, body[position + 1] == HTTPSyntax.lf else {
                throw MultipartError(.malformed, "part \(parts.count): unexpected bytes after the boundary")
            }
            position += 2
            guard parts.count < limits.maxParts else {
                throw MultipartError(.tooManyParts, "more than \(limits.maxParts) parts")
            }
            let index = parts.count
            let (headers, contentStart) = try parsePartHeaders(body, from: position, partIndex: index, limits: limits)
            guard let contentEnd = find(delimiter, in: body, from: contentStart) else {
                throw MultipartError(.unterminated, "part \(index): no closing delimiter")
            }
            parts.append(try makePart(headers: headers, body: Array(body[contentStart..<contentEnd]), partIndex: index))
            position = contentEnd + delimiter.count
        }
    }

    // MARK: parts

    private static func parsePartHeaders(_ body: [UInt8], from start: Int, partIndex: Int,
                                         limits: MultipartLimits) throws(MultipartError) -> (HTTPHeaders, Int) {
        var headers = HTTPHeaders()
        var lineStart = start
        while true {
            let searchEnd = min(body.count, start + limits.maxPartHeaderBytes + 2)
            guard let lf = body[lineStart..<searchEnd].firstIndex(of: HTTPSyntax.lf) else {
                if searchEnd == body.count && body.count - start <= limits.maxPartHeaderBytes {
                    throw MultipartError(.unterminated, "part \(partIndex): body ends inside the part headers")
                }
                throw MultipartError(.partHeadersTooLarge, "part \(partIndex): headers exceed \(limits.maxPartHeaderBytes) bytes")
            }
            guard lf > lineStart, body[lf - 1] == HTTPSyntax.cr else {
                throw MultipartError(.malformed, "part \(partIndex): header line ends in a bare LF")
            }
            let line = body[lineStart..<(lf - 1)]
            if line.isEmpty { return (headers, lf + 1) }
            guard headers.count < limits.maxPartHeaderCount else {
                throw MultipartError(.partHeadersTooLarge, "part \(partIndex): more than \(limits.maxPartHeaderCount) headers")
            }
            guard let colon = line.firstIndex(of: HTTPSyntax.colon), colon > line.startIndex,
                  line[line.startIndex..<colon].allSatisfy(HTTPSyntax.isTokenByte) else {
                throw MultipartError(.malformed, "part \(partIndex): malformed header line")
            }
            let value = line[(colon + 1)...].drop(while: HTTPSyntax.isWhitespace)
            guard value.allSatisfy(HTTPSyntax.isFieldValueByte) else {
                throw MultipartError(.malformed, "part \(partIndex): control character in a header")
            }
            let trimmed = value.reversed().drop(while: HTTPSyntax.isWhitespace).reversed()
            headers.add(name: String(decoding: line[line.startIndex..<colon], as: UTF8.self),
                        value: String(decoding: trimmed, as: UTF8.self))
            lineStart = lf + 1
        }
    }

    private static func makePart(headers: HTTPHeaders, body: [UInt8], partIndex: Int) throws(MultipartError) -> MultipartPart {
        guard let disposition = headers["Content-Disposition"] else {
            throw MultipartError(.invalidContentDisposition, "part \(partIndex): no Content-Disposition")
        }
        let (type, parameters) = parseParameterized(disposition)
        guard type == "form-data" else {
            throw MultipartError(.invalidContentDisposition, "part \(partIndex): disposition '\(type.prefix(32))' is not form-data")
        }
        guard let name = parameters.first(where: { $0.0 == "name" })?.1 else {
            throw MultipartError(.invalidContentDisposition, "part \(partIndex): no name parameter")
        }
        let filename = parameters.first(where: { $0.0 == "filename" })?.1
        return MultipartPart(name: name, filename: filename, contentType: headers["Content-Type"] ?? "text/plain",
                             headers: headers, body: body)
    }

    // MARK: syntax

    /// `type/subtype; a=b; c="quoted \"x\""` → lowercased type, [(lowercased name, value)].
    /// Malformed parameters are skipped; values keep their case.
    package static func parseParameterized(_ text: String) -> (String, [(String, String)]) {
        let bytes = Array(text.utf8)
        var index = 0
        func skipSpaces() { while index < bytes.count, HTTPSyntax.isWhitespace(bytes[index]) { index += 1 } }
        skipSpaces()
        let typeStart = index
        while index < bytes.count, bytes[index] != HTTPSyntax.semicolon { index += 1 }
        let type = String(decoding: bytes[typeStart..<index].reversed().drop(while: HTTPSyntax.isWhitespace).reversed()
            .map(HTTPSyntax.lowercased), as: UTF8.self)
        var parameters: [(String, String)] = []
        while index < bytes.count, parameters.count < 64 {
            index += 1   // the ';'
            skipSpaces()
            let nameStart = index
            while index < bytes.count, HTTPSyntax.isTokenByte(bytes[index]) { index += 1 }
            let name = String(decoding: bytes[nameStart..<index].map(HTTPSyntax.lowercased), as: UTF8.self)
            skipSpaces()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "="), !name.isEmpty else {
                while index < bytes.count, bytes[index] != HTTPSyntax.semicolon { index += 1 }
                continue
            }
            index += 1
            skipSpaces()
            var value: [UInt8] = []
            if index < bytes.count, bytes[index] == UInt8(ascii: "\"") {
                index += 1
                while index < bytes.count, bytes[index] != UInt8(ascii: "\"") {
                    if bytes[index] == UInt8(ascii: "\\"), index + 1 < bytes.count { index += 1 }
                    value.append(bytes[index])
                    index += 1
                }
                index += 1   // closing quote (or past the end)
                skipSpaces()
                while index < bytes.count, bytes[index] != HTTPSyntax.semicolon { index += 1 }
            } else {
                let valueStart = index
                while index < bytes.count, bytes[index] != HTTPSyntax.semicolon { index += 1 }
                value = Array(bytes[valueStart..<index].reversed().drop(while: HTTPSyntax.isWhitespace).reversed())
            }
            parameters.append((name, String(decoding: value, as: UTF8.self)))
        }
        return (type, parameters)
    }

    private static func isBoundaryByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return "'()+_,-./:=? ".utf8.contains(byte)
        }
    }

    /// First index of `pattern` in `haystack` at or after `from`. Linear time: the pattern
    /// starts with CR, which cannot occur again inside it, so a mismatch never needs to
    /// back up past the next CR.
    package static func find(_ pattern: [UInt8], in haystack: [UInt8], from: Int) -> Int? {
        guard let first = pattern.first, haystack.count - from >= pattern.count else { return nil }
        return haystack.withUnsafeBufferPointer { hay -> Int? in
            pattern.withUnsafeBufferPointer { needle -> Int? in
                guard let hayBase = hay.baseAddress, let needleBase = needle.baseAddress else { return nil }
                var index = from
                let last = hay.count - needle.count
                while index <= last {
                    guard let found = memchr(hayBase + index, Int32(first), last - index + 1) else { return nil }
                    let candidate = hayBase.distance(to: found.assumingMemoryBound(to: UInt8.self))
                    if memcmp(hayBase + candidate, needleBase, needle.count) == 0 { return candidate }
                    index = candidate + 1
                }
                return nil
            }
        }
    }
}
