import Testing
import HTTP

@Suite struct HTTPResponseSerializerTests {
    func wire(_ response: HTTPResponse, keepAlive: Bool = true, version: HTTPVersion = .http1_1,
              head: Bool = false, date: Bool = false) -> (String, Bool) {
        var serializer = HTTPResponseSerializer(sendDate: date)
        var out: [UInt8] = []
        let separate = serializer.serialize(response, requestID: "rid-1", version: version, keepAlive: keepAlive,
                                            isHeadRequest: head, into: &out)
        return (String(decoding: out, as: UTF8.self), separate)
    }

    @Test func writesStatusHeadersLengthAndBody() {
        let (text, separate) = wire(HTTPResponse(headers: ["Content-Type": "text/plain"], body: "hi"))
        #expect(text == "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nX-Request-Id: rid-1\r\n\r\nhi")
        #expect(!separate)
    }

    @Test func serverOwnedHeadersReplaceTheHandlers() {
        let response = HTTPResponse(headers: ["Content-Length": "999", "Transfer-Encoding": "chunked",
                                              "x-request-id": "forged", "Connection": "keep-alive"], body: "abc")
        let (text, _) = wire(response, keepAlive: false)
        #expect(text == "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nX-Request-Id: rid-1\r\nConnection: close\r\n\r\nabc")
    }

    @Test func headerInjectionIsNeutralised() {
        let response = HTTPResponse(headers: HTTPHeaders([("X-Evil", "a\r\nSet-Cookie: x=1"), ("Bad Name", "v")]), body: [])
        let (text, _) = wire(response)
        #expect(text.contains("X-Evil: aSet-Cookie: x=1\r\n"))
        #expect(!text.contains("Bad Name"))
    }

    @Test func noBodyStatusesAndHEAD() {
        #expect(wire(HTTPResponse(status: .noContent, body: "x")).0 == "HTTP/1.1 204 No Content\r\nX-Request-Id: rid-1\r\n\r\n")
        #expect(wire(HTTPResponse(body: "abc"), head: true).0 == "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nX-Request-Id: rid-1\r\n\r\n")
    }

    @Test func http10KeepAliveIsExplicit() {
        #expect(wire(HTTPResponse(), version: .http1_0).0.contains("Connection: keep-alive\r\n"))
    }

    @Test func largeBodiesAreLeftForWritev() {
        let (text, separate) = wire(HTTPResponse(body: [UInt8](repeating: 1, count: 100_000)))
        #expect(separate)
        #expect(text.hasSuffix("Content-Length: 100000\r\nX-Request-Id: rid-1\r\n\r\n"))
    }

    @Test func dateIsAnIMFFixdate() throws {
        let (text, _) = wire(HTTPResponse(), date: true)
        let line = try #require(text.split(separator: "\r\n").first { $0.hasPrefix("Date: ") })
        #expect(line.count == "Date: Sun, 06 Nov 1994 08:49:37 GMT".count)
        #expect(line.hasSuffix(" GMT"))
    }

    @Test func wantsCloseReadsConnectionTokens() {
        #expect(HTTPResponseSerializer.wantsClose(HTTPResponse(headers: ["Connection": "Close"])))
        #expect(!HTTPResponseSerializer.wantsClose(HTTPResponse(headers: ["Connection": "keep-alive"])))
    }
}
