#if canImport(Glibc)
import Glibc
#endif

/// What the parser produced from the bytes so far.
public enum HTTPParserEvent: Sendable {
    /// The head of the next request is complete (its body may still be on the way): decide
    /// about `100 Continue` here.
    case head(HTTPRequestHead)
    /// The request is complete. Its `requestID` is empty; the server fills it in.
    case message(HTTPRequest)
}

/// Where the parser is inside the current request (the server picks timeouts from this).
public enum HTTPParserProgress: Sendable, Hashable {
    /// Between requests with nothing buffered.
    case idle
    /// Some bytes of a request head have arrived.
    case head
    /// The head is complete; the body is being read.
    case body
}

/// An incremental HTTP/1.1 request parser working on bytes (no Foundation).
///
/// Feed it whatever arrived with `append`, then call `next()` until it returns `nil`
/// (needs more bytes). Each request yields `.head` then `.message`; pipelined requests
/// follow in order. Any error is final: the connection must be answered and closed.
///
/// Strictness, chosen so this server never disagrees with a proxy in front of it about
/// where a request ends (request smuggling):
/// - lines end in CRLF; a bare LF is rejected (RFC 9112 §2.2 allows either; we pick the
///   strict reading), as is a bare CR;
/// - obsolete line folding, whitespace before the colon, and control bytes in values are
///   rejected;
/// - `Content-Length` must be plain decimal digits and appear once; together with
///   `Transfer-Encoding` it is rejected; `Transfer-Encoding` must end in `chunked` and
///   is refused on HTTP/1.0;
/// - chunk sizes are hex digits (no sign, no `0x`), extensions after `;` are tolerated and
///   ignored, trailers are checked, bounded and dropped;
/// - empty lines before a request line are skipped (counted against the header limit).
public struct HTTPRequestParser: Sendable {
    /// The limits in force.
    public let limits: HTTPLimits

    private enum State: Sendable {
        case head
        case complete
        case fixedBody(remaining: Int)
        case chunkSize
        case chunkData(remaining: Int)
        case chunkDataEnd
        case trailers(count: Int, bytes: Int)
        case failed(HTTPParseError)
    }

    private var state: State = .head
    /// Received, unconsumed bytes are `buffer[readIndex...]`.
    private var buffer: [UInt8] = []
    private var readIndex = 0
    /// Head/line scanning progress, relative to `readIndex`.
    private var scanOffset = 0
    private var lineStart = 0
    /// Line ranges (relative, CR excluded) of the head being scanned.
    private var lines: [Range<Int>] = []
    private var currentHead: HTTPRequestHead?
    private var body: [UInt8] = []

    /// Creates a parser.
    public init(limits: HTTPLimits = HTTPLimits()) {
        self.limits = limits
        lines.reserveCapacity(16)
    }

    /// Whether a request is partly received.
    public var progress: HTTPParserProgress {
        switch state {
        case .head: return readIndex == buffer.count ? .idle : .head
        case .failed: return .idle
        default: return .body
        }
    }

    /// Bytes received but not yet consumed.
    public var bufferedByteCount: Int { buffer.count - readIndex }

    /// Body bytes of the request being read (de-chunked) held so far.
    public var bodyByteCount: Int { body.count }

    /// Adds received bytes.
    public mutating func append(_ bytes: [UInt8]) {
        bytes.withUnsafeBufferPointer { append($0) }
    }

    /// Adds received bytes.
    package mutating func append(_ bytes: UnsafeBufferPointer<UInt8>) {
        guard !bytes.isEmpty else { return }
        compact()
        buffer.append(contentsOf: bytes)
    }

    /// Drops consumed bytes so the buffer does not grow across pipelined requests.
    private mutating func compact() {
        if readIndex == buffer.count {
            if readIndex > 0 {
                buffer.removeAll(keepingCapacity: buffer.capacity <= 256 * 1024)
                readIndex = 0
            }
        } else if readIndex >= 4096 && readIndex * 2 >= buffer.count {
            buffer.removeSubrange(0..<readIndex)
            readIndex = 0
        }
    }

    /// Returns the next event, or `nil` when more bytes are needed. After an error every
    /// call throws the same error.
    public mutating func next() throws(HTTPParseError) -> HTTPParserEvent? {
        do {
            return try step()
        } catch {
            state = .failed(error)
            throw error
        }
    }

