import Foundation
import Locking
import Testing

#if canImport(Glibc)
import Glibc
#endif

private let picture = Paths.bytes("images/good/jpeg_rgb_444_300x200.jpg")

/// `clients` keep-alive connections looping on `/infer` until `finish`; every answer recorded.
private final class InferLoop: Sendable {
    private struct State {
        var statuses: [Int] = []
        var failures: [String] = []
        var stopped = false
    }

    private let state = Locked(State())
    private let group = DispatchGroup()

    init(port: UInt16, clients: Int) {
        let body = HTTPClient.inferJSON(image: picture, text: "a reload under load")
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
                        guard let response = try client?.readResponse() else { throw EndToEndError("connection closed") }
                        record(response.status, response.status == 200 ? nil : "\(response.status) \(response.text)")
                    } catch {
                        record(nil, "transport: \(error)")
                        client = nil
                    }
                }
            }.start()
        }
    }

    private var stopped: Bool { state.withLock { $0.stopped } }

    private func record(_ status: Int?, _ failure: String?) {
        state.withLock { state in
            if let status { state.statuses.append(status) }
            if let failure { state.failures.append(failure) }
        }
    }

    var answered: Int { state.withLock { $0.statuses.count } }

    /// Stops the clients; (answers, failures: every non-200 or transport error).
    func finish() -> (answers: Int, failures: [String]) {
        state.withLock { $0.stopped = true }
        group.wait()
        return state.withLock { ($0.statuses.count, $0.failures) }
    }
}

/// Replaces `path` the way a deploy tool should: a new file renamed over the old one, so the
/// workers still mapping the old file keep their pages (overwriting in place would pull the
/// file out from under them).
private func replace(_ path: String, with bytes: [UInt8]) throws {
    let temporary = path + ".new"
    guard FileManager.default.createFile(atPath: temporary, contents: Data(bytes)) else {
        throw EndToEndError("cannot write \(temporary)")
    }
    guard rename(temporary, path) == 0 else { throw EndToEndError("rename \(temporary): errno \(errno)") }
}

/// A private copy of the tiny-f32 fixture model in a new temporary directory.
private func copiedModel(_ name: String) throws -> String {
    let directory = FileManager.default.temporaryDirectory
        .appendingPathComponent("fusion-reload-\(name)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    for file in ["config.json", "model.safetensors", "vocab.txt"] {
        try FileManager.default.copyItem(atPath: Paths.fixture("models/tiny-f32/\(file)"), toPath: directory + "/" + file)
    }
    return directory
}

