import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

private let good = Paths.bytes("images/good/jpeg_rgb_444_300x200.jpg")

/// The attacks of issue 13, each against the real binary on loopback.
extension EndToEnd {
    @Suite struct Hardening {
        /// Issue 13 item 1, the deterministic core of the crash: an `/infer` still in the
        /// worker, a later pipelined request already answered on the loop thread, and half of
        /// a third head buffered. The old loop recursed on that state without end at once.
        @Test func laterAnswerBeforeEarlierWithHalfAHeadBufferedDoesNotCrash() throws {
            let server = try ServerProcess()
            defer { server.stop() }
            let infer = HTTPClient.requestBytes(method: "POST", path: "/infer",
                                                body: HTTPClient.inferJSON(image: good, text: "a red circle"),
                                                contentType: "application/json")
            let client = try HTTPClient(port: server.port)
            try client.send(infer + HTTPClient.requestBytes(method: "GET", path: "/livez") + Array("GET /livez HTTP/1.1\r\nHo".utf8))
            usleep(300_000)
            #expect(server.process.isRunning, "the server died on a pipelined burst")
            try client.send("st: a\r\n\r\n")
            let first = try #require(try client.readResponse())
            #expect(first.status == 200)
            #expect(first.text.contains("\"label\""))
            #expect(try client.readResponse()?.status == 200)
            #expect(try client.readResponse()?.status == 200)
            #expect(server.process.isRunning)
        }

        /// Issue 13 item 1: two keep-alive connections pipeline valid ~10 MB `POST /infer`
        /// requests in 64 KiB pieces every 20 ms and never read. Answers come back out of
        /// order (preprocessing runs in parallel) while half of the next head is buffered;
        /// the loop used to recurse `flush` → `processRequests` → `flush` until the stack
        /// overflowed and the whole server died (SIGSEGV in about 10 s, 4 runs of 4).
        @Test func pipeliningClientsThatNeverReadCannotCrashTheServer() throws {
            let server = try ServerProcess(["--max-queue", "8"])
            defer { server.stop() }
            // A valid request whose bulk is an ignored JSON member: the cost is the transfer,
            // not the decode (a 7 MB image would take seconds to preprocess in a debug build).
            let padding = #","padding":""# + String(repeating: "x", count: 9_950_000) + #"""#
            let request = HTTPClient.requestBytes(method: "POST", path: "/infer",
                                                  body: HTTPClient.inferJSON(image: good, text: "a red circle", extra: padding),
                                                  contentType: "application/json")
            #expect(request.count > 9_800_000 && request.count < 10_200_000)
            let stop = Flag()
            let group = DispatchGroup()
            for _ in 0..<2 {
                group.enter()
                Thread {
                    defer { group.leave() }
                    guard let client = try? HTTPClient(port: server.port) else { return }
                    var offset = 0
                    while !stop.isSet {
                        let end = min(offset + 65_536, request.count)
                        // A send that fails means the server closed us (or died): stop.
                        guard (try? client.sendNonBlockingFully(Array(request[offset..<end]), until: stop)) != nil else { return }
                        offset = end == request.count ? 0 : end
                        usleep(20_000)
                    }
                }.start()
            }
            // 15 s: the old loop died after ~10 s of this; keep checking that it still answers.
            let deadline = Date().addingTimeInterval(15)
            var healthChecks = 0
            while Date() < deadline {
                #expect(server.process.isRunning, "the server died under the pipelining clients")
                guard server.process.isRunning else { break }
                let health = try HTTPClient.request(port: server.port, method: "GET", path: "/livez")
                #expect(health.status == 200)
                healthChecks += 1
                usleep(500_000)
            }
            stop.set()
            group.wait()
            #expect(server.process.isRunning)
            #expect(healthChecks >= 20)
            let answered = try server.metricSum(prefix: "fusion_requests_total{", containing: "/infer")
            #expect(answered >= 4, "the attack's requests were read and answered (\(answered)); log: \(server.log.suffix(3000))")
        }

        /// Issue 13 item 2: idle connections (never a byte, or one keep-alive GET and then
        /// quiet) filled every slot and `/healthz` on a new connection got 503 for 10–60 s.
        @Test func idleConnectionsCannotLockOutAHealthCheck() throws {
            let server = try ServerProcess(["--max-connections", "64"])
            defer { server.stop() }
            var hoard: [HTTPClient] = []
            for index in 0..<100 {
                let client = try HTTPClient(port: server.port, timeoutSeconds: 5)
                if index % 2 == 0 {
                    try client.send(HTTPClient.requestBytes(method: "GET", path: "/livez"))
                    _ = try client.readResponse()
                }
                hoard.append(client)
            }
            for _ in 0..<5 {
                let health = try HTTPClient.request(port: server.port, method: "GET", path: "/healthz")
                #expect(health.status == 200, "health check refused: \(health.text)")
            }
            let evicted = try server.metric("fusion_http_connections_evicted_total") ?? 0
            #expect(evicted >= 36, "idle connections were closed to admit new ones (\(evicted))")
            #expect(try server.metric(#"fusion_http_connections_rejected_total{reason="limit"}"#) ?? 0 == 0)
            withExtendedLifetime(hoard) {}
        }

