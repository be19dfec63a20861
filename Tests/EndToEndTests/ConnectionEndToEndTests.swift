import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

private let good = Paths.bytes("images/good/jpeg_rgb_444_300x200.jpg")

extension EndToEnd {
    @Suite struct Connections {
        @Test func aSlowClientIsCutOffWithoutDelayingOthers() throws {
            let server = try ServerProcess(["--client-timeout-ms", "3000"], workers: 1)
            let slow = try HTTPClient(port: server.port, timeoutSeconds: 10)
            try slow.send("GET /healthz HTTP/1.1\r\nHost: x\r\n")
            let started = Date()
            let trickler = Thread {
                for i in 0..<20 {
                    guard (try? slow.send("X-Slow-\(i): y\r\n")) != nil else { return }
                    usleep(200_000)
                }
            }
            trickler.start()
            // Others are served meanwhile. Order, not a wall-clock bound: all five are answered
            // while the slow request is still open (no 408 yet); a server stuck on the slow
            // client would answer them only after cutting it off.
            for _ in 0..<5 {
                let response = try HTTPClient.request(port: server.port, method: "GET", path: "/healthz")
                #expect(response.status == 200)
            }
            #expect(!slow.hasSomethingToRead, "the others were answered only after the slow client was cut off")
            let cut = try slow.readResponse()
            #expect(cut?.errorCode == "408 request_timeout")
            // Never before the 3 s header timeout (the client gives up after 10 s more).
            #expect(Date().timeIntervalSince(started) >= 2.9, "cut off at the header timeout, not before")
            #expect(slow.isClosedByServer())
        }

        @Test func twoHundredRequestsOnOneKeepAliveConnection() throws {
            let server = try ServerProcess(workers: 1)
            let client = try HTTPClient(port: server.port)
            let body = HTTPClient.inferJSON(image: good, text: "keep alive")
            for i in 0..<200 {
                // Every 20th request is an inference, the rest health checks.
                let bytes = i % 20 == 0
                    ? HTTPClient.requestBytes(method: "POST", path: "/infer", body: body, contentType: "application/json",
                                              extraHeaders: [("X-Request-Id", "ka-\(i)")])
                    : HTTPClient.requestBytes(method: "GET", path: "/healthz", extraHeaders: [("X-Request-Id", "ka-\(i)")])
                try client.send(bytes)
                let response = try #require(try client.readResponse(), "request \(i)")
                #expect(response.status == 200)
                #expect(response.header("X-Request-Id") == "ka-\(i)")
            }
            #expect(try server.metric(#"fusion_requests_total{route="/healthz",status="200"}"#) ?? 0 >= 190)
        }

        @Test func pipelinedRequestsAreAnsweredInOrder() throws {
            let server = try ServerProcess(workers: 2)
            let client = try HTTPClient(port: server.port)
            var bytes: [UInt8] = []
            let ids = (0..<8).map { "p-\($0)" }
            for (i, id) in ids.enumerated() {
                if i == 3 {
                    bytes += HTTPClient.requestBytes(method: "GET", path: "/v1/model", extraHeaders: [("X-Request-Id", id)])
                } else {
                    bytes += HTTPClient.requestBytes(method: "POST", path: "/infer",
                                                     body: HTTPClient.inferJSON(image: good, text: "pipelined \(i)"),
                                                     contentType: "application/json", extraHeaders: [("X-Request-Id", id)])
                }
            }
            try client.send(bytes)   // all eight in one write
            for id in ids {
                let response = try #require(try client.readResponse())
                #expect(response.status == 200)
                #expect(response.header("X-Request-Id") == id)
            }
        }
    }
}
