import Foundation
import HTTP
import JSON
import Logging
import Model
import Locking
import Testing
@testable import Serving

/// A copy of a fixture model directory that a test may change.
private func copyOfModel(_ name: String) throws -> String {
    let source = Fixtures.root.appendingPathComponent("Tests/Fixtures/models/\(name)").path
    let target = FileManager.default.temporaryDirectory.appendingPathComponent("reload-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
    for file in try FileManager.default.contentsOfDirectory(atPath: source) {
        try FileManager.default.copyItem(atPath: source + "/" + file, toPath: target + "/" + file)
    }
    return target
}

private func fixture(_ relative: String) throws -> Data {
    try #require(FileManager.default.contents(atPath: Fixtures.root.appendingPathComponent("Tests/Fixtures/\(relative)").path))
}

/// `sha256sum` of `bytes`, by the system tool (an implementation independent of ours).
private func sha256sum(_ bytes: Data) throws -> String {
    let file = FileManager.default.temporaryDirectory.appendingPathComponent("concat-\(UUID().uuidString)").path
    try bytes.write(to: URL(fileURLWithPath: file))
    defer { try? FileManager.default.removeItem(atPath: file) }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
    process.arguments = [file]
    let out = Pipe()
    process.standardOutput = out
    try process.run()
    let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    return String(text.prefix(64))
}

/// Counts the worker replacements a reloader asks for; can fail or block them.
private final class FakeWorkers: Sendable {
    private struct State {
        var replacements = 0
        var results: [Bool] = []
        var failure: WorkerPoolError?
        var blocked = false
    }
    private let state = Locked(State())

    var replacements: Int { state.withLock { $0.replacements } }
    var results: [Bool] { state.withLock { $0.results } }
    func fail(with error: WorkerPoolError?) { state.withLock { $0.failure = error } }
    func block(_ on: Bool) { state.withLock { $0.blocked = on } }

    func replace() throws {
        state.withLock { $0.replacements += 1 }
        while state.withLock({ $0.blocked }) { usleep(1_000) }
        if let failure = state.withLock({ $0.failure }) { throw failure }
    }

    func reloader(directory: String) throws -> ModelReloader {
        let config = try ModelConfig.load(path: directory + "/config.json")
        let version = try ModelVersion.compute(directory: directory, config: config)
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        return try ModelReloader(initial: ServingModel(config: config, directory: directory, version: version,
                                                       loadedAt: Date(timeIntervalSince1970: 0)),
                                 logger: logger, replaceWorkers: { try self.replace() },
                                 onResult: { success in self.state.withLock { $0.results.append(success) } })
    }
}

@Suite struct ModelReloadTests {
    @Test func versionIsTheDocumentedHashOfTheWeightsThenTheConfig() throws {
        for name in ["tiny-f32", "tiny-bf16-split"] {
            let directory = Fixtures.root.appendingPathComponent("Tests/Fixtures/models/\(name)").path
            let config = try ModelConfig.load(path: directory + "/config.json")
            // The weight files in config.json's order, then config.json (`cat … | sha256sum`).
            var bytes = Data()
            for file in config.weights.map(\.file) + ["config.json"] { bytes += try fixture("models/\(name)/\(file)") }
            let expected = try sha256sum(bytes)
            let version = try ModelVersion.compute(directory: directory, config: config)
            #expect(version.count == ModelVersion.hexDigits)
            #expect(expected.hasPrefix(version), "\(name): \(version) vs \(expected)")
        }
    }

    @Test func versionFollowsTheContentNotTheFiles() throws {
        let directory = try copyOfModel("tiny-f32")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let config = try ModelConfig.load(path: directory + "/config.json")
        let before = try ModelVersion.compute(directory: directory, config: config)
        // Rewritten with the same bytes: same version.
        try fixture("models/tiny-f32/model.safetensors").write(to: URL(fileURLWithPath: directory + "/model.safetensors"))
        #expect(try ModelVersion.compute(directory: directory, config: config) == before)
        // Other weights: another version. A changed config.json alone: another one too.
        try fixture("models/tiny-f16/model.safetensors").write(to: URL(fileURLWithPath: directory + "/model.safetensors"))
        let other = try ModelVersion.compute(directory: directory, config: config)
        #expect(other != before)
        try (fixture("models/tiny-f32/config.json") + Data(" ".utf8)).write(to: URL(fileURLWithPath: directory + "/config.json"))
        #expect(try ModelVersion.compute(directory: directory, config: config) != other)
    }

    @Test func interfaceChangeNamesTheFirstFieldTheServerDependsOn() throws {
        let config = try ModelConfig.load(path: Fixtures.tinyModel + "/config.json")
        #expect(ModelReloadError.interfaceChange(from: config, to: config) == nil)
        var deeper = config
        deeper.imageEncoder.numLayers += 1
        deeper.textEncoder.intermediateSize *= 2
        #expect(ModelReloadError.interfaceChange(from: config, to: deeper) == nil, "architecture may change")
        var changed = config
        changed.labels[0] = "lion"
        #expect(ModelReloadError.interfaceChange(from: config, to: changed) == "labels")
        changed = config
        changed.imageEncoder.imageSize = 64
        #expect(ModelReloadError.interfaceChange(from: config, to: changed) == "image_encoder.image_size")
        changed = config
        changed.preprocess.maxTextLength = 32
        #expect(ModelReloadError.interfaceChange(from: config, to: changed) == "preprocess")
        changed = config
        changed.name = "other"
        #expect(ModelReloadError.interfaceChange(from: config, to: changed) == "name")
    }

    @Test func unchangedDirectoryKeepsTheWorkersAndAChangedOneReplacesThem() throws {
        let directory = try copyOfModel("tiny-f32")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let workers = FakeWorkers()
        let reloader = try workers.reloader(directory: directory)
        let initial = reloader.current

        let same = try reloader.reload(trigger: "test")
        #expect(!same.changed && same.model == initial)
        #expect(workers.replacements == 0)

        try fixture("models/tiny-f16/model.safetensors").write(to: URL(fileURLWithPath: directory + "/model.safetensors"))
        let changed = try reloader.reload(trigger: "test")
        #expect(changed.changed)
        #expect(workers.replacements == 1)
        #expect(changed.model.version != initial.version)
        #expect(changed.model.loadedAt > initial.loadedAt)
        #expect(reloader.current == changed.model)
        #expect(reloader.lastFailure == nil)
        #expect(workers.results == [true, true])
    }

    @Test func brokenModelLeavesTheServingOneAndNamesTheFile() throws {
        let directory = try copyOfModel("tiny-f32")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let workers = FakeWorkers()
        let reloader = try workers.reloader(directory: directory)
        let initial = reloader.current
        let weights = directory + "/model.safetensors"
        let good = try fixture("models/tiny-f32/model.safetensors")

        try good.prefix(good.count / 2).write(to: URL(fileURLWithPath: weights))
        let truncated = #expect(throws: ModelReloadError.self) { try reloader.reload(trigger: "test") }
        #expect(truncated?.file == weights)
        #expect(truncated?.description.contains(weights) == true)
        #expect(truncated?.status == .badRequest)

        try good.write(to: URL(fileURLWithPath: weights))
        try Data("{\"name\": ".utf8).write(to: URL(fileURLWithPath: directory + "/config.json"))
        let badConfig = #expect(throws: ModelReloadError.self) { try reloader.reload(trigger: "test") }
        #expect(badConfig?.file == directory + "/config.json")

        let renamed = String(decoding: try fixture("models/tiny-f32/config.json"), as: UTF8.self)
            .replacingOccurrences(of: "\"dog\"", with: "\"wolf\"")
        try Data(renamed.utf8).write(to: URL(fileURLWithPath: directory + "/config.json"))
        let labels = #expect(throws: ModelReloadError.self) { try reloader.reload(trigger: "test") }
        #expect(labels == .interfaceChanged(path: directory + "/config.json", field: "labels"))
        #expect(labels?.status == .badRequest)

        try fixture("models/tiny-f32/config.json").write(to: URL(fileURLWithPath: directory + "/config.json"))
        try Data("[PAD]\n".utf8).write(to: URL(fileURLWithPath: directory + "/vocab.txt"))
        let vocabulary = #expect(throws: ModelReloadError.self) { try reloader.reload(trigger: "test") }
        #expect(vocabulary == .vocabularyChanged(path: directory + "/vocab.txt"))

        #expect(workers.replacements == 0, "nothing invalid reaches the workers")
        #expect(reloader.current == initial)
        #expect(reloader.lastFailure != nil)
        #expect(workers.results == [false, false, false, false])
    }

    @Test func workersThatCannotLoadTheModelFailTheReload() throws {
        let directory = try copyOfModel("tiny-f32")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let workers = FakeWorkers()
        let reloader = try workers.reloader(directory: directory)
        let initial = reloader.current
        try fixture("models/tiny-f16/model.safetensors").write(to: URL(fileURLWithPath: directory + "/model.safetensors"))

        workers.fail(with: .reloadFailed(worker: 1, reason: "the worker could not load the model: x", modelFault: true))
        let refused = #expect(throws: ModelReloadError.self) { try reloader.reload(trigger: "test") }
        #expect(refused?.status == .badRequest)
        #expect(refused?.description.contains("new worker 1") == true)
        workers.fail(with: .reloadFailed(worker: 0, reason: "spawn failed", modelFault: false))
        let broken = #expect(throws: ModelReloadError.self) { try reloader.reload(trigger: "test") }
        #expect(broken?.status == .internalServerError)
        workers.fail(with: .stopping)
        let stopping = #expect(throws: ModelReloadError.self) { try reloader.reload(trigger: "test") }
        #expect(stopping == .stopping)
        #expect(reloader.current == initial)

        workers.fail(with: nil)
        #expect(try reloader.reload(trigger: "test").changed)
    }

    @Test func aSecondReloadWhileOneRunsIsRefused() throws {
        let directory = try copyOfModel("tiny-f32")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let workers = FakeWorkers()
        let reloader = try workers.reloader(directory: directory)
        try fixture("models/tiny-f16/model.safetensors").write(to: URL(fileURLWithPath: directory + "/model.safetensors"))
        workers.block(true)
        let done = DispatchSemaphore(value: 0)
        let first = Locked<Result<ModelReloader.Outcome, ModelReloadError>?>(nil)
        reloader.reloadInBackground(trigger: "first") { result in
            first.withLock { $0 = result }
            done.signal()
        }
        let deadline = Date().addingTimeInterval(10)
        while workers.replacements == 0, Date() < deadline { usleep(1_000) }
        #expect(reloader.isReloading)
        let second = #expect(throws: ModelReloadError.self) { try reloader.reload(trigger: "second") }
        #expect(second == .inProgress)
        #expect(second?.status.code == 409)
        workers.block(false)
        #expect(done.wait(timeout: .now() + 10) == .success)
        #expect(first.withLock { (try? $0?.get())?.changed } == true)
        #expect(!reloader.isReloading)
        #expect(workers.replacements == 1)
    }

    @Test func repositoryRoutesAndLoadBodies() {
        #expect(ModelRepositoryRoutes.route(for: "/v2/repository/index") == "/v2/repository/index")
        #expect(ModelRepositoryRoutes.route(for: "/v2/repository/models/tiny-f32/load") == "/v2/repository/models/{name}/load")
        #expect(ModelRepositoryRoutes.loadTarget("/v2/repository/models/tiny-f32/load") == "tiny-f32")
        for path in ["/v2/repository/models//load", "/v2/repository/models/a/b/load", "/v2/repository/models/x/unload",
                     "/v2/repository", "/v2/repository/models/x"] {
            #expect(ModelRepositoryRoutes.route(for: path) == nil, "\(path)")
        }
        #expect(ModelRepositoryRoutes.checkLoadBody([]) == nil)
        #expect(ModelRepositoryRoutes.checkLoadBody(Array(" \n".utf8)) == nil)
        #expect(ModelRepositoryRoutes.checkLoadBody(Array("{}".utf8)) == nil)
        #expect(ModelRepositoryRoutes.checkLoadBody(Array(#"{"parameters":{}}"#.utf8)) == nil)
        #expect(ModelRepositoryRoutes.checkLoadBody(Array(#"{"parameters":{"config":"{}"}}"#.utf8))?.contains("\"config\"") == true)
        #expect(ModelRepositoryRoutes.checkLoadBody(Array(#"{"other":1}"#.utf8))?.contains("unknown field") == true)
        #expect(ModelRepositoryRoutes.checkLoadBody(Array("[1]".utf8)) != nil)
        #expect(ModelRepositoryRoutes.checkLoadBody(Array("{".utf8)) != nil)
    }

    @Test func loadedAtIsRFC3339UTCWithMilliseconds() throws {
        let config = try ModelConfig.load(path: Fixtures.tinyModel + "/config.json")
        let model = ServingModel(config: config, directory: "", version: "",
                                 loadedAt: Date(timeIntervalSince1970: 1_796_630_462.345))
        #expect(model.loadedAtText == "2026-12-07T08:01:02.345Z")
    }
}

/// The repository routes through `InferenceService.handle`, with a fake worker pool.
@Suite struct ModelRepositoryRouteTests {
    private struct Harness {
        let service: InferenceService
        let workers = FakeWorkers()
        let directory: String

        init(tokens: BearerTokenStore? = nil) throws {
            directory = try copyOfModel("tiny-f32")
            let reloader = try workers.reloader(directory: directory)
            let config = reloader.current.config
            let dispatcher = Dispatcher(configuration: .init(maxBatch: 8, maxDelay: .zero, maxQueue: 16,
                                                             policy: .leastLoaded, workerCount: 1))
            dispatcher.workerReady(0)
            var logger = Logger(label: "test")
            logger.logLevel = .critical
            service = InferenceService(
                model: config,
                settings: ServiceSettings(requestTimeout: .seconds(1), maxBatch: 8, maxDelayMilliseconds: 0,
                                          maxQueue: 16, maxBodyBytes: 1 << 20, router: .leastLoaded, workerCount: 1),
                preprocessing: try Preprocessing(config: config, vocabFile: directory + "/vocab.txt"),
                pool: BoundedThreadPool(name: "pre", threads: 1, queueCapacity: 4), dispatcher: dispatcher,
                metrics: ServiceMetrics(maxBatch: 8), logger: logger, workers: { [] }, tokens: tokens, reloader: reloader)
        }

        func send(_ method: String, _ target: String, body: String = "", token: String? = nil) -> HTTPResponse {
            var headers = HTTPHeaders()
            if let token { headers.add(name: "Authorization", value: "Bearer \(token)") }
            let done = DispatchSemaphore(value: 0)
            let reply = Locked<HTTPResponse?>(nil)
            service.handle(HTTPRequest(method: method, target: target, headers: headers, body: Array(body.utf8))) { response in
                reply.withLock { $0 = response }
                done.signal()
            }
            _ = done.wait(timeout: .now() + 10)
            return reply.withLock { $0 } ?? HTTPResponse(status: HTTPStatus(code: 599), body: "no response")
        }

        func json(_ response: HTTPResponse) -> JSONValue { (try? JSONParser.parse(response.body)) ?? .null }
    }

    @Test func loadSwitchesAndModelReportsTheVersion() throws {
        let harness = try Harness()
        defer { try? FileManager.default.removeItem(atPath: harness.directory) }
        let before = harness.json(harness.send("GET", "/v1/model"))
        guard case .string(let initial)? = before["version"], case .string(let loadedAt)? = before["loaded_at"] else {
            Issue.record("no version or loaded_at in /v1/model: \(before)")
            return
        }
        #expect(initial.count == 12 && loadedAt.hasSuffix("Z"))

        try fixture("models/tiny-f16/model.safetensors").write(to: URL(fileURLWithPath: harness.directory + "/model.safetensors"))
        let loaded = harness.send("POST", "/v2/repository/models/tiny-f32/load")
        #expect(loaded.status == .ok)
        let after = harness.json(harness.send("GET", "/v1/model"))
        #expect(after["version"] != before["version"])
        #expect(harness.json(loaded)["version"] == after["version"])
        #expect(harness.json(loaded)["changed"] == .bool(true))
        #expect(harness.workers.replacements == 1)

        let index = harness.send("POST", "/v2/repository/index", body: "{}")
        #expect(index.status == .ok)
        guard case .array(let models) = harness.json(index), let model = models.first else {
            Issue.record("index: \(String(decoding: index.body, as: UTF8.self))")
            return
        }
        #expect(models.count == 1)
        #expect(model["name"] == .string("tiny-f32") && model["state"] == .string("READY"))
        #expect(model["version"] == after["version"])
        #expect(harness.workers.replacements == 1, "the index does not reload")
    }

    @Test func refusalsUseTheRepositoryErrorShape() throws {
        let harness = try Harness()
        defer { try? FileManager.default.removeItem(atPath: harness.directory) }
        let unknown = harness.send("POST", "/v2/repository/models/other/load")
        #expect(unknown.status == .notFound)
        #expect(harness.json(unknown)["error"].map { if case .string = $0 { true } else { false } } == true)
        let parameters = harness.send("POST", "/v2/repository/models/tiny-f32/load", body: #"{"parameters":{"config":"{}"}}"#)
        #expect(parameters.status == .badRequest)
        #expect(harness.send("GET", "/v2/repository/index").status == .methodNotAllowed)

        let weights = harness.directory + "/model.safetensors"
        try Data("short".utf8).write(to: URL(fileURLWithPath: weights))
        let broken = harness.send("POST", "/v2/repository/models/tiny-f32/load")
        #expect(broken.status == .badRequest)
        guard case .string(let reason)? = harness.json(broken)["error"] else {
            Issue.record("400 body: \(String(decoding: broken.body, as: UTF8.self))")
            return
        }
        #expect(reason.contains(weights))
        #expect(harness.workers.replacements == 0)
    }

    @Test func repositoryRoutesNeedTheTokenWhenAuthIsOn() throws {
        let tokenFile = FileManager.default.temporaryDirectory.appendingPathComponent("tokens-\(UUID().uuidString)").path
        try "s3cret\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: tokenFile) }
        let harness = try Harness(tokens: try BearerTokenStore(path: tokenFile))
        defer { try? FileManager.default.removeItem(atPath: harness.directory) }
        #expect(harness.send("POST", "/v2/repository/index").status.code == 401)
        #expect(harness.send("POST", "/v2/repository/models/tiny-f32/load").status.code == 401)
        #expect(harness.send("POST", "/v2/repository/index", token: "wrong").status.code == 401)
        #expect(harness.send("POST", "/v2/repository/index", token: "s3cret").status == .ok)
        #expect(harness.send("POST", "/v2/repository/models/tiny-f32/load", token: "s3cret").status == .ok)
    }
}
