import HTTP
import Testing

@Suite(.serialized)
struct HTTPServerMetricsTests {
    @Test func countsConnectionsRequestsAndErrors() throws {
        let server = try TestServer(handler: echoHandler)
        defer { server.stop() }
        #expect(server.server.metrics == HTTPServerMetrics())
        let client = try RawClient(port: server.port)
        try client.send(getRequest("/a") + getRequest("/b"))
        _ = try client.readResponse()
        _ = try client.readResponse()
        let metrics = server.server.metrics
        #expect(metrics.connectionsAccepted == 1)
        #expect(metrics.connectionsOpen == 1)
        #expect(metrics.requestsReceived == 2)
        #expect(metrics.responsesSent == 2)
        try client.send("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: x\r\n\r\n")
        #expect(try client.readResponse().status == 400)
        #expect(server.server.metrics.parseErrors == ["invalid_content_length": 1])
    }
}