        /// Issue 13 item 3: connections that send most of a large body and stop used to grow
        /// the server by their whole bodies (200 × 19.9 MB took it to 4.16 GB). Beyond the
        /// budget, new bodies get 503 and are never read.
        @Test func stalledLargeBodiesAreBoundedByTheBufferBudget() throws {
            let server = try ServerProcess(["--max-body-bytes", "4194304", "--max-buffered-bytes", "16777216",
                                            "--client-timeout-ms", "30000"])
            defer { server.stop() }
            let before = try #require(residentBytes(pid: server.process.processIdentifier))
            let head = "POST /infer HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 4194304\r\n\r\n"
            let almost = [UInt8](repeating: 0x20, count: 4_194_304 - 100_000)
            var clients: [HTTPClient] = []
            var refused = 0
            for index in 0..<10 {
                let client = try HTTPClient(port: server.port, timeoutSeconds: 5)
                try client.send(head)
                if index < 4 {
                    try client.send(almost)   // fits the budget: read, then the client stalls
                } else if let response = try client.readResponse(), response.errorCode == "503 server_busy" {
                    refused += 1              // answered at once, its body never read
                }
                clients.append(client)
            }
            #expect(refused == 6, "bodies beyond the 16 MiB budget were refused (\(refused) of 6)")
            #expect(try server.metric("fusion_http_bodies_refused_total") == 6)
            #expect(try server.metric("fusion_http_buffered_body_bytes") == 16_777_216)
            let after = try #require(residentBytes(pid: server.process.processIdentifier))
            #expect(after - before < 64 << 20, "RSS grew by \((after - before) >> 20) MiB for a 16 MiB budget")
            let health = try HTTPClient.request(port: server.port, method: "GET", path: "/healthz")
            #expect(health.status == 200)
            withExtendedLifetime(clients) {}
        }

        /// Issue 13 item 4: a body sent one byte every 9 s was still open after 126 s; the
        /// body deadline restarted on every byte. Now the whole body is due by a minimum rate.
        @Test func trickledBodyIsCutOff() throws {
            let server = try ServerProcess(["--client-timeout-ms", "1500"])
            defer { server.stop() }
            let client = try HTTPClient(port: server.port, timeoutSeconds: 20)
            try client.send("POST /infer HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n")
            let started = Date()
            let stop = Flag()
            let trickle = Thread {
                while !stop.isSet {
                    usleep(500_000)
                    guard (try? client.send(" ")) != nil else { return }
                }
            }
            trickle.start()
            defer { stop.set() }
            let response = try #require(try client.readResponse())
            #expect(response.status == 408)
            #expect(Date().timeIntervalSince(started) < 15, "cut off after \(Date().timeIntervalSince(started)) s")
        }

        /// Issue 13 item 4: a half-closed upload was held in CLOSE-WAIT until the body timeout.
        @Test func halfClosedUploadIsClosedAtOnce() throws {
            let server = try ServerProcess(["--client-timeout-ms", "60000"])
            defer { server.stop() }
            let client = try HTTPClient(port: server.port, timeoutSeconds: 5)
            try client.send("POST /infer HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{\"te")
            shutdown(client.fd, Int32(SHUT_WR))
            // Closed by the server well before the 5 s receive timeout (the old code: 60 s).
            #expect(client.isClosedByServer())
            #expect(try server.metric("fusion_http_requests_abandoned_total") == 1)
        }
    }
}

extension ServerProcess {
    /// The sum of the `/metrics` samples whose series starts with `prefix` and contains `text`.
    func metricSum(prefix: String, containing text: String) throws -> Double {
        let response = try HTTPClient.request(port: port, method: "GET", path: "/metrics")
        var sum = 0.0
        for line in response.text.split(separator: "\n") where line.hasPrefix(prefix) && line.contains(text) {
            sum += line.split(separator: " ").last.flatMap { Double($0) } ?? 0
        }
        return sum
    }
}

/// The resident set size of process `pid` in bytes (`VmRSS` in `/proc/PID/status`).
func residentBytes(pid: Int32) -> Int? {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
          let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
          let kib = Int(line.split(separator: " ").dropFirst().first ?? "") else { return nil }
    return kib * 1024
}

/// A flag set once from any thread.
final class Flag: @unchecked Sendable {
    // Guarded by `lock`.
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.withLock { value } }
    func set() { lock.withLock { value = true } }

    /// Sets itself `seconds` from now (for bounding a blocking helper); returns self.
    func setAfter(seconds: Double) -> Flag {
        DispatchQueue.global().asyncAfter(deadline: .now() + seconds) { self.set() }
        return self
    }
}

extension HTTPClient {
    /// Sends all of `bytes` without blocking for long: when the server stops reading, keeps
    /// retrying until `stop` is set (then throws), so an attacker thread can be stopped.
    func sendNonBlockingFully(_ bytes: [UInt8], until stop: Flag) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes {
                Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT))
            }
            if n < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN || errno == EWOULDBLOCK {
                    if stop.isSet { throw EndToEndError("stopped") }
                    usleep(5_000)
                    continue
                }
                throw EndToEndError("send: errno \(errno)")
            }
            offset += n
        }
    }
}
