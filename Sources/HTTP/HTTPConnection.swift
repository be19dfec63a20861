import POSIX
import TLS

/// One request on a connection, from its head until its response is written. Slots are
/// answered strictly in order (pipelining).
struct ResponseSlot {
    let sequence: UInt64
    let requestID: String
    let version: HTTPVersion
    let keepAlive: Bool
    let isHeadRequest: Bool
    /// `100 Continue` is owed once this slot is first in line and its body has not arrived.
    var owesContinue: Bool
    /// The handler was called (the message is complete).
    var dispatched: Bool
    /// The response, once known.
    var response: HTTPResponse?
    /// A server-made error response: close the connection after it.
    var isFinal: Bool
    /// Body bytes this request holds against `maxBufferedBodyBytes` until it is answered.
    var charge = 0
    /// Shared with the dispatched request: set when its answer can no longer be delivered.
    var cancellation: CancellationFlag?
}

/// Per-connection state, owned by the event loop thread.
final class HTTPConnection {
    enum Phase {
        /// An HTTPS connection whose TLS handshake has not finished: no HTTP bytes yet.
        case handshaking
        /// Reading requests (while `readingRequests`) and writing responses.
        case open
        /// Final response written, write side shut down; discarding input until the peer
        /// closes or `until` passes.
        case lingering(until: ContinuousClock.Instant)
    }

    let id: UInt64
    let socket: FileDescriptor
    var parser: HTTPRequestParser
    var phase = Phase.open
    /// Whether the connection still accepts new requests. A flag beside `.open`, not a phase of
    /// its own: a connection that stopped reading still writes the answers it owes, and the
    /// loop checks it on every request.
    var readingRequests = true
    /// The client closed its sending side (answers still owed are written).
    var peerClosed = false
    /// Refused because of the connection limit (answered 503).
    let isRejected: Bool
    /// The client's address, when per-address limits are on (nil otherwise).
    var peerHost: String?
    /// The TLS session on an HTTPS listener (nil for plain HTTP).
    var tls: TLSSession?
    /// Readiness TLS needs before its last call can go on (a read that must write first…).
    var tlsWants: EpollEvents = []
    /// A deferred turn should read: TLS holds bytes epoll cannot see.
    var needsReadTurn = false
    /// Closed and removed from the loop (checked instead of a dictionary lookup).
    var isClosed = false
    /// Waiting in the loop's list of deferred turns (it used up its requests for a turn).
    var hasPendingTurn = false

    /// Links of `IdleConnections` (the previous link is weak: the list owns forward links).
    var isListedIdle = false
    weak var idlePrevious: HTTPConnection?
    var idleNext: HTTPConnection?

    var slots: [ResponseSlot] = []
    var nextSequence: UInt64 = 0

    /// Bytes waiting to be written, in order; `outputOffset` into the first chunk.
    var output: [[UInt8]] = []
    var outputOffset = 0

    /// Registered epoll interest.
    var interest: EpollEvents = []

    /// When the connection was accepted / the current head started / last progress.
    let acceptedAt: ContinuousClock.Instant
    var headStartedAt: ContinuousClock.Instant
    var lastReadAt: ContinuousClock.Instant
    var lastWriteProgressAt: ContinuousClock.Instant
    var idleSince: ContinuousClock.Instant
    /// When the body of the request being read started (head complete, or 100 Continue sent).
    var bodyStartedAt: ContinuousClock.Instant
    /// Whether any request has completed on this connection.
    var servedAny = false

    /// The deadline in force and the earliest deadline the heap holds for us.
    var deadline: ContinuousClock.Instant?
    var scheduled: ContinuousClock.Instant?
    var deadlineReason: DeadlineReason?

    init(id: UInt64, socket: FileDescriptor, limits: HTTPLimits, now: ContinuousClock.Instant, rejected: Bool) {
        self.id = id
        self.socket = socket
        self.parser = HTTPRequestParser(limits: limits)
        self.isRejected = rejected
        acceptedAt = now
        headStartedAt = now
        lastReadAt = now
        lastWriteProgressAt = now
        idleSince = now
        bodyStartedAt = now
    }

    var hasOutput: Bool { !output.isEmpty }

    /// Closing: the final response is out and input is only drained.
    var isLingering: Bool {
        if case .lingering = phase { return true }
        return false
    }

    var isHandshaking: Bool {
        if case .handshaking = phase { return true }
        return false
    }

    /// Nothing in flight: no request partly read, none awaiting a response, nothing to write.
    var isIdle: Bool { slots.isEmpty && output.isEmpty && parser.progress == .idle }

    /// Index of the slot with `sequence`, if still pending.
    func slotIndex(for sequence: UInt64) -> Int? {
        guard let first = slots.first, sequence >= first.sequence else { return nil }
        let index = Int(sequence - first.sequence)
        return index < slots.count ? index : nil
    }
}

/// What a connection's deadline is for; decides what happens when it passes. The raw value is
/// the `reason` label of `fusion_http_timeouts_total`.
enum DeadlineReason: String {
    /// Closing: unread input is drained for a moment before the close, so the answer arrives.
    case linger
    /// Output the client does not read.
    case write
    /// The request head (or, on a new connection, its first byte).
    case header
    /// The request body: a pause between bytes, or the whole body slower than the minimum rate.
    case body
    /// Keep-alive between requests.
    case idle
}
