import Foundation
import HTTP
import JSON
import Logging
import Model
import Locking
import TLS

#if canImport(Glibc)
import Glibc
#endif

/// The model being served: its configuration, directory, version and when it started serving.
public struct ServingModel: Sendable, Equatable {
    public var config: ModelConfig
    public var directory: String
    /// `ModelVersion.compute`: the first 12 hex digits of the SHA-256 over the weight files
    /// (in `config.json`'s order) followed by `config.json`; empty when unknown.
    public var version: String
    /// When this version started serving (the server's start, or the reload's switch).
    public var loadedAt: Date

    /// A served model from its parts.
    public init(config: ModelConfig, directory: String, version: String, loadedAt: Date) {
        self.config = config
        self.directory = directory
        self.version = version
        self.loadedAt = loadedAt
    }

    /// `loaded_at` as RFC 3339 UTC with milliseconds, e.g. `2026-12-07T08:01:02.345Z`.
    public var loadedAtText: String {
        let millis = Int64((loadedAt.timeIntervalSince1970 * 1000).rounded(.down))
        var seconds = time_t(millis / 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1,
                      Int(parts.tm_mday), Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec), Int(millis % 1000))
    }
}

/// The version of a model directory's content.
public enum ModelVersion {
    /// Hex digits kept of the SHA-256.
    public static let hexDigits = 12
    /// Bytes read at a time while hashing.
    static let chunkBytes = 1 << 20

    /// SHA-256 over the bytes of every weight file `config.weights` names, in that order,
    /// followed by the bytes of `config.json`, as lower-case hex cut to `hexDigits`: for the
    /// usual one-file model, `cat model.safetensors config.json | sha256sum | cut -c1-12`.
    public static func compute(directory: String, config: ModelConfig) throws(ModelReloadError) -> String {
        let files = config.weights.map { directory + "/" + $0.file } + [directory + "/config.json"]
        do {
            let hasher = try SHA256Hasher()
            for path in files { try hash(path, into: hasher) }
            let digest = try hasher.finish()
            return String(digest.map { String(format: "%02x", $0) }.joined().prefix(hexDigits))
        } catch let error as ModelReloadError {
            throw error
        } catch {
            throw .unreadable(path: directory, reason: "\(error)")
        }
    }

    private static func hash(_ path: String, into hasher: SHA256Hasher) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ModelReloadError.unreadable(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: chunkBytes)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw ModelReloadError.unreadable(path: path, reason: String(cString: strerror(errno)))
            }
            if count == 0 { return }
            try buffer.withUnsafeBytes { try hasher.update(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
        }
    }

    /// SHA-256 of a whole small file (the vocabulary), nil if it does not exist.
    static func digest(ofFileAt path: String) throws(ModelReloadError) -> [UInt8]? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        do {
            let hasher = try SHA256Hasher()
            try hash(path, into: hasher)
            return try hasher.finish()
        } catch let error as ModelReloadError {
            throw error
        } catch {
            throw .unreadable(path: path, reason: "\(error)")
        }
    }
}

/// Why a model reload did not happen; the serving model is unchanged in every case.
public enum ModelReloadError: Error, CustomStringConvertible, Equatable {
    /// The directory does not hold a valid model (the description names the file).
    case invalidModel(String, file: String?)
    /// A file could not be read while hashing.
    case unreadable(path: String, reason: String)
    /// The new `config.json` changes something the server itself uses (the names, labels,
    /// input sizes, preprocessing, tokenizer): those are fixed until a restart.
    case interfaceChanged(path: String, field: String)
    /// `vocab.txt` changed: the tokenizer is built once, at start.
    case vocabularyChanged(path: String)
    /// A new worker could not load the model (`modelFault`) or could not be started, or
    /// (`memory`) a second set of workers would not fit in the free memory.
    case workers(String, modelFault: Bool, memory: Bool)
    /// A one-at-a-time reload stopped part-way: some workers serve the new files, the others
    /// the previous ones (`WorkerPoolError.partiallyReloaded`).
    case partial(String)
    /// Another reload is running (reloads are serialized).
    case inProgress
    /// The server is draining or stopping.
    case stopping

    public var description: String {
        switch self {
        case let .invalidModel(reason, _): return reason
        case let .unreadable(path, reason): return "\(path): cannot read: \(reason)"
        case let .interfaceChanged(path, field):
            return "\(path): \"\(field)\" differs from the serving model's; it is fixed while the server runs (restart the server to change it)"
        case let .vocabularyChanged(path):
            return "\(path) differs from the one loaded at start; the tokenizer is fixed while the server runs (restart the server to change it)"
        case let .workers(reason, _, _), let .partial(reason): return reason
        case .inProgress: return "a model reload is already in progress"
        case .stopping: return "the server is shutting down"
        }
    }