extension EndToEnd {
    @Suite struct ModelReload {
        /// The issue's test: 4 clients loop on /infer through a SIGHUP (nothing changed), a weight
        /// change loaded by the load route (then back by SIGHUP, and forth again), and a
        /// truncated weight file sent by SIGHUP (and the load route): no request fails, the
        /// version follows the valid changes only, the failure is logged with the file's name
        /// and answered 400 with it.
        @Test func reloadUnderLoadFailsNoRequest() throws {
            let directory = FileManager.default.temporaryDirectory
                .appendingPathComponent("fusion-reload-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: directory) }
            for file in ["config.json", "model.safetensors", "vocab.txt"] {
                try FileManager.default.copyItem(atPath: Paths.fixture("models/tiny-f32/\(file)"), toPath: directory + "/" + file)
            }
            let weights = directory + "/model.safetensors"
            // Batches slowed 30× (a few ms each) so the old workers surely hold some when the
            // switch comes: those must be answered by them, not lost.
            let server = try ServerProcess(["--worker-timeout-s", "20"],
                                           environment: ["FUSION_ENABLE_TEST_HOOKS": "1", "FUSION_TEST_WORKER_DELAY_FACTOR": "30,30"],
                                           workers: 2, model: directory)
            defer { server.stop() }
            func version() throws -> String {
                let response = try HTTPClient.request(port: server.port, method: "GET", path: "/v1/model")
                return response.json["version"] as? String ?? "(none)"
            }
            func reloads(_ result: String) throws -> Double {
                try server.metric("fusion_model_reloads_total{result=\"\(result)\"}") ?? -1
            }
            let initial = try version()
            #expect(initial.count == 12 && initial.allSatisfy(\.isHexDigit), "version \(initial)")
            #expect(try reloads("success") == 0)

            let load = InferLoop(port: server.port, clients: 4)
            defer { _ = load.finish() }
            #expect(waitUntil(timeout: 10) { load.answered >= 8 }, "the clients got no answers")

            // 1. SIGHUP, nothing changed: re-read and validated, same version.
            server.signal(SIGHUP)
            #expect(try waitUntil(timeout: 10) { try reloads("success") == 1 }, "SIGHUP reload not counted: \(server.log)")
            #expect(try version() == initial)

            // 2. Other valid weights of the same shapes (the F16 twin of the fixture), then the
            // load route: new workers, new version.
            try replace(weights, with: Paths.bytes("models/tiny-f16/model.safetensors"))
            let answeredBefore = load.answered
            let loaded = try HTTPClient.request(port: server.port, method: "POST", path: "/v2/repository/models/tiny-f32/load")
            #expect(loaded.status == 200, "load: \(loaded.status) \(loaded.text)")
            let changed = try version()
            #expect(changed != initial && changed.count == 12, "version \(initial) → \(changed)")
            #expect(loaded.json["version"] as? String == changed)
            #expect(try reloads("success") == 2)
            // The supervisor logs it as it takes the new process over, which may be just after the answer.
            #expect(waitUntil(timeout: 10) { server.log.contains("worker ready on the reloaded model") },
                    "no worker was replaced: \(server.log)")
            // Traffic goes on through the new workers.
            #expect(waitUntil(timeout: 10) { load.answered >= answeredBefore + 8 }, "no answers after the reload")

            // 2b. And back to the original weights by SIGHUP: a switch too, to the first version
            // (the version is the content's).
            let good = Paths.bytes("models/tiny-f32/model.safetensors")
            try replace(weights, with: good)
            server.signal(SIGHUP)
            #expect(try waitUntil(timeout: 15) { try reloads("success") == 3 }, "SIGHUP switch not counted: \(server.log)")
            #expect(try version() == initial)
            try replace(weights, with: Paths.bytes("models/tiny-f16/model.safetensors"))
            #expect(try HTTPClient.request(port: server.port, method: "POST",
                                           path: "/v2/repository/models/tiny-f32/load").status == 200)
            #expect(try version() == changed)

            // 3. A truncated weight file, then SIGHUP: refused, logged with the file name, old
            // version still serving.
            try replace(weights, with: Array(good.prefix(good.count / 2)))
            server.signal(SIGHUP)
            #expect(try waitUntil(timeout: 10) { try reloads("failure") == 1 }, "broken reload not counted: \(server.log)")
            let failureLine = server.log.split(separator: "\n").first { $0.contains("model reload failed") }.map(String.init) ?? ""
            #expect(failureLine.contains("model.safetensors"), "the log does not name the file: \(failureLine)")
            #expect(try version() == changed)

            // 4. The load route on the broken file: 400 with the reason, naming the file.
            let refused = try HTTPClient.request(port: server.port, method: "POST", path: "/v2/repository/models/tiny-f32/load")
            #expect(refused.status == 400)
            let reason = refused.json["error"] as? String ?? ""
            #expect(reason.contains(weights), "400 body: \(refused.text)")
            #expect(try version() == changed)
            #expect(try reloads("failure") == 2)

