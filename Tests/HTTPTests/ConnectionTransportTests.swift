import Foundation
import HTTP
import POSIX
import Testing
import TLS

/// The TLS transport under the one HTTP code path: large bodies both ways (many records,
/// partial writes, bytes OpenSSL holds that epoll cannot see), chunked uploads, pipelining.
@Suite(.serialized)
struct ConnectionTransportTests {
    private static func certificates() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("transport-\(UUID().uuidString)").path
        var script = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { script.deleteLastPathComponent() }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [script.appendingPathComponent("Tests/Fixtures/tls/make-certs.sh").path, dir]
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw TLSError("make-certs.sh failed") }
        return dir
    }

    private static func curl(_ arguments: [String]) throws -> (out: Data, status: Int32) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        process.arguments = ["-s", "--max-time", "30"] + arguments
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (data, process.terminationStatus)
    }

    private func tlsServer(_ dir: String, handler: @escaping HTTPServer.Handler) throws -> TestServer {
        let context = try TLSContext(certificatePath: dir + "/cert.pem", keyPath: dir + "/key.pem")
        return try TestServer({ $0.tls = TLSContextHolder(context) }, handler: handler)
    }

    @Test func largeResponseOverTLSArrivesWhole() throws {
        let dir = try Self.certificates()
        let body = (0..<(4 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 2654435761 >> 13) }
        let server = try tlsServer(dir) { _, responder in responder.send(HTTPResponse(body: body)) }
        defer { server.stop() }
        let result = try Self.curl(["--cacert", dir + "/cert.pem", "https://localhost:\(server.port)/big"])
        #expect(result.status == 0)
        #expect(result.out == Data(body))
    }

    @Test func largeAndChunkedUploadsOverTLS() throws {
        let dir = try Self.certificates()
        let server = try tlsServer(dir, handler: echoHandler)
        defer { server.stop() }
        let file = dir + "/upload.bin"
        try Data(repeating: 0x61, count: 3 << 20).write(to: URL(fileURLWithPath: file))
        let fixed = try Self.curl(["--cacert", dir + "/cert.pem", "--data-binary", "@" + file, "https://localhost:\(server.port)/up"])
        #expect(String(decoding: fixed.out, as: UTF8.self) == "POST /up \(3 << 20)")
        let chunked = try Self.curl(["--cacert", dir + "/cert.pem", "-H", "Transfer-Encoding: chunked", "-H", "Expect: 100-continue",
                                     "--data-binary", "@" + file, "https://localhost:\(server.port)/chunked"])
        #expect(String(decoding: chunked.out, as: UTF8.self) == "POST /chunked \(3 << 20)")
        #expect(server.server.metrics.tlsHandshakes == 2)
    }

    @Test func plainHTTPToTheTLSPortIsClosedAndCounted() throws {
        let dir = try Self.certificates()
        let server = try tlsServer(dir, handler: echoHandler)
        defer { server.stop() }
        let client = try RawClient(port: server.port, timeoutMilliseconds: 3000)
        try client.send(getRequest("/"))
        #expect(try client.readUntilClosed())
        try waitUntil { server.server.metrics.tlsHandshakeFailures == 1 }
        #expect(server.server.metrics.requestsReceived == 0)
    }
}