    /// The file at fault, when one is known.
    public var file: String? {
        switch self {
        case let .invalidModel(_, file): return file
        case let .unreadable(path, _), let .interfaceChanged(path, _), let .vocabularyChanged(path): return path
        default: return nil
        }
    }

    /// The HTTP status of the load route for this failure: 400 for a model that cannot be
    /// served, 409 while another reload runs, 503 while stopping or short of memory, 500 for
    /// the rest.
    public var status: HTTPStatus {
        switch self {
        case .invalidModel, .interfaceChanged, .vocabularyChanged, .unreadable: return .badRequest
        case .workers(_, let modelFault, let memory):
            return modelFault ? .badRequest : memory ? .serviceUnavailable : .internalServerError
        case .partial: return .internalServerError
        case .inProgress: return HTTPStatus(code: 409)
        case .stopping: return .serviceUnavailable
        }
    }

    /// Wraps a `ModelError` (every case names its file).
    static func from(_ error: ModelError) -> ModelReloadError {
        .invalidModel(error.description, file: error.file)
    }

    /// Compares what the server built from the serving configuration (responses, preprocessing,
    /// wire limits) with a new one; nil when a reload may switch to it, else the first field
    /// that differs.
    public static func interfaceChange(from old: ModelConfig, to new: ModelConfig) -> String? {
        if old.name != new.name { return "name" }
        if old.labels != new.labels { return "labels" }
        if old.imageEncoder.imageSize != new.imageEncoder.imageSize { return "image_encoder.image_size" }
        if old.textEncoder.vocabSize != new.textEncoder.vocabSize { return "text_encoder.vocab_size" }
        if old.fusion.hiddenSize != new.fusion.hiddenSize { return "fusion.hidden_size" }
        if old.preprocess != new.preprocess { return "preprocess" }
        return nil
    }
}

extension ModelError {
    /// The file a model error is about, for the log.
    var file: String? {
        switch self {
        case let .io(path, _), let .invalidConfig(path, _): return path
        case let .wrongShape(_, file, _, _): return file
        case let .duplicateTensor(_, first, _): return first
        case let .missingTensor(_, files): return files.first
        case .invalidInput, .unsupportedPrecision, .unsupportedBackend: return nil
        case let .weights(error):
            switch error {
            case let .io(path, _), let .truncated(path, _, _), let .headerTooLarge(path, _, _),
                 let .malformedJSON(path, _, _), let .invalidHeader(path, _), let .invalidTensor(path, _, _),
                 let .invalidLayout(path, _), let .missingTensor(path, _), let .unsupportedDType(path, _, _):
                return path
            }
        }
    }
}

/// Re-reads the model directory and switches the workers to it (SIGHUP and the repository
/// routes). One reload at a time: a second one while one runs is refused (`inProgress`: the
/// load route answers 409, a SIGHUP's model part is skipped and logged).
public final class ModelReloader: Sendable {
    private struct State {
        var current: ServingModel
        var reloading = false
        /// Why the last reload failed; nil after a success.
        var lastFailure: String?
    }

    private let state: Locked<State>
    private let vocabulary: [UInt8]?
    private let replaceWorkers: @Sendable () throws -> Void
    private let onResult: @Sendable (_ success: Bool) -> Void
    private let logger: Logger

    /// A reloader for the model `initial` serves; `replaceWorkers` swaps the worker processes
    /// (`WorkerPool.replaceWorkers`), `onResult` counts outcomes.
    public init(initial: ServingModel, logger: Logger,
                replaceWorkers: @escaping @Sendable () throws -> Void,
                onResult: @escaping @Sendable (_ success: Bool) -> Void = { _ in }) throws(ModelReloadError) {
        state = Locked(State(current: initial))
        vocabulary = try ModelVersion.digest(ofFileAt: initial.directory + "/vocab.txt")
        self.replaceWorkers = replaceWorkers
        self.onResult = onResult
        self.logger = logger
    }

    /// The model being served.
    public var current: ServingModel { state.withLock { $0.current } }

    /// Whether a reload is running.
    public var isReloading: Bool { state.withLock { $0.reloading } }

    /// Why the last reload failed; nil if it succeeded or none ran.
    public var lastFailure: String? { state.withLock { $0.lastFailure } }

    /// The outcome of a successful reload.
    public struct Outcome: Sendable, Equatable {
        public var model: ServingModel
        /// False when the directory held the serving version already: nothing was restarted.
        public var changed: Bool
    }

