import Foundation
import ClockTesting
import HTTP
import JSON
import Locking
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
        #expect(response.header("Content-Length") == "12")
        #expect(response.header("X-Request-Id")?.isEmpty == false)
        #expect(response.header("Date")?.hasSuffix(" GMT") == true)
    }

    @Test func twoHundredRequestsOnOneKeepAliveConnection() throws {
        let server = try TestServer(handler: echoHandler)
        defer { server.stop() }
        let client = try RawClient(port: server.port)
        var ids = Set<String>()
        for index in 0..<200 {
            try client.send(getRequest("/r\(index)"))
            let response = try client.readResponse()
            #expect(response.status == 200)
            #expect(response.text == "GET /r\(index) 0")
            #expect(response.header("Connection") == nil)
            ids.insert(response.header("X-Request-Id") ?? "")
        }
        #expect(ids.count == 200)
        #expect(server.server.metrics.connectionsAccepted == 1)
        #expect(server.server.metrics.requestsReceived == 200)
    }

    @Test func pipelinedRequestsAreAnsweredInOrderWhenHandlersFinishOutOfOrder() throws {
        let count = 6
        let server = try TestServer { request, responder in
            // Earlier requests finish later, on other threads.
            let index = Int(request.path.dropFirst()) ?? 0
            DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds((count - index) * 40)) {
                responder.send(HTTPResponse(body: "answer \(index)"))
            }
        }
        defer { server.stop() }
        let client = try RawClient(port: server.port)
        try client.send((0..<count).map { getRequest("/\($0)", headers: ["X-Request-Id: req-\($0)"]) }.joined())
        for index in 0..<count {
            let response = try client.readResponse()
            #expect(response.text == "answer \(index)")
            #expect(response.header("X-Request-Id") == "req-\(index)")
        }
    }

    @Test func pipelinedBurstBeyondTheDepthLimitIsStillAnsweredInOrder() throws {
        let server = try TestServer({ $0.maxPipelinedRequests = 4 }, handler: echoHandler)
        defer { server.stop() }
        let client = try RawClient(port: server.port)
        try client.send((0..<50).map { getRequest("/\($0)") }.joined())
        for index in 0..<50 {
            #expect(try client.readResponse().text == "GET /\(index) 0")
        }
    }

    @Test func declaredBodyOverLimitGets413WithoutContinue() throws {
        let server = try TestServer({ $0.limits.maxBodyBytes = 1000 }, handler: echoHandler)
        defer { server.stop() }
        let client = try RawClient(port: server.port)
        try client.send("POST /infer HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5000\r\n\r\n")
        // The first (and only) response is the 413: no 100 Continue, no body was needed.
        let response = try client.readResponse()
        #expect(response.status == 413)
        #expect(response.header("Content-Type") == "application/json")
        #expect(response.text.hasPrefix("{\"error\":{\"code\":\"body_too_large\",\"message\":\""))
        #expect(try client.readUntilClosed())
        #expect(server.server.metrics.parseErrors["body_too_large"] == 1)
    }

    @Test func expectContinueIsAnsweredBeforeTheBody() throws {
        let server = try TestServer(handler: echoHandler)
        defer { server.stop() }
        let client = try RawClient(port: server.port)
        try client.send("POST /up HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
        #expect(try client.readResponse().status == 100)
        try client.send("hello")
        let final = try client.readResponse()
        #expect(final.status == 200)
        #expect(final.text == "POST /up 5")
    }

    @Test func unknownExpectationIs417() throws {
        let server = try TestServer(handler: echoHandler)
        defer { server.stop() }
        let client = try RawClient(port: server.port)
        try client.send("POST / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\nContent-Length: 5\r\n\r\n")
        #expect(try client.readResponse().status == 417)
    }

    @Test(arguments: [
        ("GET / HTTP/1.1\r\n\r\n", 400, "invalid_host"),
        ("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "conflicting_framing"),
        ("POST / HTTP/1.1\r\nHost: a\r\n\r\n", 411, "length_required"),
        ("GET / HTTP/3.0\r\nHost: a\r\n\r\n", 505, "http_version_not_supported"),
        ("GET / HTTP/1.1\r\nHost: a\r\n" + String(repeating: "X-Big: " + String(repeating: "a", count: 500) + "\r\n", count: 40) + "\r\n", 431, "headers_too_large"),
        ("GET / HTTP/1.1\r\nHost: a\r\n" + String(repeating: "X-Many: a\r\n", count: 101) + "\r\n", 431, "too_many_headers"),
    ])
    func protocolErrorsAreJSONWithRequestIDAndClose(request: String, status: Int, code: String) throws {
        let server = try TestServer(handler: echoHandler)
        defer { server.stop() }
        let client = try RawClient(port: server.port)
        try client.send(request)
        let response = try client.readResponse()
        #expect(response.status == status)
        #expect(response.text.hasPrefix("{\"error\":{\"code\":\"\(code)\",\"message\":\""))
        #expect(response.header("X-Request-Id")?.isEmpty == false)
        #expect(response.header("Connection") == "close")
        #expect(try client.readUntilClosed())
        #expect(server.server.metrics.parseErrors[code] == 1)
    }

    @Test func errorAfterEarlierPipelinedRequestKeepsOrder() throws {
        let server = try TestServer { request, responder in
            DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(100)) {
                responder.send(HTTPResponse(body: "slow \(request.target)"))
            }
        }
        defer { server.stop() }
        let client = try RawClient(port: server.port)
        try client.send(getRequest("/first") + "BROKEN\r\n\r\n")
        #expect(try client.readResponse().text == "slow /first")
        #expect(try client.readResponse().status == 400)
        #expect(try client.readUntilClosed())
    }

    @Test func requestIDIsEchoedWhenSaneAndGeneratedOtherwise() throws {
        let server = try TestServer { request, responder in
            responder.send(HTTPResponse(body: request.requestID))
        }
        defer { server.stop() }
        let client = try RawClient(port: server.port)
        try client.send(getRequest("/", headers: ["X-Request-Id: client-42"]))
        let echoed = try client.readResponse()
        #expect(echoed.header("X-Request-Id") == "client-42")
        #expect(echoed.text == "client-42")
        try client.send(getRequest("/", headers: ["X-Request-Id: " + String(repeating: "x", count: 200)]))
        let generated = try client.readResponse()
        #expect(generated.header("X-Request-Id") == generated.text)
        #expect(generated.text.count == 25)
    }

    @Test func headResponseHasLengthButNoBody() throws {
        let server = try TestServer(handler: echoHandler)
        defer { server.stop() }
        let client = try RawClient(port: server.port)
        try client.send("HEAD /x HTTP/1.1\r\nHost: a\r\n\r\n" + getRequest("/y"))
        let head = try client.readResponse(isHead: true)
        #expect(head.header("Content-Length") == "9")   // "HEAD /x 0"
        #expect(try client.readResponse().text == "GET /y 0")
    }

    @Test func http10KeepAliveAndClose() throws {
        let server = try TestServer(handler: echoHandler)
        defer { server.stop() }
        let client = try RawClient(port: server.port)
        try client.send("GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        let first = try client.readResponse()
        #expect(first.header("Connection") == "keep-alive")
        try client.send("GET /b HTTP/1.0\r\n\r\n")
        let second = try client.readResponse()
        #expect(second.text == "GET /b 0")
        #expect(second.header("Connection") == "close")
        #expect(try client.readUntilClosed())
    }

    @Test func handlerConnectionCloseClosesAfterResponse() throws {
        let server = try TestServer { _, responder in
            responder.send(HTTPResponse(headers: ["Connection": "close"], body: "bye"))
        }
        defer { server.stop() }
        let client = try RawClient(port: server.port)
        try client.send(getRequest("/"))
        #expect(try client.readResponse().header("Connection") == "close")
        #expect(try client.readUntilClosed())
    }

    @Test func chunkedUploadIsJoined() throws {
        let server = try TestServer(handler: echoHandler)
        defer { server.stop() }
        let client = try RawClient(port: server.port)
        try client.send("POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n")
        Thread.sleep(forTimeInterval: 0.05)
        try client.send("4;ext=1\r\ndefg\r\n0\r\n\r\n")
        #expect(try client.readResponse().text == "POST /c 7")
    }

    @Test func connectionLimitAnswers503WhenNoConnectionIsIdle() throws {
        // Both admitted connections have a request in the handler (answered after 500 ms),
        // so none can be closed to make room: the third is refused.
        let server = try TestServer({ $0.maxConnections = 2 }) { request, responder in
            DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(500)) {
                responder.send(HTTPResponse(body: "late \(request.path)"))
            }
        }
        defer { server.stop() }
        let first = try RawClient(port: server.port)
        let second = try RawClient(port: server.port)
        try first.send(getRequest("/1"))
        try second.send(getRequest("/2"))
        try waitUntil { server.server.metrics.requestsReceived == 2 }
        let third = try RawClient(port: server.port)
        try third.send(getRequest("/"))
        let refused = try third.readResponse()
        #expect(refused.status == 503)
        #expect(refused.header("Retry-After") == "1")
        #expect(refused.text.contains("too_many_connections"))
        #expect(try third.readUntilClosed())
        // The admitted connections keep working.
        #expect(try first.readResponse().text == "late /1")
        #expect(try second.readResponse().text == "late /2")
        #expect(server.server.metrics.connectionsRejected == 1)
        #expect(server.server.metrics.connectionsEvicted == 0)
    }

    @Test func largeResponseIsDeliveredWhole() throws {
        let body = Array(repeating: Array(0...250 as ClosedRange<UInt8>), count: 4000).flatMap { $0 }
        let server = try TestServer { _, responder in responder.send(HTTPResponse(body: body)) }
        defer { server.stop() }
        let client = try RawClient(port: server.port)
        try client.send(getRequest("/big") + getRequest("/big"))
        #expect(try client.readResponse().body == body)
        #expect(try client.readResponse().body == body)
    }

    @Test func shutdownDrainsInFlightRequestsAndClosesIdleConnections() throws {
        // "/work" is held until the test answers it, so it is surely in flight during shutdown.
        let held = HeldResponders()
        let arrived = DispatchSemaphore(value: 0)
        let server = try TestServer { request, responder in
            if request.target == "/work" {
                held.keep(responder)
                arrived.signal()
            } else {
                responder.send(HTTPResponse(body: "done \(request.target)"))
            }
        }
        // A keep-alive connection that has been answered and is idle.
        let idle = try RawClient(port: server.port)
        try idle.send(getRequest("/first"))
        #expect(try idle.readResponse().text == "done /first")
        // A connection accepted but whose request has not arrived yet: closing it would reset a
        // client that is about to send (with a socket-activated listener the next server would
        // have served it), so it may still send one request.
        let fresh = try RawClient(port: server.port)
        let busy = try RawClient(port: server.port)
        try busy.send(getRequest("/work"))
        try #require(arrived.wait(timeout: .now() + 5) == .success, "/work reached the handler")
        server.server.beginShutdown()
        // Order, not a wall-clock bound: the idle connection is closed while "/work" is still
        // unanswered, so its closing did not wait for the drain.
        #expect(try idle.readUntilClosed())
        #expect(try !busy.socket.wait(for: .readable, timeoutMilliseconds: 0), "/work is still in flight")
        try fresh.send(getRequest("/late"))
        let late = try fresh.readResponse()
        #expect(late.text == "done /late")
        #expect(late.header("Connection") == "close")
        held.answerAll { HTTPResponse(body: "done /work") }
        let response = try busy.readResponse()
        #expect(response.text == "done /work")
        #expect(response.header("Connection") == "close")
        #expect(server.waitUntilStopped(timeout: 5))
        #expect(throws: SystemCallError.self) { try TCPClient.connect(host: "127.0.0.1", port: server.port) }
    }

    @Test func drainDeadlineEndsRunEvenIfAHandlerNeverAnswers() throws {
        let held = HeldResponders()
        let clock = ManualClock()
        let server = try TestServer(clock: clock, { $0.drainTimeout = .milliseconds(300) }) { request, responder in
            if request.path == "/never" { held.keep(responder) } else { responder.send(HTTPResponse(body: "ok")) }
        }
        // An answered keep-alive connection: the drain closes it at once, which shows it began.
        let idle = try RawClient(port: server.port)
        try idle.send(getRequest("/first"))
        #expect(try idle.readResponse().status == 200)
        let client = try RawClient(port: server.port)
        try client.send(getRequest("/never"))
        try waitUntil { server.server.metrics.requestsReceived == 2 }
        server.server.beginShutdown()
        #expect(try idle.readUntilClosed())
        clock.advance(by: .milliseconds(299))
        #expect(!server.waitUntilStopped(timeout: 0.2), "run returned before the drain deadline")
        clock.advance(by: .milliseconds(2))
        #expect(server.waitUntilStopped(timeout: 5))
        #expect(server.server.metrics.timeouts["drain"] == 1)
        #expect(try client.readUntilClosed())
    }

    @Test func signalsReachTheLoop() throws {
        let received = HeldResponders()
        let server = try HTTPServer(configuration: HTTPServer.Configuration(host: "127.0.0.1", port: 0))
        try server.handleSignals([SIGUSR1]) { signal in
            received.note(signal)
            server.beginShutdown()
        }
        defer { try? Signals.restoreDefault(SIGUSR1) }
        let done = DispatchSemaphore(value: 0)
        Thread { try? server.run(handler: echoHandler); done.signal() }.start()
        // The loop's first turn comes after it registered the signal descriptor.
        try waitUntil { server.lastLoopTurnNanoseconds != 0 }
        kill(getpid(), SIGUSR1)
        #expect(done.wait(timeout: .now() + 5) == .success)
        #expect(received.signals == [SIGUSR1])
    }

    @Test func adoptsAListeningDescriptor() throws {
        let listener = try TCPListener(host: "127.0.0.1", port: 0)
        let port = listener.localAddress.port
        let fd = try #require(listener.descriptor.release())
        let server = try TestServer(adopting: fd, handler: echoHandler)
        defer { server.stop() }
        #expect(server.port == port)
        let client = try RawClient(port: port)
        try client.send(getRequest("/adopted"))
        #expect(try client.readResponse().text == "GET /adopted 0")
    }

    @Test func refusesToAdoptANonListeningDescriptor() throws {
        let (a, _) = try SocketPair.make(.stream)
        #expect(throws: SocketError.self) { try HTTPServer(configuration: .init(adoptingListener: a.rawValue)) }
        #expect(!a.isClosed)
    }
}

