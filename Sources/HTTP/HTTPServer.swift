#if canImport(Glibc)
import Glibc
#endif
import POSIX
import Synchronization
import Locking

/// A single-threaded, non-blocking HTTP/1.1 server on epoll.
///
/// `run(handler:)` blocks the calling thread and runs the event loop there. The handler is
/// called on that thread for every complete request and must not block: hand the work to
/// other threads and answer through the `HTTPResponder` (from any thread) when done.
/// Responses on one connection are written in request order.
///
/// The server itself answers protocol errors (400/408/411/413/414/417/431/501/505) with
/// `{"error": {"code", "message"}}` and closes; every response carries `X-Request-Id`.
public final class HTTPServer: Sendable {
    /// The request handler: called on the loop thread; must return quickly.
    public typealias Handler = @Sendable (HTTPRequest, HTTPResponder) -> Void

    /// The configuration the server was created with.
    public let configuration: Configuration
    /// The address the listener is bound to (with the real port if 0 was asked for).
    public let localAddress: SocketAddress

    private let listener: TCPListener
    private let epoll: Epoll
    private let wakeup: EventNotifier
    private let sink: ResponseSink
    private let shutdownRequested = Atomic<Bool>(false)
    private let running = Atomic<Bool>(false)
    private let metricsSnapshot = Locked(HTTPServerMetrics())
    private let lastTurn = Atomic<Int64>(0)
    private let signalWatch = Locked<(SignalNotifier, @Sendable (Int32) -> Void)?>(nil)

    /// Creates the listener (bound or adopted) and the loop's epoll instance. Ignores
    /// `SIGPIPE` process-wide so writes to vanished clients fail with `EPIPE`.
    public init(configuration: Configuration) throws {
        try Signals.ignore(SIGPIPE)
        self.configuration = configuration
        switch configuration.listener {
        case .address(let host, let port):
            listener = try TCPListener(host: host, port: port, backlog: configuration.backlog)
        case .adoptedDescriptor(let fd):
            listener = try TCPListener(adopting: fd)
        }
        localAddress = listener.localAddress
        epoll = try Epoll(maxEventsPerWait: 128)
        wakeup = try EventNotifier()
        sink = ResponseSink(wakeup: wakeup)
    }

    /// When the event loop last went round (`MonotonicClock` nanoseconds, the real time even
    /// with an injected `Configuration.clock`; 0 before `run`). An integer because a watchdog
    /// on another thread reads it through an atomic. The loop
    /// wakes at least every `EventLoop.maxIdleWaitMilliseconds`, so a stale value means it is
    /// stuck — what a systemd watchdog must notice.
    public var lastLoopTurnNanoseconds: Int64 { lastTurn.load(ordering: .relaxed) }

    /// A snapshot of the counters (thread-safe).
    public var metrics: HTTPServerMetrics { metricsSnapshot.withLock { $0 } }

    /// Handles `signals` (e.g. `[SIGTERM, SIGINT]`) on the loop thread: `action` is called
    /// there for each signal received (typically it flips readiness and calls
    /// `beginShutdown()`). Call before `run`.
    public func handleSignals(_ signals: [Int32], _ action: @escaping @Sendable (Int32) -> Void) throws {
        let notifier = try SignalNotifier(signals: signals)
        signalWatch.withLock { $0 = (notifier, action) }
    }

    /// Starts a graceful shutdown (thread-safe, idempotent): the listener closes, idle
    /// connections close, in-flight requests finish (their responses say
    /// `Connection: close`), and `run` returns when all connections are done or
    /// `drainTimeout` passes.
    public func beginShutdown() {
        shutdownRequested.store(true, ordering: .releasing)
        wakeup.signal()
    }

    /// Runs the event loop on the calling thread until shutdown completes.
    public func run(handler: @escaping Handler) throws {
        guard !running.exchange(true, ordering: .acquiringAndReleasing) else {
            throw SystemCallError(call: "HTTPServer.run (already running)", errno: EBUSY)
        }
        sink.attachLoop()
        defer { sink.detachLoop() }
        // A clock moved by hand (tests) wakes the loop so it sees the new time at once.
        configuration.clock.setWake { [wakeup] in wakeup.signal() }
        defer { configuration.clock.setWake(nil) }
        let watch = signalWatch.withLock { $0 }
        let loop = EventLoop(configuration: configuration, listener: listener, epoll: epoll, wakeup: wakeup,
                             sink: sink, signals: watch, handler: handler,
                             shutdownRequested: { self.shutdownRequested.load(ordering: .acquiring) },
                             publish: { metrics in self.metricsSnapshot.withLock { $0 = metrics } },
                             turned: { self.lastTurn.store($0, ordering: .relaxed) })
        try loop.run()
    }
}