    /// Reloads on the calling thread (which it blocks until the new workers serve, or the
    /// reload failed). `trigger` names the cause in the log.
    public func reload(trigger: String) throws(ModelReloadError) -> Outcome {
        let serving: ServingModel = try state.withLock { (state) throws(ModelReloadError) -> ServingModel in
            guard !state.reloading else { throw ModelReloadError.inProgress }
            state.reloading = true
            return state.current
        }
        let started = ContinuousClock.now
        logger.notice("model reload started", metadata: ["trigger": "\(trigger)", "model_dir": "\(serving.directory)"])
        do {
            let outcome = try perform(serving: serving)
            state.withLock {
                $0.current = outcome.model
                $0.reloading = false
                $0.lastFailure = nil
            }
            onResult(true)
            logger.notice(outcome.changed ? "model reloaded" : "model unchanged; workers kept", metadata: [
                "trigger": "\(trigger)", "version": "\(outcome.model.version)", "previous_version": "\(serving.version)",
                "ms": "\((ContinuousClock.now - started).unsignedNanoseconds / 1_000_000)",
            ])
            return outcome
        } catch {
            let mixed: Bool
            if case .partial = error { mixed = true } else { mixed = false }
            state.withLock {
                $0.reloading = false
                $0.lastFailure = error.description
                // Two versions serve now: no version describes the workers, and the next reload
                // must replace every worker even if the files went back to the old version.
                if mixed { $0.current.version = "" }
            }
            onResult(false)
            if mixed {
                logger.error("model reload stopped part-way; the workers serve two versions until the next reload",
                             metadata: ["trigger": "\(trigger)", "error": "\(error.description)",
                                        "previous_version": "\(serving.version)"])
                throw error
            }
            var metadata: Logger.Metadata = ["trigger": "\(trigger)", "error": "\(error.description)",
                                             "version": "\(serving.version)"]
            if let file = error.file { metadata["file"] = "\(file)" }
            logger.error("model reload failed; the previous model stays in service", metadata: metadata)
            throw error
        }
    }

    /// Validates the directory in this process, hashes it, and switches the workers.
    private func perform(serving: ServingModel) throws(ModelReloadError) -> Outcome {
        let directory = serving.directory
        let config: ModelConfig
        do {
            config = try FusionModel.check(directory: directory)
        } catch {
            throw .from(error)
        }
        if let field = ModelReloadError.interfaceChange(from: serving.config, to: config) {
            throw .interfaceChanged(path: directory + "/config.json", field: field)
        }
        let vocabPath = directory + "/vocab.txt"
        guard try ModelVersion.digest(ofFileAt: vocabPath) == vocabulary else { throw .vocabularyChanged(path: vocabPath) }
        let version = try ModelVersion.compute(directory: directory, config: config)
        guard version != serving.version else { return Outcome(model: serving, changed: false) }
        do {
            try replaceWorkers()
        } catch let error as WorkerPoolError {
            switch error {
            case .stopping: throw .stopping
            case .notEnoughMemory: throw .workers(error.description, modelFault: false, memory: true)
            case .partiallyReloaded: throw .partial(error.description)
            case .reloadFailed(_, _, let modelFault): throw .workers(error.description, modelFault: modelFault, memory: false)
            default: throw .workers(error.description, modelFault: false, memory: false)
            }
        } catch {
            throw .workers("\(error)", modelFault: false, memory: false)
        }
        return Outcome(model: ServingModel(config: config, directory: directory, version: version, loadedAt: Date()),
                       changed: true)
    }

    /// Runs `reload` on a thread of its own (the signal handler and the event loop must not
    /// block); `completion` gets the outcome there.
    /// While a reload runs, a new one is refused at once, on the calling thread, so a flood
    /// of SIGHUPs or load calls costs no thread each.
    public func reloadInBackground(trigger: String,
                                   completion: @escaping @Sendable (Result<Outcome, ModelReloadError>) -> Void = { _ in }) {
        @Sendable func skipped() {
            logger.notice("model reload already in progress; this one is skipped", metadata: ["trigger": "\(trigger)"])
            completion(.failure(.inProgress))
        }
        guard !isReloading else { return skipped() }
        let thread = Thread { [self] in
            do throws(ModelReloadError) {
                completion(.success(try reload(trigger: trigger)))
            } catch {
                if error == .inProgress { return skipped() }
                completion(.failure(error))
            }
        }
        thread.name = "model-reload"
        thread.start()
    }
}

// MARK: Routes

