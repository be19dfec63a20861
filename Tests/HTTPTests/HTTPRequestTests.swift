import Testing
import HTTP

@Suite struct HTTPRequestTests {
    @Test func pathAndQuery() {
        #expect(HTTPRequest(method: "GET", target: "/infer?a=1&b=2").path == "/infer")
        #expect(HTTPRequest(method: "GET", target: "/infer?a=1&b=2").query == "a=1&b=2")
        #expect(HTTPRequest(method: "GET", target: "/healthz").query == nil)
        #expect(HTTPRequest(method: "GET", target: "/x?").query == "")
    }

    @Test func buildsFromHead() {
        let head = HTTPRequestHead(method: "POST", target: "/u", version: .http1_0, headers: ["A": "b"],
                                   framing: .contentLength(2), keepAlive: false)
        let request = HTTPRequest(head: head, body: [1, 2], requestID: "id")
        #expect(request.method == "POST" && request.target == "/u" && request.version == .http1_0)
        #expect(request.headers["a"] == "b" && request.body == [1, 2] && request.requestID == "id" && !request.keepAlive)
        #expect(HTTPVersion.http1_1.description == "HTTP/1.1")
    }
}
