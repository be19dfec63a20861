import Testing
import HTTP

@Suite struct HTTPRequestParserTests {
    // MARK: well-formed requests

    @Test(arguments: [1, 2, 3, 7, 1000])
    func parsesSimpleGetInAnyChunking(chunk: Int) throws {
        let outcome = parse("GET /healthz?x=1 HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n\r\n", chunk: chunk)
        #expect(outcome.error == nil)
        let request = try #require(outcome.messages.first)
        #expect(outcome.messages.count == 1)
        #expect(request.method == "GET")
        #expect(request.target == "/healthz?x=1")
        #expect(request.path == "/healthz")
        #expect(request.query == "x=1")
        #expect(request.version == .http1_1)
        #expect(request.headers["accept"] == "*/*")
        #expect(request.body.isEmpty)
        #expect(request.keepAlive)
    }

    @Test func keepsRepeatedHeadersInOrderWithCaseInsensitiveLookup() throws {
        let outcome = parse("GET / HTTP/1.1\r\nHost: a\r\nX-Tag: one\r\nx-tag:two\r\nX-TAG:  three  \r\n\r\n")
        let request = try #require(outcome.messages.first)
        #expect(request.headers.values(for: "X-Tag") == ["one", "two", "three"])
        #expect(request.headers["x-TAG"] == "one")
        #expect(request.headers.fields.map(\.name) == ["Host", "X-Tag", "x-tag", "X-TAG"])
    }

    @Test func readsContentLengthBodyByteAtATime() throws {
        let body = String(repeating: "0123456789", count: 30)
        let text = "POST /infer HTTP/1.1\r\nHost: a\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
        let (whole, bytewise) = parseBothWays(text)
        for outcome in [whole, bytewise] {
            #expect(outcome.error == nil)
            #expect(outcome.heads.first?.framing == .contentLength(300))
            #expect(outcome.messages.first.map { String(decoding: $0.body, as: UTF8.self) } == body)
        }
    }