/// Triton's model-repository extension, for the one model this server serves.
enum ModelRepositoryRoutes {
    /// The metrics label of a repository route, nil for any other path.
    static func route(for path: String) -> String? {
        if path == "/v2/repository/index" { return path }
        if loadTarget(path) != nil { return "/v2/repository/models/{name}/load" }
        return nil
    }

    /// The model name of `/v2/repository/models/{name}/load`.
    static func loadTarget(_ path: String) -> String? {
        let prefix = "/v2/repository/models/", suffix = "/load"
        guard path.hasPrefix(prefix), path.hasSuffix(suffix), path.count > prefix.count + suffix.count else { return nil }
        let name = path.dropFirst(prefix.count).dropLast(suffix.count)
        return name.contains("/") ? nil : String(name)
    }

    /// `{"error": "…"}`, the repository extension's error shape.
    static func error(_ status: HTTPStatus, _ message: String) -> HTTPResponse {
        .json(status, JSONText.object([("error", JSONText.string(message))]))
    }

    /// Checks a load request's optional body: nothing, or a JSON object whose `parameters`
    /// (Triton's config and file overrides) are absent or empty. Returns the complaint.
    static func checkLoadBody(_ body: [UInt8]) -> String? {
        guard body.contains(where: { ![0x20, 0x09, 0x0A, 0x0D].contains($0) }) else { return nil }
        let value: JSONValue
        do {
            value = try JSONParser.parse(body)
        } catch {
            return "the body is not valid JSON: \(error)"
        }
        guard case .object(let members) = value else { return "the body must be a JSON object, not \(value.typeName)" }
        for (key, member) in members {
            guard key == "parameters" else { return "unknown field \"\(key)\"" }
            guard case .object(let parameters) = member else { return "\"parameters\" must be an object" }
            if let first = parameters.first {
                return "load parameter \"\(first.0)\" is not supported: the model is re-read from its directory"
            }
        }
        return nil
    }
}

extension InferenceService {
    /// `POST /v2/repository/index` and `POST /v2/repository/models/{name}/load`.
    func repository(_ request: HTTPRequest, path: String, route: String, started: ContinuousClock.Instant,
                    send: @escaping @Sendable (HTTPResponse) -> Void) {
        let serving = servingModel
        guard let reloader else {
            finish(request, route: route, started: started, send: send,
                   .success(ModelRepositoryRoutes.error(.notImplemented, "model reload is not available in this server")))
            return
        }
        if path == "/v2/repository/index" {
            // A listing, as in Triton: it never reloads.
            let state = reloader.isReloading ? "LOADING" : (dispatcher.snapshot.readyWorkers > 0 ? "READY" : "UNAVAILABLE")
            var members = [("name", JSONText.string(serving.config.name)), ("version", JSONText.string(serving.version)),
                           ("state", JSONText.string(state)), ("loaded_at", JSONText.string(serving.loadedAtText))]
            if let failure = reloader.lastFailure { members.append(("reason", JSONText.string("last reload failed: \(failure)"))) }
            finish(request, route: route, started: started, send: send,
                   .success(.json(.ok, "[" + JSONText.object(members) + "]")))
            return
        }
        let name = ModelRepositoryRoutes.loadTarget(path) ?? ""
        guard name == serving.config.name else {
            finish(request, route: route, started: started, send: send, .success(ModelRepositoryRoutes.error(
                .notFound, "unknown model \"\(name)\"; this server serves \"\(serving.config.name)\"")))
            return
        }
        if let complaint = ModelRepositoryRoutes.checkLoadBody(request.body) {
            finish(request, route: route, started: started, send: send,
                   .success(ModelRepositoryRoutes.error(.badRequest, complaint)))
            return
        }
        if isDraining {
            finish(request, route: route, started: started, send: send,
                   .success(ModelRepositoryRoutes.error(.serviceUnavailable, ModelReloadError.stopping.description)))
            return
        }
        // The reload blocks until the new workers serve: off the event loop.
        reloader.reloadInBackground(trigger: "POST \(route)") { [self] result in
            let response: HTTPResponse
            switch result {
            case .success(let outcome):
                response = .json(.ok, JSONText.object([
                    ("name", JSONText.string(outcome.model.config.name)),
                    ("version", JSONText.string(outcome.model.version)),
                    ("loaded_at", JSONText.string(outcome.model.loadedAtText)),
                    ("changed", outcome.changed ? "true" : "false"),
                ]))
            case .failure(let error):
                response = ModelRepositoryRoutes.error(error.status, error.description)
            }
            finish(request, route: route, started: started, send: send, .success(response))
        }
    }
}