            let answersAfterFailures = load.answered
            #expect(waitUntil(timeout: 10) { load.answered >= answersAfterFailures + 8 }, "no answers after the failures")
            let (answers, failures) = load.finish()
            #expect(failures.isEmpty, "\(failures.count) of \(answers) requests failed: \(failures.prefix(5))")
            #expect(answers > 30)
        }

        /// A replaced worker that never answers the batch it holds (the test hang) is killed after
        /// the worker timeout and the batch is answered by the new worker: late, but not failed.
        @Test func aRetiredWorkerThatHangsIsKilledAndItsBatchRetried() throws {
            let directory = FileManager.default.temporaryDirectory
                .appendingPathComponent("fusion-reload-hang-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: directory) }
            for file in ["config.json", "model.safetensors", "vocab.txt"] {
                try FileManager.default.copyItem(atPath: Paths.fixture("models/tiny-f32/\(file)"), toPath: directory + "/" + file)
            }
            let hangFile = directory + "/hang-once"
            let server = try ServerProcess(["--worker-timeout-s", "2"],
                                           environment: ["FUSION_ENABLE_TEST_HOOKS": "1", "FUSION_TEST_WORKER_HANG_ONCE": hangFile],
                                           workers: 1, model: directory)
            defer { server.stop() }
            let answer = Locked<ClientResponse?>(nil)
            let done = DispatchSemaphore(value: 0)
            Thread {
                let response = try? HTTPClient.request(port: server.port, method: "POST", path: "/infer",
                                                       body: HTTPClient.inferJSON(image: picture, text: "held"),
                                                       contentType: "application/json")
                answer.withLock { $0 = response }
                done.signal()
            }.start()
            #expect(try waitUntil(timeout: 10) { try server.metric("fusion_worker_in_flight{worker=\"0\"}") == 1 },
                    "the request never reached the worker")

            try replace(directory + "/model.safetensors", with: Paths.bytes("models/tiny-f16/model.safetensors"))
            let loaded = try HTTPClient.request(port: server.port, method: "POST", path: "/v2/repository/models/tiny-f32/load")
            #expect(loaded.status == 200, "load: \(loaded.status) \(loaded.text)")
            #expect(done.wait(timeout: .now() + 20) == .success, "the held request was never answered: \(server.log)")
            let response = answer.withLock { $0 }
            #expect(response?.status == 200, "held request: \(response?.status ?? 0) \(response?.text ?? "")")
            #expect(server.log.contains("retired worker did not exit in time"), "\(server.log)")
            #expect(try server.metric("fusion_retried_requests_total") == 1)
        }
    
        /// Memory for only one more worker (the test hook stands in for a full machine): the
        /// two workers are replaced one after the other, each old process gone before the next
        /// new one starts (3 processes at the peak, not 4), and no request fails meanwhile.
        @Test func aReloadShortOfMemoryReplacesOneWorkerAtATime() throws {
            let directory = try copiedModel("one-at-a-time")
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let server = try ServerProcess(["--worker-timeout-s", "20"],
                                           environment: ["FUSION_ENABLE_TEST_HOOKS": "1", "FUSION_TEST_WORKER_DELAY_FACTOR": "30,30",
                                                         "FUSION_TEST_RELOAD_FREE_WORKERS": "1"],
                                           workers: 2, model: directory)
            defer { server.stop() }
            let initial = try HTTPClient.request(port: server.port, method: "GET", path: "/v1/model").json["version"] as? String
            let load = InferLoop(port: server.port, clients: 4)
            defer { _ = load.finish() }
            #expect(waitUntil(timeout: 10) { load.answered >= 8 }, "the clients got no answers")

            try replace(directory + "/model.safetensors", with: Paths.bytes("models/tiny-f16/model.safetensors"))
            let loaded = try HTTPClient.request(port: server.port, method: "POST", path: "/v2/repository/models/tiny-f32/load")
            #expect(loaded.status == 200, "load: \(loaded.status) \(loaded.text)")
            let version = try HTTPClient.request(port: server.port, method: "GET", path: "/v1/model").json["version"] as? String
            #expect(version != nil && version != initial, "version \(initial ?? "-") → \(version ?? "-")")

            // The order in the log: worker 0 switches and its old process exits before worker 1's
            // new process is ready.
            // The last supervisor logs its takeover as the load call answers: wait for that line.
            _ = waitUntil(timeout: 10) {
                server.log.split(separator: "\n").contains {
                    $0.contains("worker ready on the reloaded model") && $0.contains("worker=1")
                }
            }
            let lines = server.log.split(separator: "\n").map(String.init)
            func first(_ message: String, worker: Int) -> Int? {
                lines.firstIndex { $0.contains(message) && $0.contains("worker=\(worker)") }
            }
            #expect(server.log.contains("replacing them one at a time"), "\(server.log.suffix(3000))")
            let ready0 = first("worker ready on the reloaded model", worker: 0)
            let exited0 = first("retired worker exited", worker: 0)
            let ready1 = first("worker ready on the reloaded model", worker: 1)
            #expect(ready0 != nil && exited0 != nil && ready1 != nil, "\(server.log.suffix(3000))")
            if let ready0, let exited0, let ready1 {
                #expect(ready0 < exited0 && exited0 < ready1, "order \(ready0), \(exited0), \(ready1): \(server.log.suffix(3000))")
            }
            let answeredAfter = load.answered
            #expect(waitUntil(timeout: 10) { load.answered >= answeredAfter + 8 }, "no answers after the reload")
            let (answers, failures) = load.finish()
            #expect(failures.isEmpty, "\(failures.count) of \(answers) requests failed: \(failures.prefix(5))")
        }

        /// A one-at-a-time reload whose second worker cannot load (the test hook) stops part-way:
        /// 500 naming the worker, the version reported empty (two versions serve), every request
        /// still answered; the next load call replaces every worker and reports the new version.
        @Test func aOneAtATimeReloadThatStopsPartWayIsFinishedByTheNextLoad() throws {
            let directory = try copiedModel("part-way")
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let refuse = directory + "/refuse-load"
            let server = try ServerProcess([], environment: ["FUSION_ENABLE_TEST_HOOKS": "1",
                                                             "FUSION_TEST_RELOAD_FREE_WORKERS": "1",
                                                             "FUSION_TEST_WORKER_FAIL_LOAD_UNLESS_FIRST": refuse],
                                           workers: 2, model: directory)
            defer { server.stop() }
            func version() throws -> String? {
                try HTTPClient.request(port: server.port, method: "GET", path: "/v1/model").json["version"] as? String
            }
            let initial = try version()
            try replace(directory + "/model.safetensors", with: Paths.bytes("models/tiny-f16/model.safetensors"))
            guard FileManager.default.createFile(atPath: refuse, contents: Data()) else { throw EndToEndError("cannot create \(refuse)") }
            let stopped = try HTTPClient.request(port: server.port, method: "POST", path: "/v2/repository/models/tiny-f32/load")
            #expect(stopped.status == 500, "load: \(stopped.status) \(stopped.text)")
            #expect((stopped.json["error"] as? String ?? "").contains("stopped at worker 1 of 2"), "\(stopped.text)")
            #expect(try version() == "", "the version must not name either model while both serve")
            #expect(server.log.contains("model reload stopped part-way"), "\(server.log.suffix(3000))")
            for _ in 0..<4 {
                let answer = try HTTPClient.request(port: server.port, method: "POST", path: "/infer",
                                                    body: HTTPClient.inferJSON(image: picture, text: "two versions"),
                                                    contentType: "application/json")
                #expect(answer.status == 200, "\(answer.status) \(answer.text)")
            }

            try FileManager.default.removeItem(atPath: refuse)
            let finished = try HTTPClient.request(port: server.port, method: "POST", path: "/v2/repository/models/tiny-f32/load")
            #expect(finished.status == 200, "load: \(finished.status) \(finished.text)")
            let now = try version()
            #expect(now != nil && now != "" && now != initial, "version \(initial ?? "-") → \(now ?? "-")")
        }

        /// No room for even one more worker: the load call answers 503 saying so, and the old
        /// model keeps serving.
        @Test func aReloadWithNoRoomForOneWorkerIsRefused() throws {
            let directory = try copiedModel("no-room")
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let server = try ServerProcess([], environment: ["FUSION_ENABLE_TEST_HOOKS": "1", "FUSION_TEST_RELOAD_FREE_WORKERS": "0"],
                                           workers: 1, model: directory)
            defer { server.stop() }
            let initial = try HTTPClient.request(port: server.port, method: "GET", path: "/v1/model").json["version"] as? String
            try replace(directory + "/model.safetensors", with: Paths.bytes("models/tiny-f16/model.safetensors"))
            let refused = try HTTPClient.request(port: server.port, method: "POST", path: "/v2/repository/models/tiny-f32/load")
            #expect(refused.status == 503, "load: \(refused.status) \(refused.text)")
            #expect((refused.json["error"] as? String ?? "").contains("not enough memory to start even one new worker"), "\(refused.text)")
            #expect(try HTTPClient.request(port: server.port, method: "GET", path: "/v1/model").json["version"] as? String == initial)
            let answer = try HTTPClient.request(port: server.port, method: "POST", path: "/infer",
                                                body: HTTPClient.inferJSON(image: picture, text: "still serving"),
                                                contentType: "application/json")
            #expect(answer.status == 200, "\(answer.status) \(answer.text)")
        }

        /// Triton's own Python client (tritonclient[http], from tools/ci/test-venv.sh) drives the
        /// repository routes with a bearer token: index, load after a weight change, a broken
        /// load (its 400 reason reaches the client), an unknown name.
        @Test func tritonClientLoadsAndListsTheModel() throws {
            let venv = try runTool("/bin/bash", [Paths.root.appendingPathComponent("tools/ci/test-venv.sh").path], timeout: 600)
            #expect(venv.status == 0, "test-venv.sh: \(venv.err)")
            let python = venv.out.trimmingCharacters(in: .whitespacesAndNewlines)
            let directory = FileManager.default.temporaryDirectory
                .appendingPathComponent("fusion-reload-triton-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: directory) }
            for file in ["config.json", "model.safetensors", "vocab.txt"] {
                try FileManager.default.copyItem(atPath: Paths.fixture("models/tiny-f32/\(file)"), toPath: directory + "/" + file)
            }
            try "reload-token\n".write(toFile: directory + "/tokens", atomically: true, encoding: .utf8)
            let server = try ServerProcess(["--auth-token-file", directory + "/tokens"], workers: 1, model: directory)
            defer { server.stop() }
            let script = """
            import os, shutil, sys
            import tritonclient.http as http
            from tritonclient.utils import InferenceServerException
            port, directory, other = sys.argv[1], sys.argv[2], sys.argv[3]
            client = http.InferenceServerClient("127.0.0.1:" + port)
            auth = {"Authorization": "Bearer reload-token"}
            def status_of(call):
                try:
                    call()
                    return "200"
                except InferenceServerException as error:
                    return str(error.status())
            print("unauthorized", status_of(lambda: client.load_model("tiny-f32")))
            before = client.get_model_repository_index(headers=auth)
            print("before", before[0]["name"], before[0]["state"], before[0]["version"])
            shutil.copy(other, directory + "/model.safetensors.new")
            os.rename(directory + "/model.safetensors.new", directory + "/model.safetensors")
            client.load_model("tiny-f32", headers=auth)
            print("after", client.get_model_repository_index(headers=auth)[0]["version"])
            with open(directory + "/model.safetensors.new", "wb") as broken:
                broken.write(b"\\x10" + bytes(7) + b"{}")
            os.rename(directory + "/model.safetensors.new", directory + "/model.safetensors")
            try:
                client.load_model("tiny-f32", headers=auth)
                print("broken 200")
            except InferenceServerException as error:
                print("broken", error.status(), error.message())
            print("unknown", status_of(lambda: client.load_model("other", headers=auth)))
            """
            let result = try runTool(python, ["-c", script, "\(server.port)", directory,
                                              Paths.fixture("models/tiny-f16/model.safetensors")], timeout: 60)
            #expect(result.status == 0, "python: \(result.err)")
            let lines = result.out.split(separator: "\n").map(String.init)
            #expect(lines.first == "unauthorized 401", "\(lines)")
            let before = lines.first { $0.hasPrefix("before ") }?.split(separator: " ").map(String.init) ?? []
            #expect(before.count == 4 && before[1] == "tiny-f32" && before[2] == "READY", "\(lines)")
            let after = lines.first { $0.hasPrefix("after ") }?.split(separator: " ").map(String.init) ?? []
            #expect(after.count == 2 && before.count == 4 && after[1] != before[3], "the version did not change: \(lines)")
            let broken = lines.first { $0.hasPrefix("broken ") } ?? ""
            #expect(broken.hasPrefix("broken 400 ") && broken.contains(directory + "/model.safetensors"), "\(lines)")
            #expect(lines.contains("unknown 404"), "\(lines)")
        }
    }
}