/// Real `curl` against the server.
@Suite(.serialized)
struct HTTPServerCurlTests {
    /// Answers multipart uploads with a JSON summary of the parts.
    static let multipartHandler: HTTPServer.Handler = { request, responder in
        do {
            let parts = try MultipartFormData.parse(request.body, contentType: request.headers["Content-Type"] ?? "")
            let summary = parts.map { "\($0.name)=\($0.body.count):\($0.filename ?? "-"):\($0.contentType)" }
            responder.send(.json(.ok, "{\"parts\":\(JSONText.string(summary.joined(separator: ",")))}"))
        } catch let error as MultipartError {
            responder.send(.error(.badRequest, code: error.code, message: error.detail))
        } catch {
            responder.send(.error(.internalServerError, code: "unexpected", message: "\(error)"))
        }
    }

    static func temporaryFile(bytes: Int) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("upload-\(UUID().uuidString).bin")
        // A repeated pattern (a byte-by-byte map is slow in debug builds).
        let pattern = Data((0..<256).map { UInt8($0) })
        var data = Data(capacity: bytes)
        while data.count < bytes { data.append(pattern.prefix(bytes - data.count)) }
        try data.write(to: url)
        return url
    }

    @Test func multipartUploadOfOneMegabyteUsesExpectContinue() throws {
        let server = try TestServer(handler: Self.multipartHandler)
        defer { server.stop() }
        let file = try Self.temporaryFile(bytes: 1 << 20)
        defer { try? FileManager.default.removeItem(at: file) }
        let result = try runProgram("/usr/bin/curl", [
            "-sS", "-v", "--max-time", "10", "-F", "image=@\(file.path);type=image/jpeg", "-F", "text=a cat",
            "http://127.0.0.1:\(server.port)/infer",
        ])
        #expect(result.status == 0, "\(result.error)")
        #expect(result.error.contains("Expect: 100-continue"))
        #expect(result.error.contains("HTTP/1.1 100 Continue"))
        #expect(result.output == "{\"parts\":\"image=1048576:\(file.lastPathComponent):image/jpeg,text=5:-:text/plain\"}")
    }

    @Test func oversizedUploadGets413BeforeTheBody() throws {
        let server = try TestServer({ $0.limits.maxBodyBytes = 256 * 1024 }, handler: Self.multipartHandler)
        defer { server.stop() }
        let file = try Self.temporaryFile(bytes: 1 << 20)
        defer { try? FileManager.default.removeItem(at: file) }
        let result = try runProgram("/usr/bin/curl", [
            "-sS", "-v", "--max-time", "10", "-F", "image=@\(file.path)", "-w", "\n%{http_code}",
            "http://127.0.0.1:\(server.port)/infer",
        ])
        #expect(result.status == 0, "\(result.error)")
        #expect(!result.error.contains("HTTP/1.1 100 Continue"))
        #expect(result.output.hasPrefix("{\"error\":{\"code\":\"body_too_large\""))
        #expect(result.output.hasSuffix("\n413"))
    }

    @Test func curlReusesTheKeepAliveConnection() throws {
        let server = try TestServer(handler: echoHandler)
        defer { server.stop() }
        let url = "http://127.0.0.1:\(server.port)"
        let result = try runProgram("/usr/bin/curl", ["-sS", "-v", "--max-time", "10", "\(url)/a", "\(url)/b", "\(url)/c"])
        #expect(result.status == 0, "\(result.error)")
        #expect(result.output == "GET /a 0GET /b 0GET /c 0")
        #expect(result.error.contains("Re-using existing connection") || result.error.contains("Reusing existing connection"))
        #expect(server.server.metrics.connectionsAccepted == 1)
    }

    @Test func curlChunkedUpload() throws {
        let server = try TestServer(handler: echoHandler)
        defer { server.stop() }
        let result = try runProgram("/usr/bin/curl", [
            "-sS", "--max-time", "10", "-H", "Transfer-Encoding: chunked", "--data-binary", "@-",
            "http://127.0.0.1:\(server.port)/chunked",
        ], input: Data(repeating: 0x62, count: 100_000))
        #expect(result.status == 0, "\(result.error)")
        #expect(result.output == "POST /chunked 100000")
    }
}

