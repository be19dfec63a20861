import Foundation
import Locking
import Testing

#if canImport(Glibc)
import Glibc
#endif

private let good = Paths.bytes("images/good/jpeg_rgb_444_300x200.jpg")

/// Keeps `clients` connections sending `/infer` until `stop` is set; returns every outcome.
private final class Load: Sendable {
    private let state = Locked<(stopped: Bool, outcomes: [Outcome])>((false, []))
    let group = DispatchGroup()

    init(port: UInt16, clients: Int) {
        let body = HTTPClient.inferJSON(image: good, text: "under load")
        for _ in 0..<clients {
            group.enter()
            Thread { [self] in
                defer { group.leave() }
                var client: HTTPClient?
                while !stopped {
                    do {
                        if client == nil { client = try HTTPClient(port: port) }
                        try client?.send(HTTPClient.requestBytes(method: "POST", path: "/infer", body: body,
                                                                 contentType: "application/json"))
                        guard let response = try client?.readResponse() else { throw EndToEndError("closed") }
                        record(.status(response.status, code: response.status == 200 ? "(none)" : response.errorCode))
                    } catch {
                        record(.transportError("\(error)"))
                        client = nil
                    }
                }
            }.start()
        }
    }

    var stopped: Bool { state.withLock { $0.stopped } }
    func record(_ outcome: Outcome) { state.withLock { $0.outcomes.append(outcome) } }
    var count: Int { state.withLock { $0.outcomes.count } }

    func finish() -> [Outcome] {
        state.withLock { $0.stopped = true }
        group.wait()
        return state.withLock { $0.outcomes }
    }
}

