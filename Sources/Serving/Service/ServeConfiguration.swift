import Foundation
import Model
import POSIX

/// A `serve` setting that was refused, naming the flag and its environment variable.
public struct ConfigurationError: Error, Equatable, CustomStringConvertible {
    public let flag: String
    public let message: String

    public var description: String { "\(flag): \(message)" }
}

/// How request log lines are written.
public enum LogFormat: String, Sendable, CaseIterable {
    case plain, json
}

/// Every `serve` setting, resolved from flags, then environment variables, then defaults,
/// and validated — an invalid value stops the server at start-up with a message naming the flag.
public struct ServeConfiguration: Sendable, Equatable {
    public var host = "127.0.0.1"
    public var port: UInt16 = 8080
    public var modelDirectory = "models/default"
    /// The workers' arithmetic (`fp32`, `int8`, `bf16`).
    public var precision = Precision.fp32
    /// The fp32 products' library; nil: the precision's default (`Backend.default(for:)`).
    public var backend: Backend?
    /// `backend`, or the precision's default.
    public var resolvedBackend: Backend { backend ?? .default(for: precision) }
    /// nil: the default (every allowed CPU but one, at least one).
    public var workers: Int?
    /// One set per worker; nil: one allowed CPU per worker.
    public var cpuSets: [CPUSet]?
    public var maxBatch = 8
    /// How long requests that arrived while every worker was busy may wait, once a worker is
    /// free, for their batch to fill. 0: they go as soon as a worker is free. A request that
    /// finds a worker idle never waits.
    public var maxDelayMilliseconds = 0
    public var maxQueue = 256
    /// Items one Open Inference Protocol request (`POST /v2/models/{name}/infer`) may hold;
    /// each joins the dynamic batcher on its own.
    public var maxRequestItems = 64
    public var router = RoutingPolicy.leastLoaded
    public var requestTimeoutMilliseconds = 30_000
    public var drainTimeoutSeconds = 30
    /// A worker that has not answered a batch this long after it could start it is taken for
    /// hung: killed (SIGKILL), restarted, and the batch retried once on another worker.
    public var workerTimeoutSeconds = 60
    /// The least time a worker must hold a batch to count as stalled (beyond that, 10× its
    /// recent p99 batch time): `/healthz` then stops counting it as healthy.
    public var workerStallMilliseconds = 5_000
    public var maxBodyBytes = 20 * 1024 * 1024
    /// Images declaring more pixels are refused (422) before decoding.
    public var maxImagePixels = ImageAdmission.defaultMaxPixels
    /// Images declaring more pixels decode one at a time, at low priority, in their own lane.
    public var largeImagePixels = ImageAdmission.defaultLargePixels
    public var maxConnections = 1024
    /// Open connections per client address at most; nil: no per-address limit (behind a
    /// proxy every client has the proxy's address, so it is off by default).
    public var maxConnectionsPerIP: Int?
    /// Request body bytes held at once across all connections; nil: `defaultMaxBufferedBytes`.
    public var maxBufferedBytes: Int?
    /// The slowest accepted body upload, bytes per second (see `HTTPServer.Configuration`).
    public var minBodyRate = 16 * 1024
    /// HTTPS: PEM certificate (chain) and key; both or neither.
    public var tlsCertificate: String?
    public var tlsKey: String?
    /// Mutual TLS: client certificates are required and must chain to this CA.
    public var tlsClientCA: String?
    /// Bearer tokens for every route but `/livez`, `/healthz`, `/v2/health/*` (and `/metrics` unless `authMetrics`).
    public var authTokenFile: String?
    public var authMetrics = false
    /// How long a client may take to send its headers, and then its body (slow clients are cut off).
    public var clientTimeoutMilliseconds = 10_000
    public var logFormat = LogFormat.plain
    /// swift-log level name; `debug` also logs successful health/metrics probes.
    public var logLevel = "info"

    /// The defaults.
    public init() {}

