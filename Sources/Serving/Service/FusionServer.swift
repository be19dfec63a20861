import Foundation
import HTTP
import Locking
import Logging
import Model
import POSIX
import TLS
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Hooks for a service manager (systemd's sd_notify): called when the server is ready,
/// when it starts draining, and periodically while healthy.
public struct LifecycleHooks: Sendable {
    public var ready: @Sendable () -> Void = {}
    public var stopping: @Sendable () -> Void = {}
    /// Called every `watchdogInterval` while the event loop answers and a worker is ready.
    public var watchdog: @Sendable () -> Void = {}
    public var watchdogInterval: Duration?
    /// A listening socket handed over by the service manager (socket activation).
    public var inheritedListener: Int32?

    /// No hooks.
    public init() {}
}

/// The whole `serve` process: loads the model's config, starts the worker processes, the
/// dispatcher and the HTTP server, and drains on SIGTERM/SIGINT.
public final class FusionServer {
    private let configuration: ServeConfiguration
    private let logger: Logger
    private let hooks: LifecycleHooks

    /// Prepares a server; nothing starts until `run`.
    public init(configuration: ServeConfiguration, logger: Logger, hooks: LifecycleHooks = LifecycleHooks()) {
        self.configuration = configuration
        self.logger = logger
        self.hooks = hooks
    }

    /// SIGHUP (besides the model reload, see `ModelReloader`): loads the certificate, key and token file again. A part that fails keeps its
    /// old version and the log says why; new handshakes use a new pair, established
    /// connections go on with theirs.
    static func reload(tls: TLSContextHolder?, tokens: BearerTokenStore?, logger: Logger) {
        if let tls {
            do {
                let context = try tls.reload()
                logger.notice("TLS certificate reloaded", metadata: ["cert": "\(context.certificatePath)"])
                warnIfExpiring(context, logger: logger)
            } catch {
                logger.error("TLS reload failed; the previous certificate stays in use", metadata: ["error": "\(error)"])
            }
        }
        if let tokens {
            do {
                try tokens.reload()
                logger.notice("bearer tokens reloaded", metadata: ["file": "\(tokens.path)", "tokens": "\(tokens.count)"])
            } catch {
                logger.error("token file reload failed; the previous tokens stay in force", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Logs a warning for a certificate that has expired or expires within 14 days.
    static func warnIfExpiring(_ context: TLSContext, logger: Logger) {
        guard let notAfter = context.notAfterUnixSeconds else { return }
        let remaining = Double(notAfter) - Date().timeIntervalSince1970
        guard remaining < 14 * 86_400 else { return }
        let date = Date(timeIntervalSince1970: Double(notAfter))
        logger.warning(remaining < 0 ? "TLS certificate has expired" : "TLS certificate expires soon",
                       metadata: ["cert": "\(context.certificatePath)", "not_after": "\(date)"])
    }

    /// Runs until drained after SIGTERM/SIGINT. Throws (before serving) on a bad model or setting.
    public func run() throws {
        // A parent may have started us with SIGTERM/SIGINT/SIGHUP blocked (Foundation's Process
        // does); a blocked SIGTERM would stay pending forever and the server would never drain.
        var drainSignals = sigset_t()
        sigemptyset(&drainSignals)
        sigaddset(&drainSignals, SIGTERM)
        sigaddset(&drainSignals, SIGINT)
        sigaddset(&drainSignals, SIGHUP)
        pthread_sigmask(SIG_UNBLOCK, &drainSignals, nil)
        let executable = try ProcessControl.executablePath()
        let modelDirectory = try configuration.resolvedModelDirectory(executable: executable)
        let modelConfig = try ModelConfig.load(path: modelDirectory + "/config.json")
        try FusionModel.check(configuration.precision)
        try FusionModel.check(configuration.resolvedBackend)
        // The version `/v1/model` reports; a reload compares against it (hashing reads the
        // weights once; OpenSSL's SHA-256 does ~1.5 GB/s on the test machine).
        let modelVersion = try ModelVersion.compute(directory: modelDirectory, config: modelConfig)
        let preprocessing = try Preprocessing(config: modelConfig, vocabFile: modelDirectory + "/vocab.txt",
                                              maxPixels: configuration.maxImagePixels)
        let allowed = try currentAffinity()
        let cpuSets = try configuration.workerPlan(allowed: allowed)

        let metrics = ServiceMetrics(maxBatch: configuration.maxBatch)
        let dispatcher = Dispatcher(
            configuration: .init(maxBatch: configuration.maxBatch,
                                 maxDelay: .milliseconds(configuration.maxDelayMilliseconds),
                                 maxQueue: configuration.maxQueue, policy: configuration.router,
                                 workerCount: cpuSets.count),
            onBatchSent: { size, _ in metrics.batchSize.observe(Double(size)) },
            onRetry: { count in metrics.retriedRequests.increment(by: Double(count)) })
        var poolConfiguration = WorkerPool.Configuration(
            executable: executable, modelDirectory: modelDirectory, cpuSets: cpuSets, maxBatch: configuration.maxBatch,
            expectedModel: FusionModelExecutor.identity(of: modelConfig))
        // The workers' precision travels in their environment (as `fusion-serve worker` reads it),
        // set explicitly so that a flag given to `serve` wins over an inherited variable.
        poolConfiguration.environment = ["FUSION_PRECISION": configuration.precision.rawValue,
                                         "FUSION_BACKEND": configuration.resolvedBackend.rawValue]
        poolConfiguration.workerTimeout = .seconds(configuration.workerTimeoutSeconds)
        poolConfiguration.stallFloor = .milliseconds(configuration.workerStallMilliseconds)
        let pool = WorkerPool(configuration: poolConfiguration, dispatcher: dispatcher, logger: logger,
                              onBatchAnswered: { _, time in metrics.inferenceSeconds.observe(Double(time.unsignedNanoseconds) / 1e9) })

        let reloader = try ModelReloader(
            initial: ServingModel(config: modelConfig, directory: modelDirectory, version: modelVersion, loadedAt: Date()),
            logger: logger, replaceWorkers: { try pool.replaceWorkers() },
            onResult: { success in metrics.modelReloads.increment([success ? "success" : "failure"]) })

        var httpConfiguration: HTTPServer.Configuration
        if let fd = hooks.inheritedListener {
            httpConfiguration = HTTPServer.Configuration(adoptingListener: fd)
        } else {
            httpConfiguration = HTTPServer.Configuration(host: configuration.host, port: configuration.port)
        }
        httpConfiguration.limits.maxBodyBytes = configuration.maxBodyBytes
        httpConfiguration.maxConnections = configuration.maxConnections
        httpConfiguration.maxConnectionsPerAddress = configuration.maxConnectionsPerIP
        httpConfiguration.maxBufferedBodyBytes = configuration.resolvedMaxBufferedBytes(availableMemory: SystemMemory.availableBytes())
        httpConfiguration.minBodyBytesPerSecond = configuration.minBodyRate
        // A grace beyond the drain deadline: at the deadline what is left is answered 503
        // (below), and those answers must still find their connections open.
        httpConfiguration.drainTimeout = .seconds(configuration.drainTimeoutSeconds) + Self.answerGrace
        httpConfiguration.headerTimeout = .milliseconds(configuration.clientTimeoutMilliseconds)
        httpConfiguration.bodyTimeout = .milliseconds(configuration.clientTimeoutMilliseconds)
        var tokens: BearerTokenStore?
        if let certificate = configuration.tlsCertificate, let key = configuration.tlsKey {
            do {
                let context = try TLSContext(certificatePath: certificate, keyPath: key, clientCAPath: configuration.tlsClientCA)
                Self.warnIfExpiring(context, logger: logger)
                httpConfiguration.tls = TLSContextHolder(context)
            } catch {
                throw ConfigurationError(flag: "--tls-cert/--tls-key", message: error.message)
            }
        }
        if let file = configuration.authTokenFile {
            do {
                tokens = try BearerTokenStore(path: file)
            } catch {
                throw ConfigurationError(flag: "--auth-token-file", message: error.description)
            }
        }
        let server = try HTTPServer(configuration: httpConfiguration)

        let preprocessPool = BoundedThreadPool(name: "preprocess", threads: max(1, allowed.count),
                                               queueCapacity: configuration.maxQueue)
        // One thread at nice 10 for large images: at most one such decode at a time, and the
        // scheduler favours small requests' preprocessing and the workers over it.
        let largeImageLane = BoundedThreadPool(name: "large-images", threads: 1,
                                               queueCapacity: Self.largeImageQueue, niceness: 10)
        var settings = ServiceSettings(requestTimeout: .milliseconds(configuration.requestTimeoutMilliseconds),
                                      maxBatch: configuration.maxBatch,
                                      maxDelayMilliseconds: configuration.maxDelayMilliseconds,
                                      maxQueue: configuration.maxQueue, maxBodyBytes: configuration.maxBodyBytes,
                                      router: configuration.router, workerCount: cpuSets.count,
                                      images: ImageAdmission(maxPixels: configuration.maxImagePixels,
                                                             largePixels: configuration.largeImagePixels),
                                      maxRequestItems: configuration.maxRequestItems)
        settings.precision = configuration.precision
        settings.backend = configuration.resolvedBackend
        let service = InferenceService(
            model: modelConfig, settings: settings,
            preprocessing: preprocessing, pool: preprocessPool, largeImages: largeImageLane,
            dispatcher: dispatcher, metrics: metrics,
            logger: logger, workers: { pool.status }, httpConnections: { server.metrics.connectionsOpen },
            tokens: tokens, authMetrics: configuration.authMetrics, reloader: reloader)
        let budgetLimit = Double(httpConfiguration.maxBufferedBodyBytes)
        metrics.registry.addCollector { [metrics, server] in
            let http = server.metrics
            metrics.http.connectionsRejected.set(["limit"], to: Double(http.connectionsRejected))
            metrics.http.connectionsRejected.set(["per_ip"], to: Double(http.connectionsRejectedPerAddress))
            metrics.http.connectionsEvicted.set(to: Double(http.connectionsEvicted))
            metrics.http.bufferedBodyBytes.set(to: Double(http.bufferedBodyBytes))
            metrics.http.bufferedBodyBytesLimit.set(to: budgetLimit)
            metrics.http.bodiesRefused.set(to: Double(http.bodiesRefused))
            metrics.http.abandonedRequests.set(to: Double(http.abandonedRequests))
            for (reason, count) in http.timeouts { metrics.http.timeouts.set([reason], to: Double(count)) }
            for (code, count) in http.parseErrors { metrics.http.parseErrors.set([code], to: Double(count)) }
            metrics.http.tlsHandshakes.set(["ok"], to: Double(http.tlsHandshakes - http.tlsResumedSessions))
            metrics.http.tlsHandshakes.set(["resumed"], to: Double(http.tlsResumedSessions))
            metrics.http.tlsHandshakes.set(["failed"], to: Double(http.tlsHandshakeFailures))
        }

        let hooks = self.hooks
        let logger = self.logger
        // Written on the loop thread at the signal, read on this one after `run` returns.
        let drainStartedAt = Locked<ContinuousClock.Instant?>(nil)
        let drainDeadline = DrainDeadline()
        let drainBudget = Duration.seconds(configuration.drainTimeoutSeconds)
        let tlsHolder = httpConfiguration.tls
        let tokenStore = tokens
        try server.handleSignals([SIGTERM, SIGINT, SIGHUP]) { signal in
            if signal == SIGHUP {
                Self.reload(tls: tlsHolder, tokens: tokenStore, logger: logger)
                // The model too: re-read, validated, and the workers switched if it changed
                // (on a thread of its own; the outcome is logged and counted).
                if !service.isDraining { reloader.reloadInBackground(trigger: "SIGHUP") }
                return
            }
            guard !service.isDraining else { return }
            drainStartedAt.withLock { $0 = ContinuousClock.now }
            logger.notice("draining", metadata: ["signal": "\(signal)"])
            service.beginDrain()
            hooks.stopping()
            server.beginShutdown()
            drainDeadline.arm(after: drainBudget) {
                // Queued and running requests are answered 503 `draining` now, and requests still
                // being preprocessed are refused when they reach the dispatcher.
                logger.warning("drain timeout: answering what is left with 503")
                dispatcher.stop()
            }
        }

        dispatcher.start(transport: pool)
        pool.start()
        let address = server.localAddress
        logger.notice("fusion-serve listening", metadata: [
            "address": "\(address)", "model": "\(modelConfig.name)", "model_dir": "\(modelDirectory)",
            "precision": "\(configuration.precision)", "backend": "\(configuration.precision.libraries(backend: configuration.resolvedBackend))",
            "model_version": "\(modelVersion)",
            "workers": "\(cpuSets.count)", "cpu_sets": "\(cpuSets.map(\.description).joined(separator: ";"))",
            "router": "\(configuration.router)", "max_batch": "\(configuration.maxBatch)",
            "max_connections": "\(configuration.maxConnections)",
            "max_buffered_bytes": "\(httpConfiguration.maxBufferedBodyBytes)",
            "scheme": "\(httpConfiguration.tls == nil ? "http" : "https")",
            "auth": "\(tokens.map { "\($0.count) bearer token(s)" } ?? "none")",
        ])
        let watcher = LifecycleWatcher(dispatcher: dispatcher, pool: pool, service: service, hooks: hooks, logger: logger,
                                       loopTurn: { server.lastLoopTurnNanoseconds })
        watcher.start()

        try server.run(handler: service.handle)

        // The listener is closed and every connection answered (or the drain time is up).
        // One --drain-timeout-s budget from the signal for everything: the HTTP drain above,
        // what is still queued or running, and the workers' exit.
        let drainStarted = drainStartedAt.withLock { $0 } ?? ContinuousClock.now
        func spent() -> Duration { ContinuousClock.now - drainStarted }
        // Requests whose clients went away may still be queued or running: they get the rest
        // of the budget too, then the deadline (or the stop below) abandons them.
        _ = dispatcher.waitUntilIdle(timeout: max(.zero, drainBudget - spent()))
        drainDeadline.cancel()
        watcher.stop()
        dispatcher.stop()
        preprocessPool.stop()
        largeImageLane.stop()
        // Idle workers exit at once on `shutdown`; the floor only matters for a stuck one.
        pool.shutdown(grace: max(.seconds(2), drainBudget - spent()))
        logger.notice("fusion-serve stopped")
    }

    /// Large images that may wait for the lane; more are answered 503 `large_images_busy`.
    /// At ~0.5 s per 16 MP image that is a few seconds of backlog, well inside the 30 s
    /// request deadline, and no more than 8 bodies held for it.
    static let largeImageQueue = 8

    /// How long past the drain deadline connections stay open for the 503s sent at it.
    static let answerGrace: Duration = .seconds(1)
}

/// Sends `READY=1` once the first start of every worker is over with at least one ready, and
/// `WATCHDOG=1` while healthy: at least one worker ready, not draining, and the HTTP event loop
/// went round recently (it wakes at least once a second even when idle).
final class LifecycleWatcher: Sendable {
    private let dispatcher: Dispatcher
    private let pool: WorkerPool
    private let service: InferenceService
    private let hooks: LifecycleHooks
    private let logger: Logger
    /// When the HTTP event loop last went round (monotonic ns), 0 before it starts.
    private let loopTurn: @Sendable () -> Int64
    private let stopped = LockedCondition(false)

    init(dispatcher: Dispatcher, pool: WorkerPool, service: InferenceService, hooks: LifecycleHooks, logger: Logger,
         loopTurn: @escaping @Sendable () -> Int64) {
        self.loopTurn = loopTurn
        self.dispatcher = dispatcher
        self.pool = pool
        self.service = service
        self.hooks = hooks
        self.logger = logger
    }

    func start() {
        let thread = Thread { [self] in loop() }
        thread.name = "lifecycle"
        thread.start()
    }

    func stop() {
        stopped.withLock { $0 = true }
        stopped.broadcast()
    }

    private func loop() {
        var announcedReady = false
        var lastWatchdog: ContinuousClock.Instant?
        let tick = Duration.milliseconds(50)
        while true {
            if stopped.wait(until: { $0 }, timeout: tick) { return }
            let workers = pool.status
            let ready = workers.filter { $0.state == .ready }.count
            if !announcedReady, ready > 0, !workers.contains(where: { $0.state == .starting && $0.restarts == 0 }) {
                announcedReady = true
                logger.notice("ready", metadata: ["workers_ready": "\(ready)", "workers": "\(workers.count)"])
                hooks.ready()
            }
            // A loop that has not gone round for 3 s (it wakes every second) is stuck: stay silent
            // and let systemd's watchdog restart us.
            let turn = loopTurn()
            let loopAlive = turn == 0 || MonotonicClock.nanoseconds() - turn < 3_000_000_000
            if let interval = hooks.watchdogInterval, ready > 0, !service.isDraining, loopAlive {
                let now = ContinuousClock.now
                if lastWatchdog.map({ now - $0 >= interval }) ?? true {
                    lastWatchdog = now
                    hooks.watchdog()
                }
            }
        }
    }
}
