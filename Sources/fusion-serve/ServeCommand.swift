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

    // One line per setting; the flag name comes from the property name (`cpuSets` is
    // `--cpu-sets`), the help and the environment variable from `ServeConfiguration`'s table.
    @Option(help: .serve("--host")) var host: String?
    @Option(help: .serve("--port")) var port: String?
    @Option(help: .serve("--model")) var model: String?
    @Option(help: .serve("--precision")) var precision: String?
    @Option(help: .serve("--backend")) var backend: String?
    @Option(help: .serve("--workers")) var workers: String?
    @Option(help: .serve("--cpu-sets")) var cpuSets: String?
    @Option(help: .serve("--max-batch")) var maxBatch: String?
    @Option(help: .serve("--max-delay-ms")) var maxDelayMs: String?
    @Option(help: .serve("--max-queue")) var maxQueue: String?
    @Option(help: .serve("--max-request-items")) var maxRequestItems: String?
    @Option(help: .serve("--router")) var router: String?
    @Option(help: .serve("--request-timeout-ms")) var requestTimeoutMs: String?
    @Option(help: .serve("--drain-timeout-s")) var drainTimeoutS: String?
    @Option(help: .serve("--worker-timeout-s")) var workerTimeoutS: String?
    @Option(help: .serve("--worker-stall-ms")) var workerStallMs: String?
    @Option(help: .serve("--max-body-bytes")) var maxBodyBytes: String?
    @Option(help: .serve("--max-image-pixels")) var maxImagePixels: String?
    @Option(help: .serve("--large-image-pixels")) var largeImagePixels: String?
    @Option(help: .serve("--max-connections")) var maxConnections: String?
    @Option(help: .serve("--max-connections-per-ip")) var maxConnectionsPerIp: String?
    @Option(help: .serve("--max-buffered-bytes")) var maxBufferedBytes: String?
    @Option(help: .serve("--min-body-rate")) var minBodyRate: String?
    @Option(help: .serve("--tls-cert")) var tlsCert: String?
    @Option(help: .serve("--tls-key")) var tlsKey: String?
    @Option(help: .serve("--tls-client-ca")) var tlsClientCa: String?
    @Option(help: .serve("--auth-token-file")) var authTokenFile: String?
    @Flag(help: .serve("--auth-metrics")) var authMetrics = false
    @Option(help: .serve("--client-timeout-ms")) var clientTimeoutMs: String?
    @Option(help: .serve("--log-format")) var logFormat: String?
    @Option(help: .serve("--log-level")) var logLevel: String?

    /// Every option and flag declared above, by flag name, with its value if given. Read off the
    /// property wrappers, named as ArgumentParser names them (`maxConnectionsPerIp` is
    /// `--max-connections-per-ip`), so no list here repeats the declarations.
    private var declared: [(flag: String, value: String?)] {
        Mirror(reflecting: self).children.compactMap { child in
            guard let label = child.label, label.hasPrefix("_") else { return nil }
            let flag = "--" + label.dropFirst().map { $0.isUppercase ? "-" + $0.lowercased() : String($0) }.joined()
            if let option = child.value as? Option<String?> { return (flag, option.wrappedValue) }
            if let toggle = child.value as? Flag<Bool> { return (flag, toggle.wrappedValue ? "true" : nil) }
            return nil
        }
    }

    func validate() throws {
        // A setting without its option (or the reverse) could only be set one way: caught by
        // every run, so by the end-to-end tests, rather than by a reader.
        let options = Set(declared.map(\.flag)), settings = Set(ServeConfiguration.flagsAndVariables.map(\.flag))
        guard options == settings else {
            throw ValidationError("serve options and ServeConfiguration settings differ: "
                                  + "\(options.symmetricDifference(settings).sorted().joined(separator: ", "))")
        }
    }

    func run() throws {
        var flags: [String: String] = [:]
        for case let (flag, value?) in declared { flags[flag] = value }
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
            hooks.watchdogInterval = notifier.watchdogIntervalNanoseconds.map { .nanoseconds($0) }
            try FusionServer(configuration: configuration, logger: logger, hooks: hooks).run()
        } catch let error as ConfigurationError {
            throw ValidationError(error.description)
        } catch {
            logger.critical("cannot serve", metadata: ["error": "\(error)"])
            throw ExitCode(1)
        }
    }
}

extension ArgumentHelp {
    /// The help of a `serve` option, from `ServeConfiguration`'s settings table.
    static func serve(_ flag: String) -> ArgumentHelp { ArgumentHelp(ServeConfiguration.help(flag: flag)) }
}
