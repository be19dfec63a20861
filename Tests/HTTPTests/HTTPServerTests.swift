import Foundation
import HTTP
import POSIX
import Testing

@Suite(.serialized)
struct HTTPServerTests {
    @Test func servesOneRequest() throws {
        let server = try TestServer(handler: echoHandler)
        defer { server.stop() }
        let client = try RawClient(port: server.port)
        try client.send(getRequest("/hello"))
        let response = try client.readResponse()
        #expect(response.status == 200)
        #expect(response.text == "GET /hello 0")
        #expect(response.header("X-Request-Id")?.isEmpty == false)
        #expect(response.header("Date") != nil)
    }
}

/// Keep-alive throughput against nginx (`return 200`), same wrk settings. Opt-in, run in
/// release: `FUSION_HTTP_BENCH=1 swift test -c release --filter HTTPServerBenchmark`.
@Suite(.serialized, .enabled(if: ProcessInfo.processInfo.environment["FUSION_HTTP_BENCH"] != nil))
struct HTTPServerBenchmark {
    @Test func wrkAgainstNginx() throws {
        let duration = ProcessInfo.processInfo.environment["FUSION_HTTP_BENCH_SECONDS"] ?? "5"
        let ok: [UInt8] = Array("ok\n".utf8)
        let server = try TestServer({ $0.maxConnections = 1024 }) { _, responder in
            responder.send(HTTPResponse(status: .ok, headers: ["Content-Type": "text/plain"], body: ok))
        }
        defer { server.stop() }
        let wrkArgs = ["-t1", "-c16", "-d\(duration)s"]
        let ours = try runProgram("/usr/bin/wrk", wrkArgs + ["http://127.0.0.1:\(server.port)/healthz"])
        print("fusion-serve HTTP (1 loop thread):\n\(ours.output)")
        var results = ["fusion-serve": wrkRequestsPerSecond(ours.output) ?? 0]
        for workers in [1, 2] {
            let port = UInt16(18_080 + workers)
            let stop = try startNginx(port: port, workers: workers)
            defer { stop() }
            let theirs = try runProgram("/usr/bin/wrk", wrkArgs + ["http://127.0.0.1:\(port)/healthz"])
            print("nginx worker_processes \(workers):\n\(theirs.output)")
            results["nginx-\(workers)"] = wrkRequestsPerSecond(theirs.output) ?? 0
        }
        print("requests/s: \(results.sorted { $0.key < $1.key })")
        #expect((results["fusion-serve"] ?? 0) > 0)
    }
}
