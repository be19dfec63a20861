import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

private let goodJPEG = Paths.bytes("images/good/jpeg_rgb_444_300x200.jpg")

/// Issue 13: sustained mixed traffic (with hostile requests) and an open-loop overload must
/// leave memory and descriptors flat and get only the answers a client can act on.
extension EndToEnd {
    @Suite struct Soak {
        /// Open loop at twice the measured capacity: every answer is 200, or 503 with
        /// `Retry-After` (shed load), never a 5xx of another kind or a dropped connection.
        @Test func overloadAtTwiceCapacityAnswersOnly200Or503() throws {
            let server = try ServerProcess(["--max-queue", "16"])
            defer { server.stop() }
            let image = Paths.fixture("images/good/jpeg_rgb_444_300x200.jpg")
            let closed = try bench(["--port", "\(server.port)", "--image", image, "--concurrency", "8",
                                    "--duration", "3", "--warmup", "1", "--json"])
            let capacity = try #require(closed["throughput"] as? Double)
            #expect(capacity > 0)
            let before = try ProcessFootprint(pid: server.process.processIdentifier)
            let open = try bench(["--port", "\(server.port)", "--image", image, "--rate", "\(Int(2 * capacity) + 1)",
                                  "--connections", "64", "--duration", "10", "--warmup", "1", "--json",
                                  "--timeout-ms", "10000"])
            let errors = open["errors"] as? [String: Any] ?? [:]
            #expect(Set(errors.keys).isSubset(of: ["503"]), "answers other than 200/503 under overload: \(errors)")
            #expect((open["ok"] as? Int ?? 0) > 0)
            print("overload: capacity \(Int(capacity)) req/s closed loop; open loop at 2x: ok \(open["ok"] ?? 0), errors \(errors)")
            usleep(500_000)
            let after = try ProcessFootprint(pid: server.process.processIdentifier)
            #expect(after.residentBytes - before.residentBytes < 48 << 20, "RSS \(before) -> \(after)")
            #expect(after.descriptors <= before.descriptors + 4, "descriptors \(before) -> \(after)")
            #expect(server.process.isRunning)
        }

        /// Mixed good and hostile traffic for `FUSION_SOAK_SECONDS` (default 120; the
        /// 30-minute run in docs/hardening.md is this test with 1800). Memory and descriptors
        /// are sampled after a warm-up fifth and at the end.
        @Test func mixedTrafficSoakKeepsMemoryAndDescriptorsFlat() throws {
            let seconds = Double(ProcessInfo.processInfo.environment["FUSION_SOAK_SECONDS"] ?? "") ?? 120
            let server = try ServerProcess(["--client-timeout-ms", "2000", "--max-queue", "64"])
            defer { server.stop() }
            let stop = Flag()
            let outcomes = Outcomes()
            let group = DispatchGroup()
            let port = server.port
            let good = HTTPClient.requestBytes(method: "POST", path: "/infer",
                                               body: HTTPClient.inferJSON(image: goodJPEG, text: "a red circle"),
                                               contentType: "application/json")
            for _ in 0..<4 {
                group.enter()
                Thread {
                    defer { group.leave() }
                    var client: HTTPClient?
                    while !stop.isSet {
                        do {
                            if client == nil { client = try HTTPClient(port: port, timeoutSeconds: 20) }
                            try client?.send(good)
                            guard let response = try client?.readResponse() else { throw EndToEndError("closed") }
                            outcomes.record(good: response.status)
                        } catch {
                            outcomes.record(goodFailure: "\(error)")
                            client = nil
                        }
                    }
                }.start()
            }
            group.enter()
            Thread {
                defer { group.leave() }
                var index = 0
                while !stop.isSet {
                    let attack = HostileRequest.all[index % HostileRequest.all.count]
                    index += 1
                    if let status = attack.run(port: port) { outcomes.record(hostile: status, name: attack.name) }
                }
            }.start()
            let warmUp = Date().addingTimeInterval(seconds / 5)
            while Date() < warmUp { usleep(100_000) }
            let before = try ProcessFootprint(pid: server.process.processIdentifier)
            let end = Date().addingTimeInterval(seconds * 4 / 5)
            while Date() < end, server.process.isRunning { usleep(200_000) }
            stop.set()
            group.wait()
            usleep(500_000)
            #expect(server.process.isRunning)
            let after = try ProcessFootprint(pid: server.process.processIdentifier)
            let summary = outcomes.summary
            #expect(summary.goodOK > 0)
            #expect(summary.goodOther.isEmpty, "valid requests answered otherwise: \(summary.goodOther)")
            #expect(summary.goodFailures.isEmpty, "valid requests failed: \(summary.goodFailures.prefix(3))")
            #expect(summary.hostileServerErrors.isEmpty, "hostile requests got 5xx: \(summary.hostileServerErrors)")
            #expect(summary.hostileCount > 50)
            #expect(after.residentBytes - before.residentBytes < 32 << 20, "RSS \(before) -> \(after)")
            #expect(after.descriptors <= before.descriptors + 4, "descriptors \(before) -> \(after)")
            print("soak: \(Int(seconds)) s, \(summary.goodOK) good answered 200, \(summary.hostileCount) hostile, footprint \(before) -> \(after)")
        }
    }
}