/// Keeps responders alive (a handler that never answers) and records signals.
final class HeldResponders: Sendable {
    private struct State {
        var responders: [HTTPResponder] = []
        var received: [Int32] = []
    }

    private let state = Locked(State())

    func keep(_ responder: HTTPResponder) { state.withLock { $0.responders.append(responder) } }
    /// Answers every kept request with `response()` and forgets them.
    func answerAll(_ response: () -> HTTPResponse) {
        let kept = state.withLock { state -> [HTTPResponder] in
            defer { state.responders.removeAll() }
            return state.responders
        }
        for responder in kept { responder.send(response()) }
    }
    func note(_ signal: Int32) { state.withLock { $0.received.append(signal) } }
    var signals: [Int32] { state.withLock { $0.received } }
}
/// Keep-alive throughput against nginx (`return 200`), same wrk settings. Opt-in, run in
/// release: `FUSION_HTTP_BENCH=1 swift test -c release -Xswiftc -enable-testing --filter HTTPServerBenchmark`
/// (`-enable-testing` because other test targets use `@testable import`).
/// Reports the best of `FUSION_HTTP_BENCH_ROUNDS` (2) alternating rounds and, because a
/// shared machine makes wall-clock rates noisy, requests per CPU-second each server used.
@Suite(.serialized, .enabled(if: ProcessInfo.processInfo.environment["FUSION_HTTP_BENCH"] != nil,
                             "a benchmark: FUSION_HTTP_BENCH=1 swift test -c release -Xswiftc -enable-testing --filter HTTPServerBenchmark"))