    private mutating func step() throws(HTTPParseError) -> HTTPParserEvent? {
        while true {
            switch state {
            case .failed(let error):
                throw error
            case .head:
                guard let head = try scanHead() else { return nil }
                return .head(head)
            case .complete:
                return .message(finishMessage())
            case .fixedBody(let remaining):
                let take = min(remaining, buffer.count - readIndex)
                if take == 0 { return nil }
                body.append(contentsOf: buffer[readIndex..<(readIndex + take)])
                readIndex += take
                state = remaining == take ? .complete : .fixedBody(remaining: remaining - take)
                if remaining != take { return nil }
            case .chunkSize:
                guard let line = try scanLine(limit: limits.maxChunkLineBytes, kind: .invalidChunk) else { return nil }
                let size = try chunkSize(line)
                if size == 0 {
                    state = .trailers(count: 0, bytes: 0)
                } else {
                    if size > limits.maxBodyBytes - body.count {
                        throw HTTPParseError(.bodyTooLarge, "chunked body exceeds \(limits.maxBodyBytes) bytes")
                    }
                    state = .chunkData(remaining: size)
                }
            case .chunkData(let remaining):
                let take = min(remaining, buffer.count - readIndex)
                if take == 0 { return nil }
                body.append(contentsOf: buffer[readIndex..<(readIndex + take)])
                readIndex += take
                state = remaining == take ? .chunkDataEnd : .chunkData(remaining: remaining - take)
            case .chunkDataEnd:
                if buffer.count - readIndex < 2 {
                    if buffer.count > readIndex, buffer[readIndex] != HTTPSyntax.cr {
                        throw HTTPParseError(.invalidChunk, "chunk data is not followed by CRLF")
                    }
                    return nil
                }
                guard buffer[readIndex] == HTTPSyntax.cr, buffer[readIndex + 1] == HTTPSyntax.lf else {
                    throw HTTPParseError(.invalidChunk, "chunk data is not followed by CRLF")
                }
                readIndex += 2
                state = .chunkSize
            case .trailers(let count, let bytes):
                let before = readIndex
                guard let line = try scanLine(limit: limits.maxHeaderBytes, kind: .invalidTrailer) else { return nil }
                if line.isEmpty {
                    state = .complete
                    continue
                }
                let total = bytes + (readIndex - before)
                guard count + 1 <= limits.maxHeaderCount, total <= limits.maxHeaderBytes else {
                    throw HTTPParseError(.invalidTrailer, "trailer section exceeds \(limits.maxHeaderCount) fields or \(limits.maxHeaderBytes) bytes")
                }
                try validateTrailer(line)
                state = .trailers(count: count + 1, bytes: total)
            }
        }
    }

    private mutating func finishMessage() -> HTTPRequest {
        let head = currentHead ?? HTTPRequestHead(method: "", target: "")
        let request = HTTPRequest(head: head, body: body)
        currentHead = nil
        body = []
        state = .head
        return request
    }

    // MARK: head

    /// Scans for the end of the head; parses it once complete.
    private mutating func scanHead() throws(HTTPParseError) -> HTTPRequestHead? {
        let limit = limits.maxHeaderBytes
        let maxLines = limits.maxHeaderCount + 1
        let base = readIndex
        let end = buffer.count
        // Work on locals so the closure does not touch `self` while `buffer` is borrowed.
        var lines = self.lines
        self.lines = []
        var lineStart = self.lineStart
        var index = base + scanOffset
        var completeAt: Int? = nil
        // Raw pointers here: this loop touches every header byte of every request.
        let outcome: HTTPParseError? = buffer.withUnsafeBufferPointer { bytes -> HTTPParseError? in
            guard let start = bytes.baseAddress else { return nil }
            while index < end {
                guard let found = memchr(start + index, Int32(HTTPSyntax.lf), end - index) else {
                    index = end
                    break
                }
                let lfIndex = start.distance(to: found.assumingMemoryBound(to: UInt8.self))
                let lineBegin = base + lineStart
                // The limit first, judged as below when bytes end without a LF: a line ending
                // past the limit is too large whatever it looks like, so the answer does not
                // depend on how the client's bytes were split into reads.
                if lfIndex + 1 - base > limit { break }
                if lfIndex == lineBegin || bytes[lfIndex - 1] != HTTPSyntax.cr {
                    return HTTPParseError(.invalidLineEnding, "header line ends in a bare LF (CRLF required)")
                }
                let crIndex = lfIndex - 1
                index = lfIndex + 1
                if crIndex == lineBegin {
                    if lines.isEmpty {
                        // Empty line(s) before the request line are skipped (RFC 9112 §2.2).
                        lineStart = index - base
                        continue
                    }
                    completeAt = index
                    return nil
                }
                if lines.count == maxLines {
                    return HTTPParseError(.tooManyHeaders, "more than \(limits.maxHeaderCount) header fields")
                }
                lines.append((lineBegin - base)..<(crIndex - base))
                lineStart = index - base
            }
            if end - base > limit {
                return lines.isEmpty
                    ? HTTPParseError(.requestLineTooLong, "request line exceeds \(limit) bytes")
                    : HTTPParseError(.headersTooLarge, "header section exceeds \(limit) bytes")
            }
            return nil
        }
        self.lines = lines
        self.lineStart = lineStart
        scanOffset = index - base
        if let outcome { throw outcome }
        guard let completeAt else { return nil }
        let head = try parseHead()
        readIndex = completeAt
        scanOffset = 0
        self.lineStart = 0
        self.lines.removeAll(keepingCapacity: true)
        try beginBody(for: head)
        currentHead = head
        return head
    }