/// Runs `fusion-serve bench … --json` and returns its report.
private func bench(_ arguments: [String]) throws -> [String: Any] {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: Paths.binary)
    process.arguments = ["bench"] + arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0,
          let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
        throw EndToEndError("bench failed: \(String(decoding: data, as: UTF8.self))")
    }
    return object
}

/// Resident memory and open descriptors of a process.
struct ProcessFootprint: CustomStringConvertible {
    let residentBytes: Int
    let descriptors: Int

    init(pid: Int32) throws {
        guard let rss = EndToEndTests.residentBytes(pid: pid) else { throw EndToEndError("no /proc/\(pid)/status") }
        residentBytes = rss
        descriptors = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? -1
    }

    var description: String { "\(residentBytes >> 20) MiB, \(descriptors) fds" }
}

/// What the soak's clients saw.
private final class Outcomes: @unchecked Sendable {
    struct Summary {
        var goodOK = 0
        var goodOther: [Int: Int] = [:]
        var goodFailures: [String] = []
        var hostileCount = 0
        var hostileServerErrors: [String: Int] = [:]
    }

    // Guarded by `lock`.
    private let lock = NSLock()
    private var state = Summary()

    func record(good status: Int) {
        lock.withLock {
            // 503 is load shedding, a normal answer under a full queue.
            if status == 200 || status == 503 { state.goodOK += status == 200 ? 1 : 0 } else { state.goodOther[status, default: 0] += 1 }
        }
    }

    func record(goodFailure: String) { lock.withLock { state.goodFailures.append(goodFailure) } }

    func record(hostile status: Int, name: String) {
        lock.withLock {
            state.hostileCount += 1
            if status >= 500 && status != 503 { state.hostileServerErrors["\(name) \(status)", default: 0] += 1 }
        }
    }

    var summary: Summary { lock.withLock { state } }
}

/// One hostile request of the soak: sends its bytes and returns the status answered (nil when
/// the server rightly just closed, or the attack expects no answer).
private struct HostileRequest {
    let name: String
    let bytes: [UInt8]
    var halfClose = false

    func run(port: UInt16) -> Int? {
        guard let client = try? HTTPClient(port: port, timeoutSeconds: 10) else { return nil }
        try? client.send(bytes)
        if halfClose { shutdown(client.fd, Int32(SHUT_WR)) }
        return (try? client.readResponse())?.status
    }

    static let all: [HostileRequest] = {
        func infer(_ body: String, type: String = "application/json") -> [UInt8] {
            HTTPClient.requestBytes(method: "POST", path: "/infer", body: Array(body.utf8), contentType: type)
        }
        let truncatedJPEG = Array(goodJPEG.prefix(goodJPEG.count / 2))
        return [
            HostileRequest(name: "garbage", bytes: Array("\u{1}\u{2}GARBAGE \u{7f}\r\n\r\n".utf8)),
            HostileRequest(name: "bad-json", bytes: infer(#"{"image": "abc", "text": [1,2,"#)),
            HostileRequest(name: "deep-json", bytes: infer(String(repeating: "[", count: 100_000))),
            HostileRequest(name: "bad-base64", bytes: infer(#"{"image":"!!!not base64!!!","text":"x"}"#)),
            HostileRequest(name: "truncated-jpeg", bytes: HTTPClient.requestBytes(
                method: "POST", path: "/infer", body: HTTPClient.inferJSON(image: truncatedJPEG, text: "a"),
                contentType: "application/json")),
            HostileRequest(name: "too-large", bytes: Array("POST /infer HTTP/1.1\r\nHost: a\r\nContent-Length: 999999999\r\n\r\n".utf8)),
            HostileRequest(name: "huge-header", bytes: Array(("GET /healthz HTTP/1.1\r\nHost: a\r\nX: " + String(repeating: "a", count: 70_000) + "\r\n\r\n").utf8)),
            HostileRequest(name: "bad-chunked", bytes: Array("POST /infer HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n".utf8)),
            HostileRequest(name: "not-found", bytes: HTTPClient.requestBytes(method: "GET", path: "/nope")),
            HostileRequest(name: "bad-multipart", bytes: infer("--x\r\nContent-Disposition: form-data; name=\"image\"\r\n\r\nabc", type: "multipart/form-data; boundary=x")),
            HostileRequest(name: "half-closed-body", bytes: Array("POST /infer HTTP/1.1\r\nHost: a\r\nContent-Length: 500\r\n\r\n{\"te".utf8), halfClose: true),
            HostileRequest(name: "metrics", bytes: HTTPClient.requestBytes(method: "GET", path: "/metrics")),
        ]
    }()
}