extension EndToEnd {
    @Suite struct Resilience {
        @Test func killingAWorkerUnderLoadFailsNoRequest() throws {
            // Worker 0 sits on its first batch (the test hang), so it surely holds one when it
            // is killed; slowing both workers only made that likely, and full batches (a busy
            // worker gets a second batch only when it is full) left it idle in about one run in five.
            let marker = FileManager.default.temporaryDirectory.appendingPathComponent("e2e-kill-\(UUID().uuidString)").path
            defer { try? FileManager.default.removeItem(atPath: marker) }
            let server = try ServerProcess(environment: ["FUSION_ENABLE_TEST_HOOKS": "1", "FUSION_TEST_WORKER_DELAY_FACTOR": "3,3",
                                                         "FUSION_TEST_WORKER_HANG_ONCE": marker], workers: 2)
            let load = Load(port: server.port, clients: 8)
            // Deadlines, so a server that stops answering fails the test instead of hanging CI.
            guard waitUntil(timeout: 60, { load.count >= 20 }) else {
                _ = load.finish()
                Issue.record("no 20 answers within 60 s: \(server.log.suffix(2000))")
                return
            }
            #expect(try server.metric(#"fusion_worker_in_flight{worker="0"}"#) ?? 0 > 0, "worker 0 holds a batch")
            let victim = try #require(server.workerPID(index: 0))
            #expect(kill(victim, SIGKILL) == 0)
            // Keep the load on while the worker comes back.
            let deadline = Date().addingTimeInterval(20)
            var restarted = false
            while Date() < deadline {
                if let pid = server.workerPID(index: 0), pid != victim,
                   (try? server.metric(#"fusion_worker_ready{worker="0"}"#)) == 1 {
                    restarted = true
                    break
                }
                usleep(100_000)
            }
            let before = load.count
            let resumed = waitUntil(timeout: 60) { load.count >= before + 20 }
            let outcomes = load.finish()
            #expect(resumed, "20 more answers within 60 s of the restart")
            #expect(restarted, "worker 0 is back: \(server.log.suffix(2000))")
            let failures = outcomes.filter { !$0.isOK }
            #expect(failures.isEmpty, "\(failures.count) of \(outcomes.count) failed: \(Set(failures.map { "\($0)" }))")
            #expect(try server.metric(#"fusion_worker_restarts_total{worker="0"}"#) == 1)
            #expect(try server.metric(#"fusion_worker_restarts_total{worker="1"}"#) == 0)
            #expect(server.log.contains("signal 9"))
            #expect(try server.metric("fusion_retried_requests_total") ?? 0 > 0, "the dead worker's batch was re-sent")
        }

        @Test func aHungWorkerIsKilledRestartedAndItsBatchRetried() throws {
            let marker = FileManager.default.temporaryDirectory.appendingPathComponent("e2e-hang-\(UUID().uuidString)").path
            defer { try? FileManager.default.removeItem(atPath: marker) }
            let server = try ServerProcess(["--worker-timeout-s", "1"],
                                           environment: ["FUSION_ENABLE_TEST_HOOKS": "1", "FUSION_TEST_WORKER_HANG_ONCE": marker], workers: 2)
            let hung = try #require(server.workerPID(index: 0))
            // Both workers idle and unmeasured: least-loaded breaks the tie towards worker 0,
            // which never answers its first batch. /healthz is 200 once one worker is ready, so
            // wait for both (on a busy machine worker 0 may still be loading).
            #expect(waitUntil(timeout: 30) {
                (try? server.metric(#"fusion_worker_ready{worker="0"}"#)) == 1
                    && (try? server.metric(#"fusion_worker_ready{worker="1"}"#)) == 1
            }, "both workers ready: \(server.log.suffix(2000))")
            let started = Date()
            let response = try HTTPClient.request(port: server.port, method: "POST", path: "/infer",
                                                  body: HTTPClient.inferJSON(image: good, text: "hang"),
                                                  contentType: "application/json")
            let elapsed = Date().timeIntervalSince(started)
            #expect(response.status == 200, "\(response.text) \(server.log.suffix(2000))")
            #expect(response.json["worker"] as? Int == 1, "retried on the other worker")
            #expect(elapsed >= 1 && elapsed < 10, "answered after the 1 s worker timeout, not before: \(elapsed) s")
            #expect(try server.metric(#"fusion_worker_timeouts_total{worker="0"}"#) == 1)
            #expect(try server.metric(#"fusion_worker_timeouts_total{worker="1"}"#) == 0)
            #expect(try server.metric("fusion_retried_requests_total") == 1)
            #expect(server.log.contains("worker timeout"), "the log says why it was killed")
            #expect(server.log.contains("test hook active: FUSION_TEST_WORKER_HANG_ONCE=\(marker)"), "warned at start")
            // Worker 0 comes back as a new process, and the hung one is gone (killed and reaped).
            let deadline = Date().addingTimeInterval(20)
            var back = false
            while Date() < deadline {
                if let pid = server.workerPID(index: 0), pid != hung,
                   (try? server.metric(#"fusion_worker_ready{worker="0"}"#)) == 1 {
                    back = true
                    break
                }
                usleep(100_000)
            }
            #expect(back, "worker 0 restarted: \(server.log.suffix(2000))")
            #expect(try server.metric(#"fusion_worker_restarts_total{worker="0"}"#) == 1)
            #expect(!FileManager.default.fileExists(atPath: "/proc/\(hung)"), "the hung process was killed and reaped")
            // The restarted worker 0 answers normally (the hang happens once per marker file).
            let statuses = concurrently(8) { i in
                (try? HTTPClient.request(port: server.port, method: "POST", path: "/infer",
                                         body: HTTPClient.inferJSON(image: good, text: "after \(i)"),
                                         contentType: "application/json"))?.status ?? 0
            }
            #expect(statuses == Array(repeating: 200, count: 8))
            #expect(try server.metric(#"fusion_worker_timeouts_total{worker="0"}"#) == 1, "no second hang")
        }

        /// A hook variable left in the environment without FUSION_ENABLE_TEST_HOOKS=1 (say, in a
        /// production EnvironmentFile) changes nothing, and the server says so at start.
        @Test func hookVariablesWithoutTheSwitchAreIgnoredAndReported() throws {
            let marker = FileManager.default.temporaryDirectory.appendingPathComponent("e2e-off-\(UUID().uuidString)").path
            defer { try? FileManager.default.removeItem(atPath: marker) }
            let server = try ServerProcess(environment: ["FUSION_ENABLE_TEST_HOOKS": "0",
                                                         "FUSION_TEST_WORKER_HANG_ONCE": marker], workers: 1)
            // With the hook acting, the only worker would never answer this.
            let response = try HTTPClient.request(port: server.port, method: "POST", path: "/infer",
                                                  body: HTTPClient.inferJSON(image: good, text: "no hang"),
                                                  contentType: "application/json")
            #expect(response.status == 200, "\(response.text) \(server.log.suffix(2000))")
            #expect(!FileManager.default.fileExists(atPath: marker), "no file created at the hook's path")
            #expect(server.log.contains("test hook ignored: FUSION_TEST_WORKER_HANG_ONCE is set but FUSION_ENABLE_TEST_HOOKS is not 1"),
                    "\(server.log.suffix(2000))")
        }

        @Test func aWorkerHungWhileLoadingIsKilledAndStartedAgain() throws {
            // Worker 0's first process never finishes loading the model: without the start-up
            // watchdog the server would say "starting" forever.
            let marker = FileManager.default.temporaryDirectory.appendingPathComponent("e2e-load-\(UUID().uuidString)").path
            defer { try? FileManager.default.removeItem(atPath: marker) }
            let started = Date()
            let server = try ServerProcess(["--worker-timeout-s", "1"],
                                           environment: ["FUSION_ENABLE_TEST_HOOKS": "1", "FUSION_TEST_WORKER_HANG_LOAD_ONCE": marker],
                                           workers: 1, waitReady: false)
            var stuck: Int32?
            while stuck == nil, Date().timeIntervalSince(started) < 10 {
                stuck = server.workerPID(index: 0)
                usleep(20_000)
            }
            let hung = try #require(stuck)
            let health = try HTTPClient.request(port: server.port, method: "GET", path: "/healthz")
            #expect(health.status == 503, "not ready while the only worker hangs: \(health.text)")
            try server.waitUntilReady(timeout: 20)
            let elapsed = Date().timeIntervalSince(started)
            #expect(elapsed >= 1, "ready only after the 1 s worker timeout: \(elapsed) s")
            #expect(server.log.contains("did not become ready in time"), "\(server.log.suffix(2000))")
            #expect(server.log.contains("not ready within 1.0 s of its start"), "the log says why it was killed")
            #expect(try server.metric(#"fusion_worker_timeouts_total{worker="0"}"#) == 1)
            #expect(try server.metric(#"fusion_worker_restarts_total{worker="0"}"#) == 1)
            #expect(!FileManager.default.fileExists(atPath: "/proc/\(hung)"), "the hung process was killed and reaped")
            let response = try HTTPClient.request(port: server.port, method: "POST", path: "/infer",
                                                  body: HTTPClient.inferJSON(image: good, text: "after the hang"),
                                                  contentType: "application/json")
            #expect(response.status == 200, "\(response.text)")
        }

        @Test func aStoppedOnlyWorkerMakesHealthz503UntilItContinues() throws {
            // Issue 13 item 6: with its only worker SIGSTOPped, /healthz said "ready" for the
            // whole stop. The stall floor is lowered to 1 s so the test is quick; the worker
            // timeout (60 s) is far off, so the worker stays ready and holds the batch.
            let server = try ServerProcess(environment: ["FUSION_WORKER_STALL_MS": "1000"], workers: 1)
            for i in 0..<5 {   // a few batch times for the worker's p99
                let warm = try HTTPClient.request(port: server.port, method: "POST", path: "/infer",
                                                  body: HTTPClient.inferJSON(image: good, text: "warm \(i)"),
                                                  contentType: "application/json")
                #expect(warm.status == 200)
            }
            let worker = try #require(server.workerPID(index: 0))
            #expect(kill(worker, SIGSTOP) == 0)
            var continued = false
            defer { if !continued { kill(worker, SIGCONT) } }
            let client = try HTTPClient(port: server.port)
            try client.send(HTTPClient.requestBytes(method: "POST", path: "/infer",
                                                    body: HTTPClient.inferJSON(image: good, text: "held by a stopped worker"),
                                                    contentType: "application/json"))
            let sent = Date()
            var health = try HTTPClient.request(port: server.port, method: "GET", path: "/healthz")
            #expect(health.status == 200, "not stalled yet: \(health.text)")
            while health.status == 200, Date().timeIntervalSince(sent) < 15 {
                usleep(100_000)
                health = try HTTPClient.request(port: server.port, method: "GET", path: "/healthz")
            }
            let stalledAfter = Date().timeIntervalSince(sent)
            #expect(health.status == 503, "the only worker is stopped: \(health.text) \(server.log.suffix(1500))")
            #expect(health.json["status"] as? String == "stalled")
            #expect(stalledAfter >= 0.9, "stalled only past the 1 s floor: \(stalledAfter) s")
            #expect(try server.metric(#"fusion_worker_stalled{worker="0"}"#) == 1)
            // The watchdog counts and logs the stall on its next tick (every 100 ms).
            var stalls = try server.metric(#"fusion_worker_stalls_total{worker="0"}"#)
            for _ in 0..<20 where stalls != 1 {
                usleep(100_000)
                stalls = try server.metric(#"fusion_worker_stalls_total{worker="0"}"#)
            }
            #expect(stalls == 1)
            #expect(try server.metric("fusion_workers_healthy") == 0)
            #expect(server.log.contains("worker stalled"))

            #expect(kill(worker, SIGCONT) == 0)
            continued = true
            let answer = try #require(try client.readResponse())
            #expect(answer.status == 200, "the held request completes once the worker runs: \(answer.text)")
            let resumed = Date()
            health = try HTTPClient.request(port: server.port, method: "GET", path: "/healthz")
            while health.status != 200, Date().timeIntervalSince(resumed) < 5 {
                usleep(50_000)
                health = try HTTPClient.request(port: server.port, method: "GET", path: "/healthz")
            }
            #expect(health.status == 200, "healthy again as soon as it answers: \(health.text)")
            #expect(try server.metric(#"fusion_worker_stalled{worker="0"}"#) == 0)
            #expect(try server.metric(#"fusion_worker_restarts_total{worker="0"}"#) == 0, "a stall is not a death")
        }

        @Test func sigtermUnderLoadAnswersEveryAcceptedRequestAndExitsZero() throws {
            // Slowed workers keep requests queued and in flight when the signal arrives.
            let server = try ServerProcess(environment: ["FUSION_ENABLE_TEST_HOOKS": "1", "FUSION_TEST_WORKER_DELAY_FACTOR": "4,4"], workers: 2)
            let port = server.port
            let clients = try (0..<24).map { _ in try HTTPClient(port: port) }
            let keepAlive = try HTTPClient(port: port)
            for (i, client) in clients.enumerated() {
                try client.send(HTTPClient.requestBytes(method: "POST", path: "/infer",
                                                        body: HTTPClient.inferJSON(image: good, text: "drain \(i)"),
                                                        contentType: "application/json"))
            }
            usleep(300_000)   // every request has reached the server
            server.signal(SIGTERM)
            let answers = concurrently(clients.count) { i in (try? clients[i].readResponse())?.status ?? 0 }
            #expect(answers == Array(repeating: 200, count: clients.count), "\(answers)")
            #expect(server.waitForExit(timeout: 30) == 0, "\(server.log.suffix(2000))")
            #expect(keepAlive.isClosedByServer(), "idle keep-alive connections are closed")
            #expect((try? HTTPClient(port: port)) == nil, "the listener is closed")
            #expect(server.log.contains("draining"))
            #expect(server.workerPIDs.isEmpty)
        }

        @Test func whenTheDrainTimeRunsOutWhatIsLeftIsAnswered503AndTheServerExits() throws {
            // Worker 0 never answers its first batch (and the worker timeout, 60 s, is far off):
            // one request is running on it and a second waits in the queue behind it.
            let marker = FileManager.default.temporaryDirectory.appendingPathComponent("e2e-drain-\(UUID().uuidString)").path
            defer { try? FileManager.default.removeItem(atPath: marker) }
            let server = try ServerProcess(["--drain-timeout-s", "1"],
                                           environment: ["FUSION_ENABLE_TEST_HOOKS": "1", "FUSION_TEST_WORKER_HANG_ONCE": marker], workers: 1)
            let worker = try #require(server.workerPID(index: 0))
            let clients = try (0..<2).map { _ in try HTTPClient(port: server.port) }
            for (i, client) in clients.enumerated() {
                try client.send(HTTPClient.requestBytes(method: "POST", path: "/infer",
                                                        body: HTTPClient.inferJSON(image: good, text: "stuck \(i)"),
                                                        contentType: "application/json"))
                usleep(300_000)   // the first is on the worker before the second arrives
            }
            #expect(try server.metric(#"fusion_worker_in_flight{worker="0"}"#) == 1)
            #expect(try server.metric("fusion_queue_depth") == 1)
            let signalled = Date()
            server.signal(SIGTERM)
            let answers = concurrently(clients.count) { i in try? clients[i].readResponse() }
            let answered = Date().timeIntervalSince(signalled)
            for answer in answers {
                #expect(answer?.status == 503, "\(String(describing: answer?.text)) \(server.log.suffix(1500))")
                #expect(answer?.errorCode == "503 draining")
                #expect(answer?.header("Retry-After") == "1")
            }
            #expect(answered >= 0.9 && answered < 3, "answered at the 1 s drain deadline: \(answered) s")
            #expect(server.waitForExit(timeout: 10) == 0, "\(server.log.suffix(2000))")
            #expect(Date().timeIntervalSince(signalled) < 6, "exit within the deadline, the answer grace and the 2 s worker grace")
            #expect(server.log.contains("drain timeout"))
            #expect(!FileManager.default.fileExists(atPath: "/proc/\(worker)"), "the stuck worker was killed and reaped")
        }

        @Test func workersThatCannotLoadTheModelAreGivenUpAndReported() throws {
            // A valid config and vocabulary, but weights that are not safetensors at all.
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("e2e-broken-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: directory) }
            for file in ["config.json", "vocab.txt"] {
                try FileManager.default.copyItem(atPath: Paths.tinyModel + "/" + file, toPath: directory.appendingPathComponent(file).path)
            }
            try Data(repeating: 0x5A, count: 4096).write(to: directory.appendingPathComponent("model.safetensors"))
            let server = try ServerProcess(["--model", directory.path], workers: 1, waitReady: false)
            var health: ClientResponse?
            let deadline = Date().addingTimeInterval(20)
            while Date() < deadline {
                health = try? HTTPClient.request(port: server.port, method: "GET", path: "/healthz")
                if health?.json["status"] as? String == "unavailable" { break }
                usleep(100_000)
            }
            #expect(health?.status == 503)
            #expect(health?.json["status"] as? String == "unavailable", "\(server.log.suffix(1500))")
            let refused = try HTTPClient.request(port: server.port, method: "POST", path: "/infer",
                                                 body: HTTPClient.inferJSON(image: good, text: "x"), contentType: "application/json")
            #expect(refused.errorCode == "503 no_worker_ready")
            #expect(server.log.contains("could not load the model"))
            #expect(server.log.contains("gave up"))
        }
    }
}