    /// One setting: its flag, its environment variable, its help and how to apply a text value.
    /// The `serve` command takes its options' help from here (`help(flag:)`).
    struct Setting: Sendable {
        /// How `--help` states the default.
        enum Default: Sendable {
            /// The value of a default `ServeConfiguration`, as text (true by construction).
            case value(@Sendable (ServeConfiguration) -> String)
            /// In words: a default worked out at start-up.
            case described(String)
            /// None to state (an optional setting, or a switch).
            case none
        }

        let flag: String
        let variable: String
        /// What it does: `--help` adds the variable, the default and the note.
        let summary: String
        let defaultValue: Default
        let note: String?
        /// A flag without a value (`--auth-metrics`): the variable is set to `true`.
        let isSwitch: Bool
        let apply: @Sendable (inout ServeConfiguration, String) throws(ConfigurationError) -> Void

        init(flag: String, variable: String, help summary: String, default defaultValue: Default = .none,
             note: String? = nil, isSwitch: Bool = false,
             apply: @escaping @Sendable (inout ServeConfiguration, String) throws(ConfigurationError) -> Void) {
            self.flag = flag
            self.variable = variable
            self.summary = summary
            self.defaultValue = defaultValue
            self.note = note
            self.isSwitch = isSwitch
            self.apply = apply
        }

        /// "Summary (FUSION_X; default V; note)." — the deploy test reads the default from it.
        var help: String {
            if isSwitch { return "\(summary) (\(variable)=true)." }
            var parts = [variable]
            switch defaultValue {
            case .value(let text): parts.append("default \(text(ServeConfiguration()))")
            case .described(let words): parts.append("default \(words)")
            case .none: break
            }
            if let note { parts.append(note) }
            return "\(summary) (\(parts.joined(separator: "; ")))."
        }
    }

    static func integer(_ text: String, flag: String, in range: ClosedRange<Int>) throws(ConfigurationError) -> Int {
        guard let value = Int(text.trimmingCharacters(in: " ")) else {
            throw ConfigurationError(flag: flag, message: "expected an integer, got \"\(text)\"")
        }
        guard range.contains(value) else {
            throw ConfigurationError(flag: flag, message: "must be between \(range.lowerBound) and \(range.upperBound), got \(value)")
        }
        return value
    }

    static func path(_ text: String, flag: String) throws(ConfigurationError) -> String {
        guard !text.isEmpty, !text.contains("\0") else { throw ConfigurationError(flag: flag, message: "expected a file path") }
        return text
    }

