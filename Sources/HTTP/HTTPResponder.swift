#if canImport(Glibc)
import Glibc
#endif
import POSIX
import Synchronization
import Locking

/// A response travelling to the event loop.
struct ResponseDelivery: Sendable {
    let connectionID: UInt64
    let sequence: UInt64
    let response: HTTPResponse
}

/// Carries responses from any thread to the loop: on the loop thread itself into a local
/// list (no lock, no wake-up), elsewhere into a locked queue plus one eventfd signal per
/// batch.
final class ResponseSink: @unchecked Sendable {
    // @unchecked: `local` is only touched on the loop thread (checked against `loopThread`).
    private let wakeup: EventNotifier
    private let queue = Locked<[ResponseDelivery]>([])
    /// `pthread_self()` of the running loop (0 when not running).
    private let loopThread = Atomic<UInt>(0)
    /// Touched only on the loop thread.
    private var local: [ResponseDelivery] = []

    init(wakeup: EventNotifier) { self.wakeup = wakeup }

    func attachLoop() { loopThread.store(UInt(pthread_self()), ordering: .releasing) }
    func detachLoop() { loopThread.store(0, ordering: .releasing) }

    func deliver(_ delivery: ResponseDelivery) {
        if loopThread.load(ordering: .acquiring) == UInt(pthread_self()) {
            local.append(delivery)
            return
        }
        let wasEmpty = queue.withLock { queue in
            let wasEmpty = queue.isEmpty
            queue.append(delivery)
            return wasEmpty
        }
        if wasEmpty { wakeup.signal() }
    }

    /// Loop thread only.
    func takeLocal() -> [ResponseDelivery] {
        guard !local.isEmpty else { return [] }
        defer { local.removeAll(keepingCapacity: true) }
        return local
    }

    /// Loop thread only.
    func takeQueued() -> [ResponseDelivery] {
        queue.withLock { queue in
            defer { queue.removeAll(keepingCapacity: true) }
            return queue
        }
    }
}

/// Answers one request. `send` may be called from any thread, once; later calls are
/// ignored. If the responder is released without `send`, the client gets a 500
/// `handler_dropped_response` so no request is left hanging.
public final class HTTPResponder: Sendable {
    /// The request id the response will carry.
    public let requestID: String
    private let connectionID: UInt64
    private let sequence: UInt64
    private let sink: ResponseSink
    private let sent = Atomic<Bool>(false)

    init(requestID: String, connectionID: UInt64, sequence: UInt64, sink: ResponseSink) {
        self.requestID = requestID
        self.connectionID = connectionID
        self.sequence = sequence
        self.sink = sink
    }

    deinit {
        if !sent.load(ordering: .acquiring) {
            sink.deliver(ResponseDelivery(
                connectionID: connectionID, sequence: sequence,
                response: .error(.internalServerError, code: "handler_dropped_response",
                                 message: "The request handler finished without responding.")))
        }
    }

    /// Whether `send` was called.
    public var hasSent: Bool { sent.load(ordering: .acquiring) }

    /// Queues `response` for this request. Responses on one connection go out in request
    /// order, whatever order handlers finish in. Never blocks.
    public func send(_ response: HTTPResponse) {
        guard !sent.exchange(true, ordering: .acquiringAndReleasing) else { return }
        sink.deliver(ResponseDelivery(connectionID: connectionID, sequence: sequence, response: response))
    }
}
