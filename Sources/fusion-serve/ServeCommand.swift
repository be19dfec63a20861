import ArgumentParser
import Foundation
import Logging
import Serving
import Systemd

/// `fusion-serve serve`: the HTTP inference service (the default subcommand).
struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve a model over HTTP: POST /infer, GET /healthz, /livez, /metrics, /v1/model, and the Open Inference Protocol (KServe v2) under /v2.",
        discussion: """
        Every option can also be set by its environment variable (for systemd's EnvironmentFile); \
        a flag wins over the variable. With no options at all it serves models/default on 127.0.0.1:8080.
        """)

    @Option(help: "Address to listen on (FUSION_HOST; default 127.0.0.1).") var host: String?
    @Option(help: "TCP port, 0 for any free port (FUSION_PORT; default 8080).") var port: String?
    @Option(help: "Model directory (FUSION_MODEL; default models/default).") var model: String?
    @Option(help: "Arithmetic of the model's encoder blocks: fp32, or int8 for dynamic quantization (FUSION_PRECISION; default fp32).")
    var precision: String?
    @Option(help: "Worker processes (FUSION_WORKERS; default: allowed CPUs minus one, at least 1).") var workers: String?
    @Option(help: "CPU set per worker, e.g. \"0-3;4-7\" (FUSION_CPU_SETS; default one allowed CPU each).") var cpuSets: String?
    @Option(help: "Largest batch (FUSION_MAX_BATCH; default 8).") var maxBatch: String?
    @Option(help: "Longest extra wait, once a worker is free, for a batch of requests that queued while every worker was busy to fill; a request that finds a worker idle never waits (FUSION_MAX_DELAY_MS; default 0).") var maxDelayMs: String?
    @Option(help: "Queued requests before 503 (FUSION_MAX_QUEUE; default 256).") var maxQueue: String?
    @Option(help: "Items (batch dimension N) one POST /v2/models/{name}/infer request may hold; each joins the dynamic batcher on its own (FUSION_MAX_REQUEST_ITEMS; default 64).")
    var maxRequestItems: String?
    @Option(help: "least-loaded, round-robin or pull (FUSION_ROUTER; default least-loaded).") var router: String?
    @Option(help: "Deadline for a request to start running (FUSION_REQUEST_TIMEOUT_MS; default 30000).") var requestTimeoutMs: String?
    @Option(help: "Time allowed to finish accepted requests after SIGTERM (FUSION_DRAIN_TIMEOUT_S; default 30).") var drainTimeoutS: String?
    @Option(help: "A worker that takes longer than this for one batch, or to become ready after its start, is killed and restarted; its batch is retried elsewhere (FUSION_WORKER_TIMEOUT_S; default 60).")
    var workerTimeoutS: String?
    @Option(help: "A worker holding a batch longer than this and 10x its recent p99 batch time counts as stalled: /healthz answers 503 while no worker is healthy (FUSION_WORKER_STALL_MS; default 5000).")
    var workerStallMs: String?
    @Option(help: "Largest request body (FUSION_MAX_BODY_BYTES; default 20971520).") var maxBodyBytes: String?
    @Option(help: "Images declaring more pixels (4096x4096 by default) are refused with 422 before decoding (FUSION_MAX_IMAGE_PIXELS; default 16777216).")
    var maxImagePixels: String?
    @Option(help: "Images declaring more pixels decode one at a time in a low-priority lane, so they cannot starve small requests; 2048x2048 by default (FUSION_LARGE_IMAGE_PIXELS; default 4194304).")
    var largeImagePixels: String?
    @Option(help: "Open connections at most (FUSION_MAX_CONNECTIONS; default 1024).") var maxConnections: String?
    @Option(help: "Open connections per client address at most; 0 is no limit, the default because behind a proxy all clients share its address (FUSION_MAX_CONNECTIONS_PER_IP; default 0).")
    var maxConnectionsPerIp: String?
    @Option(help: "Request body bytes held at once over all connections; a body beyond it gets 503 (FUSION_MAX_BUFFERED_BYTES; default 1/8 of RAM or the cgroup limit, at least 4x --max-body-bytes).")
    var maxBufferedBytes: String?
    @Option(help: "Slowest body upload in bytes/s: a body must arrive within the client timeout plus 1 s per this many bytes (FUSION_MIN_BODY_RATE; default 16384).")
    var minBodyRate: String?
    @Option(help: "Serve HTTPS: PEM certificate, chain allowed (FUSION_TLS_CERT; needs --tls-key; SIGHUP reloads it).")
    var tlsCert: String?
    @Option(help: "PEM private key of --tls-cert (FUSION_TLS_KEY).") var tlsKey: String?
    @Option(help: "Require client certificates signed by this PEM CA (mutual TLS; FUSION_TLS_CLIENT_CA).") var tlsClientCa: String?
    @Option(help: "Bearer tokens, one per line, # comments: every route but /livez, /healthz, /v2/health/* and /metrics needs one (FUSION_AUTH_TOKEN_FILE; SIGHUP reloads it).")
    var authTokenFile: String?
    @Flag(help: "/metrics needs a bearer token too (FUSION_AUTH_METRICS=true).")
    var authMetrics = false
    @Option(help: "Time a client may take to send its headers, then its body (FUSION_CLIENT_TIMEOUT_MS; default 10000).")
    var clientTimeoutMs: String?
    @Option(help: "plain or json (FUSION_LOG_FORMAT; default plain).") var logFormat: String?
    @Option(help: "trace, debug, info, notice, warning, error or critical (FUSION_LOG_LEVEL; default info; debug adds probe requests).")
    var logLevel: String?

    func run() throws {
        var flags: [String: String] = [:]
        let given: [(String, String?)] = [
            ("--host", host), ("--port", port), ("--model", model), ("--precision", precision), ("--workers", workers), ("--cpu-sets", cpuSets),
            ("--max-batch", maxBatch), ("--max-delay-ms", maxDelayMs), ("--max-queue", maxQueue),
            ("--max-request-items", maxRequestItems), ("--router", router),
            ("--request-timeout-ms", requestTimeoutMs), ("--drain-timeout-s", drainTimeoutS),
            ("--worker-timeout-s", workerTimeoutS), ("--worker-stall-ms", workerStallMs),
            ("--max-body-bytes", maxBodyBytes),
            ("--max-image-pixels", maxImagePixels), ("--large-image-pixels", largeImagePixels), ("--max-connections", maxConnections), ("--client-timeout-ms", clientTimeoutMs),
            ("--max-connections-per-ip", maxConnectionsPerIp), ("--max-buffered-bytes", maxBufferedBytes),
            ("--min-body-rate", minBodyRate),
            ("--tls-cert", tlsCert), ("--tls-key", tlsKey), ("--tls-client-ca", tlsClientCa),
            ("--auth-token-file", authTokenFile), ("--auth-metrics", authMetrics ? "true" : nil),
            ("--log-format", logFormat), ("--log-level", logLevel),
        ]
        for case let (flag, value?) in given { flags[flag] = value }
        let configuration: ServeConfiguration
        do {
            configuration = try ServeConfiguration.resolve(flags: flags, environment: ProcessInfo.processInfo.environment)
        } catch {
            throw ValidationError(error.description)
        }
        let format = configuration.logFormat
        let level = Logger.Level(rawValue: configuration.logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler: LogHandler
            switch format {
            case .plain: handler = StreamLogHandler.standardError(label: label)
            case .json: handler = JSONLogHandler(label: label)
            }
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "fusion-serve")
        // Workers inherit this environment: say which fault-injection hooks they will honour.
        for warning in WorkerTestHooks.startupWarnings(environment: ProcessInfo.processInfo.environment) {
            logger.warning("\(warning)")
        }
        do {
            let notifier = try SystemdNotifier(unsetEnvironment: true)
            var hooks = LifecycleHooks()
            hooks.inheritedListener = try SocketActivation.listenFDs().first
            hooks.ready = { try? notifier.ready(status: "serving") }
            hooks.stopping = { try? notifier.stopping(status: "draining") }
            hooks.watchdog = { try? notifier.watchdog() }
            hooks.watchdogIntervalNanos = notifier.watchdogIntervalNanoseconds
            try FusionServer(configuration: configuration, logger: logger, hooks: hooks).run()
        } catch let error as ConfigurationError {
            throw ValidationError(error.description)
        } catch {
            logger.critical("cannot serve", metadata: ["error": "\(error)"])
            throw ExitCode(1)
        }
    }
}