    private enum KnownHeader { case other, contentLength, transferEncoding, connection, expect, host }

    private func parseHead() throws(HTTPParseError) -> HTTPRequestHead {
        let base = readIndex
        return try buffer.withUnsafeBufferPointer { bytes throws(HTTPParseError) -> HTTPRequestHead in
            func slice(_ range: Range<Int>) -> UnsafeBufferPointer<UInt8> {
                UnsafeBufferPointer(rebasing: bytes[(base + range.lowerBound)..<(base + range.upperBound)])
            }
            guard let requestLine = lines.first else {
                throw HTTPParseError(.invalidRequestLine, "missing request line")
            }
            var (method, target, version) = try Self.parseRequestLine(slice(requestLine))

            var headers = HTTPHeaders()
            var contentLength: Int? = nil
            var contentLengthCount = 0
            var transferCodings: [String] = []
            var sawTransferEncoding = false
            var connectionTokens: [String] = []
            var expectations: [String] = []
            var hostCount = 0
            for range in lines.dropFirst() {
                let line = slice(range)
                let (name, value, known) = try Self.parseField(line)
                headers.add(name: String(decoding: name, as: UTF8.self), value: value)
                switch known {
                case .other:
                    break
                case .contentLength:
                    contentLengthCount += 1
                    contentLength = try Self.parseContentLength(value, limit: limits.maxBodyBytes)
                case .transferEncoding:
                    sawTransferEncoding = true
                    transferCodings += HTTPSyntax.listElements(value)
                case .connection:
                    connectionTokens += HTTPSyntax.listElements(value)
                case .expect:
                    expectations += HTTPSyntax.listElements(value)
                case .host:
                    hostCount += 1
                }
            }
            if version.minor > 1 { version = .http1_1 }   // a higher 1.x minor is read as 1.1
            let isHTTP11 = version == .http1_1

            // Framing (RFC 9112 §6.3), strictly.
            var framing = HTTPBodyFraming.none
            if contentLengthCount > 1 {
                throw HTTPParseError(.invalidContentLength, "Content-Length appears \(contentLengthCount) times")
            }
            if sawTransferEncoding {
                if contentLengthCount > 0 {
                    throw HTTPParseError(.conflictingFraming, "both Content-Length and Transfer-Encoding")
                }
                if !isHTTP11 {
                    throw HTTPParseError(.conflictingFraming, "Transfer-Encoding in an HTTP/1.0 request")
                }
                if let unknown = transferCodings.first(where: { $0 != "chunked" }) {
                    throw HTTPParseError(.unsupportedTransferEncoding, "transfer coding '\(unknown)' is not supported")
                }
                if transferCodings.count != 1 {
                    throw HTTPParseError(.conflictingFraming, transferCodings.isEmpty ? "empty Transfer-Encoding" : "chunked applied more than once")
                }
                framing = .chunked
            } else if let contentLength {
                if contentLength > limits.maxBodyBytes {
                    throw HTTPParseError(.bodyTooLarge, "Content-Length \(contentLength) exceeds \(limits.maxBodyBytes) bytes")
                }
                framing = contentLength > 0 ? .contentLength(contentLength) : .none
            } else if limits.methodsRequiringLength.contains(method) {
                throw HTTPParseError(.lengthRequired, "\(method) without Content-Length or chunked body")
            }
            if isHTTP11 && hostCount != 1 {
                throw HTTPParseError(.invalidHost, hostCount == 0 ? "HTTP/1.1 request without Host" : "Host appears \(hostCount) times")
            }
            var expectsContinue = false
            if isHTTP11 && !expectations.isEmpty {
                guard expectations.allSatisfy({ $0 == "100-continue" }) else {
                    throw HTTPParseError(.expectationFailed, "unsupported expectation '\(expectations.joined(separator: ", "))'")
                }
                expectsContinue = framing != .none
            }
            let keepAlive = isHTTP11
                ? !connectionTokens.contains("close")
                : connectionTokens.contains("keep-alive") && !connectionTokens.contains("close")
            return HTTPRequestHead(method: method, target: target, version: version, headers: headers,
                                   framing: framing, keepAlive: keepAlive, expectsContinue: expectsContinue)
        }
    }