    @Test func readsChunkedBodyWithExtensionsAndTrailers() throws {
        let text = "POST /u HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
            + "5;name=value\r\nhello\r\n"
            + "1A ; x\r\n" + String(repeating: "z", count: 26) + "\r\n"
            + "0\r\nX-Trailer: yes\r\n\r\n"
        let (whole, bytewise) = parseBothWays(text)
        for outcome in [whole, bytewise] {
            #expect(outcome.error == nil)
            #expect(outcome.heads.first?.framing == .chunked)
            #expect(outcome.messages.first.map { String(decoding: $0.body, as: UTF8.self) }
                == "hello" + String(repeating: "z", count: 26))
        }
    }

    @Test func parsesPipelinedRequestsInOrder() throws {
        let text = "GET /1 HTTP/1.1\r\nHost: a\r\n\r\n"
            + "POST /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc"
            + "GET /3 HTTP/1.1\r\nHost: a\r\n\r\n"
        let (whole, bytewise) = parseBothWays(text)
        for outcome in [whole, bytewise] {
            #expect(outcome.messages.map(\.target) == ["/1", "/2", "/3"])
            #expect(outcome.messages.map(\.body.count) == [0, 3, 0])
        }
    }

    @Test func skipsEmptyLinesBeforeRequestLine() {
        let outcome = parse("\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(outcome.error == nil)
        #expect(outcome.messages.count == 1)
    }

    @Test func keepAliveRules() throws {
        func keepAlive(_ version: String, _ connection: String?) -> Bool? {
            let header = connection.map { "Connection: \($0)\r\n" } ?? ""
            return parse("GET / \(version)\r\nHost: a\r\n\(header)\r\n").messages.first?.keepAlive
        }
        #expect(keepAlive("HTTP/1.1", nil) == true)
        #expect(keepAlive("HTTP/1.1", "close") == false)
        #expect(keepAlive("HTTP/1.1", "Keep-Alive, CLOSE") == false)
        #expect(keepAlive("HTTP/1.0", nil) == false)
        #expect(keepAlive("HTTP/1.0", "keep-alive") == true)
        #expect(keepAlive("HTTP/1.0", "close") == false)
    }

    @Test func http10NeedsNoHostAndHigherMinorIsTreatedAs11() throws {
        #expect(parse("GET / HTTP/1.0\r\n\r\n").messages.count == 1)
        let head = try #require(parse("GET / HTTP/1.7\r\nHost: a\r\n\r\n").heads.first)
        #expect(head.version == .http1_1)
    }

    @Test func expectContinueIsReportedOnlyWhenABodyFollows() throws {
        let withBody = parse("POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 5\r\n\r\n")
        #expect(withBody.heads.first?.expectsContinue == true)
        #expect(withBody.messages.isEmpty)
        let empty = parse("GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n")
        #expect(empty.heads.first?.expectsContinue == false)
    }

    @Test func progressTracksHeadAndBody() throws {
        var parser = HTTPRequestParser()
        #expect(parser.progress == .idle)
        parser.append(Array("POST / HTTP/1.1\r\nHost: a\r\n".utf8))
        #expect(try parser.next() == nil)
        #expect(parser.progress == .head)
        parser.append(Array("Content-Length: 2\r\n\r\nx".utf8))
        guard case .head = try parser.next() else { Issue.record("expected head"); return }
        #expect(try parser.next() == nil)
        #expect(parser.progress == .body)
        parser.append([UInt8(ascii: "y")])
        guard case .message(let request) = try parser.next() else { Issue.record("expected message"); return }
        #expect(request.body == Array("xy".utf8))
        #expect(parser.progress == .idle)
    }

    // MARK: hostile and malformed input

    static let rejected: [(String, HTTPParseError.Kind)] = [
        // request line
        ("GET  / HTTP/1.1\r\nHost: a\r\n\r\n", .invalidRequestLine),
        ("GET /\r\nHost: a\r\n\r\n", .invalidRequestLine),
        ("G(T / HTTP/1.1\r\nHost: a\r\n\r\n", .invalidRequestLine),
        ("GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", .invalidRequestLine),
        ("GET / HTTP/1.1 \r\nHost: a\r\n\r\n", .invalidRequestLine),
        ("GET / http/1.1\r\nHost: a\r\n\r\n", .invalidRequestLine),
        ("GET /\u{7F} HTTP/1.1\r\nHost: a\r\n\r\n", .invalidRequestLine),
        ("GET / HTTP/2.0\r\nHost: a\r\n\r\n", .versionNotSupported),
        ("GET / HTTP/0.9\r\nHost: a\r\n\r\n", .versionNotSupported),
        // line endings
        ("GET / HTTP/1.1\nHost: a\r\n\r\n", .invalidLineEnding),
        ("GET / HTTP/1.1\r\nHost: a\n\r\n", .invalidLineEnding),
        ("GET / HTTP/1.1\r\nHost: a\r\n\n", .invalidLineEnding),
        ("GET / HTTP/1.1\r\nHost: a\rX: y\r\n\r\n", .invalidHeader),
        // header syntax
        ("GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", .obsoleteLineFolding),
        ("GET / HTTP/1.1\r\n\tHost: a\r\n\r\n", .obsoleteLineFolding),
        ("GET / HTTP/1.1\r\nHost : a\r\n\r\n", .invalidHeader),
        ("GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n", .invalidHeader),
        ("GET / HTTP/1.1\r\nHost: a\r\n: empty\r\n\r\n", .invalidHeader),
        ("GET / HTTP/1.1\r\nHost: a\r\nX: a\u{0}b\r\n\r\n", .invalidHeader),
        ("GET / HTTP/1.1\r\nHost: a\r\nX: a\u{7F}\r\n\r\n", .invalidHeader),
        ("GET / HTTP/1.1\r\n\r\n", .invalidHost),
        ("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", .invalidHost),
        // framing and smuggling
        ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", .conflictingFraming),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", .conflictingFraming),
        ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", .invalidContentLength),
        ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n", .invalidContentLength),
        ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\n\r\n", .invalidContentLength),
        ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +3\r\n\r\n", .invalidContentLength),
        ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", .invalidContentLength),
        ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x10\r\n\r\n", .invalidContentLength),
        ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n", .invalidContentLength),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", .unsupportedTransferEncoding),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", .unsupportedTransferEncoding),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", .conflictingFraming),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \r\n\r\n", .conflictingFraming),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n", .unsupportedTransferEncoding),
        ("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", .conflictingFraming),
        ("POST / HTTP/1.1\r\nHost: a\r\n\r\n", .lengthRequired),
        ("GET / HTTP/1.1\r\nHost: a\r\nExpect: something-else\r\n\r\n", .expectationFailed),
        // chunk syntax
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", .invalidChunk),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n\r\n", .invalidChunk),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n", .invalidChunk),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\n", .invalidChunk),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5 x\r\n", .invalidChunk),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n", .invalidChunk),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXY0\r\n\r\n", .invalidChunk),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;a=\u{1}\r\n", .invalidChunk),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFF\r\n", .invalidChunk),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nbad trailer\r\n\r\n", .invalidTrailer),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n folded: x\r\n\r\n", .invalidTrailer),
    ]

    @Test(arguments: rejected)
    func rejectsMalformedInput(text: String, kind: HTTPParseError.Kind) {
        let (whole, bytewise) = parseBothWays(text)
        #expect(whole.error?.kind == kind, "whole: \(String(describing: whole.error))")
        #expect(bytewise.error?.kind == kind, "byte-at-a-time: \(String(describing: bytewise.error))")
        #expect(whole.messages.isEmpty)
    }

    @Test func errorIsSticky() throws {
        var parser = HTTPRequestParser()
        parser.append(Array("BAD\r\n\r\n".utf8))
        #expect(throws: HTTPParseError.self) { try parser.next() }
        parser.append(Array("GET / HTTP/1.1\r\nHost: a\r\n\r\n".utf8))
        #expect(throws: HTTPParseError.self) { try parser.next() }
    }

    // MARK: limits

    @Test func declaredContentLengthOverLimitFailsBeforeBody() throws {
        let limits = HTTPLimits(maxBodyBytes: 1000)
        var parser = HTTPRequestParser(limits: limits)
        parser.append(Array("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1001\r\n\r\n".utf8))
        #expect(throws: HTTPParseError(.bodyTooLarge, "Content-Length 1001 exceeds 1000 bytes")) { try parser.next() }
        let huge = parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999999\r\n\r\n")
        #expect(huge.error?.kind == .bodyTooLarge)
        #expect(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n\r\n", limits: limits).error == nil)
    }

    @Test func chunkedBodyOverLimitFails() {
        let limits = HTTPLimits(maxBodyBytes: 10)
        let chunk = "6\r\nabcdef\r\n"
        let ok = parse("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcde\r\n5\r\nabcde\r\n0\r\n\r\n", limits: limits)
        #expect(ok.error == nil)
        #expect(ok.messages.first?.body.count == 10)
        let over = parse("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk + chunk, limits: limits)
        #expect(over.error?.kind == .bodyTooLarge)
        let bigSize = parse("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n7FFFFFFFFFFFFFFF\r\n")
        #expect(bigSize.error?.kind == .bodyTooLarge)
    }

    @Test func hugeHeaderSectionIsRejectedAtTheLimitWithoutTerminator() {
        let limits = HTTPLimits(maxHeaderBytes: 1024)
        let line = "X-Filler: " + String(repeating: "a", count: 100) + "\r\n"
        let text = "GET / HTTP/1.1\r\nHost: a\r\n" + String(repeating: line, count: 50)
        let outcome = parse(text, chunk: 97, limits: limits)
        #expect(outcome.error?.kind == .headersTooLarge)
        // A header section that never ends is stopped too (no CRLF at all).
        let endless = parse("GET / HTTP/1.1\r\nHost: a\r\nX: " + String(repeating: "b", count: 5000), chunk: 512, limits: limits)
        #expect(endless.error?.kind == .headersTooLarge)
    }

    /// Found by `fuzz-httpparser` (split invariance): a head over the limit whose first line
    /// ending after the limit is malformed got 400 `invalid_line_ending` when it arrived in one
    /// read but 431 `headers_too_large` when it arrived in small reads. The limit now decides
    /// first, so segmentation cannot change the answer.
    @Test(arguments: ["\n", "\r\n"])
    func aHeadOverTheLimitIsTooLargeHoweverItArrives(ending: String) {
        let limits = HTTPLimits(maxHeaderBytes: 64)
        let head = "GET / HTTP/1.1\r\nHost: a\r\nX: " + String(repeating: "a", count: 80) + ending
        let (whole, bytewise) = parseBothWays(head, limits: limits)
        #expect(whole.error?.kind == .headersTooLarge)
        #expect(bytewise.error?.kind == .headersTooLarge)
        let line = "GET /" + String(repeating: "a", count: 80) + " HTTP/1.1" + ending
        let (wholeLine, bytewiseLine) = parseBothWays(line, limits: limits)
        #expect(wholeLine.error?.kind == .requestLineTooLong)
        #expect(bytewiseLine.error?.kind == .requestLineTooLong)
    }

    @Test func longRequestLineIs414() {
        let limits = HTTPLimits(maxHeaderBytes: 1024)
        let outcome = parse("GET /" + String(repeating: "a", count: 2000) + " HTTP/1.1\r\nHost: a\r\n\r\n", limits: limits)
        #expect(outcome.error?.kind == .requestLineTooLong)
        let unterminated = parse("GET /" + String(repeating: "a", count: 2000), chunk: 100, limits: limits)
        #expect(unterminated.error?.kind == .requestLineTooLong)
    }

    @Test func headerCountIsBounded() {
        let limits = HTTPLimits(maxHeaderCount: 10)
        let headers = (0..<10).map { "X-\($0): v\r\n" }.joined()
        #expect(parse("GET / HTTP/1.1\r\n" + headers + "\r\n", limits: limits).error?.kind == .invalidHost)
        let eleven = "GET / HTTP/1.1\r\nHost: a\r\n" + headers + "\r\n"
        #expect(parse(eleven, limits: limits).error?.kind == .tooManyHeaders)
    }

    @Test func trailersAreBounded() {
        let limits = HTTPLimits(maxHeaderCount: 3)
        let trailers = (0..<4).map { "T\($0): v\r\n" }.joined()
        let text = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n" + trailers + "\r\n"
        #expect(parse(text, limits: limits).error?.kind == .invalidTrailer)
    }

    @Test func chunkLineIsBounded() {
        let limits = HTTPLimits(maxChunkLineBytes: 64)
        let text = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;" + String(repeating: "e", count: 100)
        #expect(parse(text, chunk: 10, limits: limits).error?.kind == .invalidChunk)
    }

    @Test func manySmallChunksAreFine() {
        let chunks = String(repeating: "1\r\nx\r\n", count: 2000)
        let outcome = parse("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks + "0\r\n\r\n", chunk: 333)
        #expect(outcome.error == nil)
        #expect(outcome.messages.first?.body.count == 2000)
    }

    @Test func deterministicGarbageNeverCrashes() {
        // A fixed pseudo-random stream of bytes biased towards HTTP syntax characters.
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        let alphabet = Array("GET POST / HTTP/1.1\r\n:Host a-Content-Length: 5 chunked\r\n0123456789abcdef;\t \u{0}\u{7F}\u{FF}".utf8)
        for _ in 0..<300 {
            var bytes: [UInt8] = []
            for _ in 0..<Int(state % 300) {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                bytes.append(alphabet[Int(state >> 33) % alphabet.count])
            }
            let limits = HTTPLimits(maxHeaderBytes: 256, maxHeaderCount: 8, maxBodyBytes: 64)
            let outcome = parse(bytes, chunk: Int(state % 17) + 1, limits: limits)
            #expect(outcome.messages.allSatisfy { $0.body.count <= 64 })
        }
    }
}