    static let settings: [Setting] = [
        Setting(flag: "--host", variable: "FUSION_HOST",
                help: "Address to listen on",
                default: .value { $0.host }) { config, text throws(ConfigurationError) in
            guard !text.isEmpty, !text.contains(where: { $0 == " " || $0 == "/" }) else {
                throw ConfigurationError(flag: "--host", message: "expected an IP address or host name, got \"\(text)\"")
            }
            config.host = text
        },
        Setting(flag: "--port", variable: "FUSION_PORT",
                help: "TCP port, 0 for any free port",
                default: .value { "\($0.port)" }) { config, text throws(ConfigurationError) in
            config.port = UInt16(try integer(text, flag: "--port", in: 0...65535))
        },
        Setting(flag: "--model", variable: "FUSION_MODEL",
                help: "Model directory",
                default: .value { $0.modelDirectory }) { config, text throws(ConfigurationError) in
            guard !text.isEmpty else { throw ConfigurationError(flag: "--model", message: "expected a model directory") }
            config.modelDirectory = text
        },
        Setting(flag: "--precision", variable: "FUSION_PRECISION",
                help: "Arithmetic of the model's encoder blocks: fp32, int8 for dynamic quantization, or bf16 (needs AVX512_BF16)",
                default: .value { $0.precision.rawValue }) { config, text throws(ConfigurationError) in
            guard let precision = Precision(rawValue: text) else {
                throw ConfigurationError(flag: "--precision", message: "expected one of \(Precision.names), got \"\(text)\"")
            }
            config.precision = precision
        },
        Setting(flag: "--backend", variable: "FUSION_BACKEND",
                help: "Library of the fp32 matrix products: openblas (weights used in place from the shared mapping), or onednn (matmul primitives, weights reordered once at load into private memory; docs/benchmarks.md)",
                default: .value { $0.resolvedBackend.rawValue }) { config, text throws(ConfigurationError) in
            guard let backend = Backend(rawValue: text) else {
                throw ConfigurationError(flag: "--backend", message: "expected one of \(Backend.names), got \"\(text)\"")
            }
            config.backend = backend
        },
        Setting(flag: "--workers", variable: "FUSION_WORKERS",
                help: "Worker processes",
                default: .described("one per allowed CPU")) { config, text throws(ConfigurationError) in
            config.workers = try integer(text, flag: "--workers", in: 1...256)
        },
        Setting(flag: "--cpu-sets", variable: "FUSION_CPU_SETS",
                help: "CPU set per worker, e.g. \"0-3;4-7\"",
                default: .described("one allowed CPU each")) { config, text throws(ConfigurationError) in
            do {
                config.cpuSets = try CPUSet.parseList(text)
            } catch {
                throw ConfigurationError(flag: "--cpu-sets", message: "\(error)")
            }
        },
        Setting(flag: "--max-batch", variable: "FUSION_MAX_BATCH",
                help: "Largest batch",
                default: .value { "\($0.maxBatch)" }) { config, text throws(ConfigurationError) in
            config.maxBatch = try integer(text, flag: "--max-batch", in: 1...256)
        },
        Setting(flag: "--max-delay-ms", variable: "FUSION_MAX_DELAY_MS",
                help: "Longest extra wait, once a worker is free, for a batch of requests that queued while every worker was busy to fill; a request that finds a worker idle never waits",
                default: .value { "\($0.maxDelayMilliseconds)" }) { config, text throws(ConfigurationError) in
            config.maxDelayMilliseconds = try integer(text, flag: "--max-delay-ms", in: 0...10_000)
        },
        Setting(flag: "--max-queue", variable: "FUSION_MAX_QUEUE",
                help: "Queued requests before 503",
                default: .value { "\($0.maxQueue)" }) { config, text throws(ConfigurationError) in
            config.maxQueue = try integer(text, flag: "--max-queue", in: 1...100_000)
        },
        Setting(flag: "--max-request-items", variable: "FUSION_MAX_REQUEST_ITEMS",
                help: "Items (batch dimension N) one POST /v2/models/{name}/infer request may hold; each joins the dynamic batcher on its own",
                default: .value { "\($0.maxRequestItems)" }) { config, text throws(ConfigurationError) in
            config.maxRequestItems = try integer(text, flag: "--max-request-items", in: 1...4096)
        },
        Setting(flag: "--router", variable: "FUSION_ROUTER",
                help: "least-loaded, round-robin or pull",
                default: .value { $0.router.rawValue }) { config, text throws(ConfigurationError) in
            guard let policy = RoutingPolicy(rawValue: text) else {
                throw ConfigurationError(flag: "--router", message: "expected one of \(RoutingPolicy.allCases.map(\.rawValue).joined(separator: ", ")), got \"\(text)\"")
            }
            config.router = policy
        },
        Setting(flag: "--request-timeout-ms", variable: "FUSION_REQUEST_TIMEOUT_MS",
                help: "Deadline for a request to start running",
                default: .value { "\($0.requestTimeoutMilliseconds)" }) { config, text throws(ConfigurationError) in
            config.requestTimeoutMilliseconds = try integer(text, flag: "--request-timeout-ms", in: 1...3_600_000)
        },
        Setting(flag: "--drain-timeout-s", variable: "FUSION_DRAIN_TIMEOUT_S",
                help: "Time allowed to finish accepted requests after SIGTERM",
                default: .value { "\($0.drainTimeoutSeconds)" }) { config, text throws(ConfigurationError) in
            config.drainTimeoutSeconds = try integer(text, flag: "--drain-timeout-s", in: 0...3600)
        },
        Setting(flag: "--worker-timeout-s", variable: "FUSION_WORKER_TIMEOUT_S",
                help: "A worker that takes longer than this for one batch, or to become ready after its start, is killed and restarted; its batch is retried elsewhere",
                default: .value { "\($0.workerTimeoutSeconds)" }) { config, text throws(ConfigurationError) in
            config.workerTimeoutSeconds = try integer(text, flag: "--worker-timeout-s", in: 1...86_400)
        },
        Setting(flag: "--worker-stall-ms", variable: "FUSION_WORKER_STALL_MS",
                help: "A worker holding a batch longer than this and 10x its recent p99 batch time counts as stalled: /healthz answers 503 while no worker is healthy",
                default: .value { "\($0.workerStallMilliseconds)" }) { config, text throws(ConfigurationError) in
            config.workerStallMilliseconds = try integer(text, flag: "--worker-stall-ms", in: 100...3_600_000)
        },
        Setting(flag: "--max-body-bytes", variable: "FUSION_MAX_BODY_BYTES",
                help: "Largest request body",
                default: .value { "\($0.maxBodyBytes)" }) { config, text throws(ConfigurationError) in
            config.maxBodyBytes = try integer(text, flag: "--max-body-bytes", in: 1024...(1 << 30))
        },
        Setting(flag: "--max-image-pixels", variable: "FUSION_MAX_IMAGE_PIXELS",
                help: "Images declaring more pixels (4096x4096 by default) are refused with 422 before decoding",
                default: .value { "\($0.maxImagePixels)" }) { config, text throws(ConfigurationError) in
            config.maxImagePixels = try integer(text, flag: "--max-image-pixels", in: 1...100_000_000)
        },
        Setting(flag: "--large-image-pixels", variable: "FUSION_LARGE_IMAGE_PIXELS",
                help: "Images declaring more pixels decode one at a time in a low-priority lane, so they cannot starve small requests; 2048x2048 by default",
                default: .value { "\($0.largeImagePixels)" }) { config, text throws(ConfigurationError) in
            config.largeImagePixels = try integer(text, flag: "--large-image-pixels", in: 1...100_000_000)
        },
        Setting(flag: "--max-connections", variable: "FUSION_MAX_CONNECTIONS",
                help: "Open connections at most",
                default: .value { "\($0.maxConnections)" }) { config, text throws(ConfigurationError) in
            config.maxConnections = try integer(text, flag: "--max-connections", in: 1...1_000_000)
        },
        Setting(flag: "--max-connections-per-ip", variable: "FUSION_MAX_CONNECTIONS_PER_IP",
                help: "Open connections per client address at most; 0 is no limit, the default because behind a proxy all clients share its address",
                default: .value { "\($0.maxConnectionsPerIP ?? 0)" }) { config, text throws(ConfigurationError) in
            let value = try integer(text, flag: "--max-connections-per-ip", in: 0...1_000_000)
            config.maxConnectionsPerIP = value == 0 ? nil : value
        },
        Setting(flag: "--max-buffered-bytes", variable: "FUSION_MAX_BUFFERED_BYTES",
                help: "Request body bytes held at once over all connections; a body beyond it gets 503",
                default: .described("1/8 of RAM or the cgroup limit, at least 4x --max-body-bytes")) { config, text throws(ConfigurationError) in
            config.maxBufferedBytes = try integer(text, flag: "--max-buffered-bytes", in: 1024...(1 << 50))
        },
        Setting(flag: "--min-body-rate", variable: "FUSION_MIN_BODY_RATE",
                help: "Slowest body upload in bytes/s: a body must arrive within the client timeout plus 1 s per this many bytes",
                default: .value { "\($0.minBodyRate)" }) { config, text throws(ConfigurationError) in
            config.minBodyRate = try integer(text, flag: "--min-body-rate", in: 1...(1 << 30))
        },
        Setting(flag: "--tls-cert", variable: "FUSION_TLS_CERT",
                help: "Serve HTTPS: PEM certificate, chain allowed",
                note: "needs --tls-key; SIGHUP reloads it") { config, text throws(ConfigurationError) in
            config.tlsCertificate = try path(text, flag: "--tls-cert")
        },
        Setting(flag: "--tls-key", variable: "FUSION_TLS_KEY",
                help: "PEM private key of --tls-cert") { config, text throws(ConfigurationError) in
            config.tlsKey = try path(text, flag: "--tls-key")
        },
        Setting(flag: "--tls-client-ca", variable: "FUSION_TLS_CLIENT_CA",
                help: "Mutual TLS: require client certificates signed by this PEM CA") { config, text throws(ConfigurationError) in
            config.tlsClientCA = try path(text, flag: "--tls-client-ca")
        },
        Setting(flag: "--auth-token-file", variable: "FUSION_AUTH_TOKEN_FILE",
                help: "Bearer tokens, one per line, # comments: every route but /livez, /healthz, /v2/health/* and /metrics needs one",
                note: "SIGHUP reloads it") { config, text throws(ConfigurationError) in
            config.authTokenFile = try path(text, flag: "--auth-token-file")
        },
        Setting(flag: "--auth-metrics", variable: "FUSION_AUTH_METRICS",
                help: "/metrics needs a bearer token too",
                isSwitch: true) { config, text throws(ConfigurationError) in
            switch text.lowercased() {
            case "1", "true", "yes", "on": config.authMetrics = true
            case "0", "false", "no", "off": config.authMetrics = false
            default: throw ConfigurationError(flag: "--auth-metrics", message: "expected true or false, got \"\(text)\"")
            }
        },
        Setting(flag: "--client-timeout-ms", variable: "FUSION_CLIENT_TIMEOUT_MS",
                help: "Time a client may take to send its headers, then its body",
                default: .value { "\($0.clientTimeoutMilliseconds)" }) { config, text throws(ConfigurationError) in
            config.clientTimeoutMilliseconds = try integer(text, flag: "--client-timeout-ms", in: 100...600_000)
        },
        Setting(flag: "--log-format", variable: "FUSION_LOG_FORMAT",
                help: "plain or json",
                default: .value { $0.logFormat.rawValue }) { config, text throws(ConfigurationError) in
            guard let format = LogFormat(rawValue: text) else {
                throw ConfigurationError(flag: "--log-format", message: "expected plain or json, got \"\(text)\"")
            }
            config.logFormat = format
        },
        Setting(flag: "--log-level", variable: "FUSION_LOG_LEVEL",
                help: "trace, debug, info, notice, warning, error or critical",
                default: .value { $0.logLevel }, note: "debug adds probe requests") { config, text throws(ConfigurationError) in
            let levels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]
            guard levels.contains(text) else {
                throw ConfigurationError(flag: "--log-level", message: "expected one of \(levels.joined(separator: ", ")), got \"\(text)\"")
            }
            config.logLevel = text
        },
    ]

    /// Every flag with its environment variable, for help texts and docs.
    public static var flagsAndVariables: [(flag: String, variable: String)] {
        settings.map { ($0.flag, $0.variable) }
    }

    /// The `--help` text of `flag` (e.g. `"--port"`): "what it does (FUSION_X; default V)."
    /// A flag without a setting is a programming error.
    public static func help(flag: String) -> String {
        guard let setting = settings.first(where: { $0.flag == flag }) else {
            preconditionFailure("\(flag) is not a serve setting")
        }
        return setting.help
    }

    /// Resolves settings: a flag's value (keyed by flag, e.g. `"--port"`) wins over its
    /// environment variable, which wins over the default. Errors name the flag (and the
    /// variable when the value came from there).
    public static func resolve(flags: [String: String], environment: [String: String]) throws(ConfigurationError) -> ServeConfiguration {
        var config = ServeConfiguration()
        for setting in settings {
            if let value = flags[setting.flag] {
                try setting.apply(&config, value)
            } else if let value = environment[setting.variable], !value.isEmpty {
                do {
                    try setting.apply(&config, value)
                } catch {
                    throw ConfigurationError(flag: "\(setting.flag) (from \(setting.variable))", message: error.message)
                }
            }
        }
        if (config.tlsCertificate == nil) != (config.tlsKey == nil) {
            throw ConfigurationError(flag: config.tlsCertificate == nil ? "--tls-cert" : "--tls-key",
                                     message: "HTTPS needs both --tls-cert and --tls-key")
        }
        if config.tlsClientCA != nil && config.tlsCertificate == nil {
            throw ConfigurationError(flag: "--tls-client-ca", message: "client certificates need HTTPS (--tls-cert and --tls-key)")
        }
        if config.authMetrics && config.authTokenFile == nil {
            throw ConfigurationError(flag: "--auth-metrics", message: "needs --auth-token-file")
        }
        if let budget = config.maxBufferedBytes, budget < config.maxBodyBytes {
            throw ConfigurationError(flag: "--max-buffered-bytes",
                                     message: "must be at least --max-body-bytes (\(config.maxBodyBytes)), got \(budget): no body of the largest size could ever be read")
        }
        return config
    }

    /// The body-bytes budget in force: `maxBufferedBytes`, or an eighth of the memory this
    /// process may use (RAM or cgroup limit), at least four bodies of the largest size.
    public func resolvedMaxBufferedBytes(availableMemory: Int?) -> Int {
        if let maxBufferedBytes { return maxBufferedBytes }
        let floor = 4 * maxBodyBytes
        guard let availableMemory else { return max(floor, 1 << 30) }
        return max(floor, availableMemory / 8)
    }

    /// The worker count and CPU sets, checked against the CPUs this process may use.
    public func workerPlan(allowed: CPUSet) throws(ConfigurationError) -> [CPUSet] {
        let count = workers ?? cpuSets?.count ?? WorkerCPUPlan.defaultWorkerCount(allowed: allowed)
        guard let sets = cpuSets else { return WorkerCPUPlan.defaultSets(workers: count, allowed: allowed) }
        do {
            try WorkerCPUPlan.validate(sets, workers: count, allowed: allowed)
        } catch {
            throw ConfigurationError(flag: "--cpu-sets", message: "\(error)".replacingOccurrences(of: "--cpu-sets: ", with: ""))
        }
        return sets
    }

    /// The model directory to serve: as given, or for the default, `models/default` in the
    /// working directory or next to the installed binary (`<prefix>/share/fusion-serve/`).
    public func resolvedModelDirectory(executable: String) throws(ConfigurationError) -> String {
        let manager = FileManager.default
        func isModel(_ dir: String) -> Bool { manager.fileExists(atPath: dir + "/config.json") }
        if modelDirectory != "models/default" {
            guard isModel(modelDirectory) else {
                throw ConfigurationError(flag: "--model", message: "\(modelDirectory) is not a model directory (no config.json)")
            }
            return modelDirectory
        }
        let binDir = (executable as NSString).deletingLastPathComponent
        let candidates = ["models/default",
                          (binDir as NSString).appendingPathComponent("../share/fusion-serve/models/default")]
        guard let found = candidates.first(where: isModel) else {
            throw ConfigurationError(flag: "--model", message: "no default model: models/default/config.json not found in \(manager.currentDirectoryPath) or \(candidates[1]); run from the repository root or pass --model DIR")
        }
        return (found as NSString).standardizingPath
    }
}