    /// `method SP target SP HTTP/x.y`, each part validated.
    private static func parseRequestLine(_ line: UnsafeBufferPointer<UInt8>) throws(HTTPParseError) -> (String, String, HTTPVersion) {
        guard let firstSpace = line.firstIndex(of: HTTPSyntax.space), firstSpace > 0 else {
            throw HTTPParseError(.invalidRequestLine, "request line has no method")
        }
        let method = UnsafeBufferPointer(rebasing: line[0..<firstSpace])
        guard method.allSatisfy(HTTPSyntax.isTokenByte) else {
            throw HTTPParseError(.invalidRequestLine, "method is not a token")
        }
        let rest = UnsafeBufferPointer(rebasing: line[(firstSpace + 1)...])
        guard let secondSpace = rest.firstIndex(of: HTTPSyntax.space) else {
            throw HTTPParseError(.invalidRequestLine, "request line has no HTTP version")
        }
        let target = UnsafeBufferPointer(rebasing: rest[0..<secondSpace])
        guard !target.isEmpty, target.allSatisfy(HTTPSyntax.isTargetByte) else {
            throw HTTPParseError(.invalidRequestLine, "request target is empty or contains invalid bytes")
        }
        let version = UnsafeBufferPointer(rebasing: rest[(secondSpace + 1)...])
        let prefix: [UInt8] = Array("HTTP/".utf8)
        func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }
        guard version.count == 8, version.prefix(5).elementsEqual(prefix), isDigit(version[5]),
              version[6] == UInt8(ascii: "."), isDigit(version[7]) else {
            throw HTTPParseError(.invalidRequestLine, "malformed HTTP version")
        }
        let major = Int(version[5] - UInt8(ascii: "0"))
        let minor = Int(version[7] - UInt8(ascii: "0"))
        guard major == 1 else {
            throw HTTPParseError(.versionNotSupported, "HTTP/\(major).\(minor) is not supported")
        }
        return (String(decoding: method, as: UTF8.self), String(decoding: target, as: UTF8.self),
                HTTPVersion(major: major, minor: minor))
    }

    /// `name ":" OWS value OWS`, validated; also says which framing header it is.
    private static func parseField(_ line: UnsafeBufferPointer<UInt8>) throws(HTTPParseError)
        -> (UnsafeBufferPointer<UInt8>, String, KnownHeader) {
        if let first = line.first, HTTPSyntax.isWhitespace(first) {
            throw HTTPParseError(.obsoleteLineFolding, "header line starts with whitespace (obsolete line folding)")
        }
        guard let colon = line.firstIndex(of: HTTPSyntax.colon) else {
            throw HTTPParseError(.invalidHeader, "header line without a colon")
        }
        let name = UnsafeBufferPointer(rebasing: line[0..<colon])
        guard !name.isEmpty, name.allSatisfy(HTTPSyntax.isTokenByte) else {
            throw HTTPParseError(.invalidHeader, "invalid header name")
        }
        var start = colon + 1
        var end = line.count
        while start < end, HTTPSyntax.isWhitespace(line[start]) { start += 1 }
        while end > start, HTTPSyntax.isWhitespace(line[end - 1]) { end -= 1 }
        let value = UnsafeBufferPointer(rebasing: line[start..<end])
        guard value.allSatisfy(HTTPSyntax.isFieldValueByte) else {
            throw HTTPParseError(.invalidHeader, "control character in the value of \(String(decoding: name, as: UTF8.self))")
        }
        let known: KnownHeader
        switch name.count {
        case 14 where HTTPSyntax.bytes(name, equalLowercase: "content-length"): known = .contentLength
        case 17 where HTTPSyntax.bytes(name, equalLowercase: "transfer-encoding"): known = .transferEncoding
        case 10 where HTTPSyntax.bytes(name, equalLowercase: "connection"): known = .connection
        case 6 where HTTPSyntax.bytes(name, equalLowercase: "expect"): known = .expect
        case 4 where HTTPSyntax.bytes(name, equalLowercase: "host"): known = .host
        default: known = .other
        }
        return (name, String(decoding: value, as: UTF8.self), known)
    }

    /// Plain decimal digits only (no sign, spaces or lists). Values beyond `limit` are
    /// clamped to `limit + 1` so they fail the size check without overflowing.
    private static func parseContentLength(_ value: String, limit: Int) throws(HTTPParseError) -> Int {
        var result = 0
        var digits = 0
        for byte in value.utf8 {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else {
                throw HTTPParseError(.invalidContentLength, "Content-Length '\(value.prefix(32))' is not a decimal number")
            }
            digits += 1
            if result <= limit { result = result * 10 + Int(byte - UInt8(ascii: "0")) }
        }
        guard digits > 0 else { throw HTTPParseError(.invalidContentLength, "empty Content-Length") }
        return min(result, limit + 1)
    }

    private mutating func beginBody(for head: HTTPRequestHead) throws(HTTPParseError) {
        switch head.framing {
        case .none:
            state = .complete
        case .contentLength(let length):
            body.reserveCapacity(min(length, 1 << 20))
            state = .fixedBody(remaining: length)
        case .chunked:
            state = .chunkSize
        }
    }

    // MARK: chunked

    /// Scans one CRLF-terminated line at `readIndex`; consumes it and returns its bytes
    /// (CR LF excluded), or `nil` if incomplete.
    private mutating func scanLine(limit: Int, kind: HTTPParseError.Kind) throws(HTTPParseError) -> ArraySlice<UInt8>? {
        let base = readIndex
        let end = buffer.count
        let from = base + scanOffset
        var lfIndex: Int? = nil
        buffer.withUnsafeBufferPointer { bytes in
            guard let start = bytes.baseAddress, from < end,
                  let found = memchr(start + from, Int32(HTTPSyntax.lf), end - from) else { return }
            lfIndex = start.distance(to: found.assumingMemoryBound(to: UInt8.self))
        }
        guard let lfIndex else {
            scanOffset = end - base
            if scanOffset > limit { throw HTTPParseError(kind, "line exceeds \(limit) bytes") }
            return nil
        }
        guard lfIndex > base, buffer[lfIndex - 1] == HTTPSyntax.cr else {
            throw HTTPParseError(kind, "line ends in a bare LF (CRLF required)")
        }
        if lfIndex + 1 - base > limit { throw HTTPParseError(kind, "line exceeds \(limit) bytes") }
        readIndex = lfIndex + 1
        scanOffset = 0
        return buffer[base..<(lfIndex - 1)]
    }

    /// `1*HEXDIG [BWS ";" extensions]`.
    private func chunkSize(_ line: ArraySlice<UInt8>) throws(HTTPParseError) -> Int {
        var size = 0
        var index = line.startIndex
        while index < line.endIndex, let digit = Self.hexValue(line[index]) {
            if size > (Int.max >> 4) { throw HTTPParseError(.invalidChunk, "chunk size overflows") }
            size = size << 4 | digit
            index += 1
        }
        if index == line.startIndex { throw HTTPParseError(.invalidChunk, "chunk size is not hexadecimal") }
        while index < line.endIndex, HTTPSyntax.isWhitespace(line[index]) { index += 1 }
        if index < line.endIndex {
            guard line[index] == HTTPSyntax.semicolon else {
                throw HTTPParseError(.invalidChunk, "unexpected byte after chunk size")
            }
            // Extensions are ignored, but must not smuggle control bytes.
            guard line[index...].allSatisfy(HTTPSyntax.isFieldValueByte) else {
                throw HTTPParseError(.invalidChunk, "control character in chunk extension")
            }
        }
        return size
    }

    private static func hexValue(_ byte: UInt8) -> Int? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return Int(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return Int(byte - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return Int(byte - UInt8(ascii: "A") + 10)
        default: return nil
        }
    }

    private func validateTrailer(_ line: ArraySlice<UInt8>) throws(HTTPParseError) {
        if let first = line.first, HTTPSyntax.isWhitespace(first) {
            throw HTTPParseError(.invalidTrailer, "trailer line starts with whitespace")
        }
        guard let colon = line.firstIndex(of: HTTPSyntax.colon), colon > line.startIndex,
              line[line.startIndex..<colon].allSatisfy(HTTPSyntax.isTokenByte),
              line[(colon + 1)...].allSatisfy(HTTPSyntax.isFieldValueByte) else {
            throw HTTPParseError(.invalidTrailer, "malformed trailer field")
        }
    }
}
