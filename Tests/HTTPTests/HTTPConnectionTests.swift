import HTTP
import POSIX
import Testing

/// `HTTPConnection` is internal to the loop; its observable contract is per-connection
/// ordering and isolation, checked here with several connections at once.
@Suite(.serialized)
struct HTTPConnectionTests {
    @Test func connectionsAreIsolated() throws {
        let server = try TestServer(handler: echoHandler)
        defer { server.stop() }
        let clients = try (0..<8).map { _ in try RawClient(port: server.port) }
        for (index, client) in clients.enumerated() { try client.send(getRequest("/c\(index)")) }
        // A broken client does not disturb the others.
        try clients[3].send("garbage\r\n\r\n")
        for (index, client) in clients.enumerated() {
            #expect(try client.readResponse().text == "GET /c\(index) 0")
        }
        #expect(try clients[3].readResponse().status == 400)
        for (index, client) in clients.enumerated() where index != 3 {
            try client.send(getRequest("/again"))
            #expect(try client.readResponse().status == 200)
        }
    }
}