struct HTTPServerBenchmark {
    @Test func wrkAgainstNginx() throws {
        let environment = ProcessInfo.processInfo.environment
        let duration = environment["FUSION_HTTP_BENCH_SECONDS"] ?? "5"
        let rounds = Int(environment["FUSION_HTTP_BENCH_ROUNDS"] ?? "2") ?? 2
        let ok: [UInt8] = Array("ok\n".utf8)
        let server = try TestServer({ $0.maxConnections = 1024 }) { _, responder in
            responder.send(HTTPResponse(status: .ok, headers: ["Content-Type": "text/plain"], body: ok))
        }
        defer { server.stop() }
        let wrkArgs = ["-t1", "-c16", "-d\(duration)s"]
        var best: [String: (rate: Double, perCPU: Double)] = [:]
        func record(_ name: String, _ output: String, cpu: Double) {
            let rate = wrkRequestsPerSecond(output) ?? 0
            let seconds = Double(duration) ?? 5
            let perCPU = cpu > 0 ? rate * seconds / cpu : 0
            print("\(name): \(Int(rate)) req/s, \(Int(perCPU)) req per CPU-second (cpu \(String(format: "%.2f", cpu)) s)")
            let previous = best[name] ?? (0, 0)
            best[name] = (max(previous.rate, rate), max(previous.perCPU, perCPU))
        }
        for _ in 0..<rounds {
            let before = cpuSeconds(pid: getpid())
            let ours = try runProgram("/usr/bin/wrk", wrkArgs + ["http://127.0.0.1:\(server.port)/healthz"])
            record("fusion-serve", ours.output, cpu: cpuSeconds(pid: getpid()) - before)
            for workers in [1, 2] {
                let nginx = try startNginx(port: UInt16(18_080 + workers), workers: workers)
                defer { nginx.stop() }
                let start = nginx.cpuSeconds
                let theirs = try runProgram("/usr/bin/wrk", wrkArgs + ["http://127.0.0.1:\(18_080 + workers)/healthz"])
                record("nginx-\(workers)", theirs.output, cpu: nginx.cpuSeconds - start)
            }
        }
        for (name, figures) in best.sorted(by: { $0.key < $1.key }) {
            print("best \(name): \(Int(figures.rate)) req/s, \(Int(figures.perCPU)) req/CPU-s")
        }
        #expect((best["fusion-serve"]?.rate ?? 0) > 0)
    }
}
