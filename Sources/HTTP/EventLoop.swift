#if canImport(Glibc)
import Glibc
#endif
import POSIX
import TLS

/// The server's loop: accepts, reads, parses, dispatches, writes and enforces deadlines.
/// Lives on the `run` thread only; nothing here is shared.
final class EventLoop {
    private static let listenerToken: UInt64 = 0
    private static let wakeupToken: UInt64 = 1
    private static let signalToken: UInt64 = 2
    private static let firstConnectionID: UInt64 = 16

    private let configuration: HTTPServer.Configuration
    private let listener: TCPListener
    private let epoll: Epoll
    private let wakeup: EventNotifier
    private let sink: ResponseSink
    private let signals: (SignalNotifier, @Sendable (Int32) -> Void)?
    private let handler: HTTPServer.Handler
    private let shutdownRequested: () -> Bool
    private let publish: (HTTPServerMetrics) -> Void
    /// Reports each turn with the real monotonic time in nanoseconds (the watchdog's
    /// heartbeat: it proves the thread is alive, whatever clock the deadlines use).
    private let turned: (Int64) -> Void
    /// The time every deadline is measured in (`ServerClock`).
    private let clock: any ServerClock
    /// Longest sleep in `epoll_wait` even with nothing to do, so the loop's heartbeat
    /// (`HTTPServer.lastLoopTurnNanoseconds`) stays fresh for the watchdog.
    static let maxIdleWaitMilliseconds: Int32 = 1000
    /// Requests one connection may have parsed in one turn (one readiness event, one
    /// delivery, or one deferred turn). Past it the connection waits for its next turn, so a
    /// client that pipelines thousands of tiny requests cannot hold the loop.
    static let requestsPerTurn = 32

    private var connections: [UInt64: HTTPConnection] = [:]
    private var activeConnections = 0
    /// Open (not rejected) connections per client address, when that limit is on.
    private var connectionsPerAddress: [String: Int] = [:]
    /// Connections with no request in progress, longest idle first.
    private var idle = IdleConnections()
    /// Body bytes charged by all open requests (see `maxBufferedBodyBytes`).
    private var bufferedBodyBytes = 0
    private var rejectingConnections = 0
    private var nextID = EventLoop.firstConnectionID
    private var deadlines = DeadlineHeap()
    /// Connections that used up their turn with requests still buffered, in arrival order;
    /// each gets another turn at the next loop round (see `requestsPerTurn`).
    private var pendingTurns: [HTTPConnection] = []
    private var serializer: HTTPResponseSerializer
    private var requestIDs = RequestIDGenerator()
    private var metrics = HTTPServerMetrics()
    private var metricsDirty = true
    private var scratch = [UInt8](repeating: 0, count: 64 * 1024)
    private var writeScratch: [UInt8] = []
    /// The loop's idea of the time, read from `clock` once per turn and per event.
    private var now: ContinuousClock.Instant

    private var listening = false
    private var listenerPausedUntil: ContinuousClock.Instant?
    private var draining = false
    /// When draining ends whatever is still open (set by `startDraining`).
    private var drainDeadline: ContinuousClock.Instant?

    init(configuration: HTTPServer.Configuration, listener: TCPListener, epoll: Epoll, wakeup: EventNotifier,
         sink: ResponseSink, signals: (SignalNotifier, @Sendable (Int32) -> Void)?, handler: @escaping HTTPServer.Handler,
         shutdownRequested: @escaping () -> Bool, publish: @escaping (HTTPServerMetrics) -> Void,
         turned: @escaping (Int64) -> Void = { _ in }) {
        self.configuration = configuration
        self.listener = listener
        self.epoll = epoll
        self.wakeup = wakeup
        self.sink = sink
        self.signals = signals
        self.handler = handler
        self.shutdownRequested = shutdownRequested
        self.publish = publish
        self.turned = turned
        clock = configuration.clock
        now = clock.now
        serializer = HTTPResponseSerializer(sendDate: configuration.sendDate, requestIDHeader: configuration.requestIDHeader)
    }

    private var headerTimeout: Duration { configuration.headerTimeout }
    private var bodyTimeout: Duration { configuration.bodyTimeout }
    private var keepAliveTimeout: Duration { configuration.keepAliveTimeout }
    private var writeTimeout: Duration { configuration.writeTimeout }
    private var lingerTimeout: Duration { configuration.lingerTimeout }
    private var pressureKeepAliveTimeout: Duration { configuration.pressureKeepAliveTimeout }

    // MARK: loop

    func run() throws {
        try epoll.add(wakeup.descriptor, events: .readable, token: Self.wakeupToken)
        defer { try? epoll.remove(wakeup.descriptor) }
        if let (notifier, _) = signals {
            try epoll.add(notifier.descriptor, events: .readable, token: Self.signalToken)
        }
        defer { if let (notifier, _) = signals { try? epoll.remove(notifier.descriptor) } }
        if !shutdownRequested() && !listener.descriptor.isClosed {
            try epoll.add(listener.descriptor, events: .readable, token: Self.listenerToken)
            listening = true
        }
        defer { closeEverything() }

        while true {
            now = clock.now
            turned(MonotonicClock.nanoseconds())
            if shutdownRequested() && !draining { startDraining() }
            if draining && (connections.isEmpty || drainDeadline.map({ now >= $0 }) ?? false) { break }
            try epoll.wait(timeoutMilliseconds: waitTimeout()) { event in
                // The wait may have lasted long (forever when nothing is due): a stale `now`
                // would date a new connection in the past and time it out before it is read.
                now = clock.now
                handle(event)
            }
            now = clock.now
            deliver(sink.takeLocal())
            runPendingTurns()
            expireDeadlines()
            resumeListenerIfDue()
            publishMetricsIfDirty()
        }
        if !connections.isEmpty { count(timeout: "drain", times: UInt64(connections.count)) }
    }

    /// Publishes counters before anything a client can observe (a write, a shutdown, a
    /// close), so a client that saw a response also sees it counted.
    private func publishMetricsIfDirty() {
        guard metricsDirty else { return }
        metrics.connectionsOpen = connections.count
        metrics.bufferedBodyBytes = bufferedBodyBytes
        publish(metrics)
        metricsDirty = false
    }

    private func waitTimeout() -> Int32 {
        if !pendingTurns.isEmpty { return 0 }
        var next = deadlines.first?.deadline
        if let paused = listenerPausedUntil { next = min(next ?? paused, paused) }
        if let drainDeadline { next = min(next ?? drainDeadline, drainDeadline) }
        guard let next else { return Self.maxIdleWaitMilliseconds }
        let remaining = (next - now).totalNanoseconds
        if remaining <= 0 { return 0 }
        // epoll takes milliseconds. Round up so we never wake just before a deadline and spin
        // (without adding first: `remaining` saturates at Int64.max for a far deadline).
        return min(Self.maxIdleWaitMilliseconds, Int32(clamping: remaining / 1_000_000 + (remaining % 1_000_000 > 0 ? 1 : 0)))
    }

    private func handle(_ event: EpollEvent) {
        switch event.token {
        case Self.listenerToken:
            acceptConnections()
        case Self.wakeupToken:
            wakeup.drain()
            deliver(sink.takeQueued())
        case Self.signalToken:
            if let (notifier, action) = signals {
                var seen = Set<Int32>()
                for signal in notifier.drain() where seen.insert(signal).inserted { action(signal) }
            }
        default:
            guard let connection = connections[event.token] else { return }
            if event.events.contains(.readable) || event.events.contains(.hangup)
                || connection.isHandshaking || (event.events.contains(.writable) && connection.tlsWants.contains(.writable)) {
                connection.tlsWants = []
                readAvailable(connection)
            }
            if !connection.isClosed, event.events.contains(.writable) {
                flush(connection)
            }
            if !connection.isClosed,
               event.events.contains(.error) || (event.events.contains(.hangup) && !connection.isLingering && connection.hasOutput) {
                close(connection)
            }
        }
    }

    // MARK: accepting

    private func acceptConnections() {
        for _ in 0..<64 {
            let socket: FileDescriptor
            do {
                guard case .done(let accepted) = try listener.accept() else { return }
                socket = accepted
            } catch {
                // EMFILE/ENFILE or similar: the listener stays readable, so stop polling it
                // for a moment instead of spinning.
                pauseListener()
                return
            }
            metrics.connectionsAccepted += 1
            metricsDirty = true
            var peerHost: String? = nil
            var rejection: String? = nil
            if let perAddress = configuration.maxConnectionsPerAddress {
                let host = (try? socket.peerAddress().host) ?? ""
                if connectionsPerAddress[host, default: 0] >= perAddress {
                    metrics.connectionsRejectedPerAddress += 1
                    rejection = "This client address has \(perAddress) connections open, the most allowed; retry shortly."
                } else {
                    peerHost = host
                }
            }
            if rejection == nil && activeConnections >= configuration.maxConnections {
                // Make room by closing the longest-idle connection (nothing in progress on it,
                // so nothing is lost); only with every slot busy is the newcomer refused.
                if let victim = idle.first {
                    metrics.connectionsEvicted += 1
                    close(victim)
                } else {
                    metrics.connectionsRejected += 1
                    rejection = "The server is at its connection limit; retry shortly."
                }
            }
            let rejected = rejection != nil
            if rejected {
                // Answering costs a slot for up to the linger time; past a small budget,
                // just close.
                guard rejectingConnections < max(16, configuration.maxConnections / 8) else {
                    try? socket.close()
                    continue
                }
            }
            try? socket.setNoDelay(true)
            let connection = HTTPConnection(id: nextID, socket: socket, limits: configuration.limits, now: now, rejected: rejected)
            connection.peerHost = peerHost
            nextID += 1
            do {
                try epoll.add(socket, events: .readable, token: connection.id)
            } catch {
                try? socket.close()
                continue
            }
            connection.interest = .readable
            connections[connection.id] = connection
            if let tls = configuration.tls {
                // A refused client would need a whole handshake to read its 503: just close.
                guard !rejected, let session = try? TLSSession(context: tls.current, fd: socket.rawValue) else {
                    activeConnections += rejected ? 0 : 1
                    rejectingConnections += rejected ? 1 : 0
                    close(connection)
                    continue
                }
                connection.tls = session
                connection.phase = .handshaking
            }
            if rejected {
                rejectingConnections += 1
                connection.readingRequests = false
                var headers = HTTPHeaders()
                headers.add(name: "Retry-After", value: "1")
                appendFinalSlot(connection, response: .error(.serviceUnavailable, code: "too_many_connections",
                                                             message: rejection ?? "", headers: headers))
                flush(connection)
            } else {
                activeConnections += 1
                if let peerHost { connectionsPerAddress[peerHost, default: 0] += 1 }
                updateDeadline(connection)
            }
        }
    }

    private func pauseListener() {
        guard listening, listenerPausedUntil == nil else { return }
        try? epoll.remove(listener.descriptor)
        listenerPausedUntil = now + .milliseconds(100)
    }

    private func resumeListenerIfDue() {
        guard let until = listenerPausedUntil, now >= until else { return }
        listenerPausedUntil = nil
        if listening && !draining { try? epoll.add(listener.descriptor, events: .readable, token: Self.listenerToken) }
    }

    // MARK: reading

    private func readAvailable(_ connection: HTTPConnection) {
        if connection.isHandshaking && !advanceHandshake(connection) { return }
        var reads = 0
        while reads < 4 {
            reads += 1
            let wasIdle = connection.parser.progress == .idle
            let lingering = connection.isLingering
            let result: IOResult<Int>
            do {
                result = try scratch.withUnsafeMutableBytes { buffer -> IOResult<Int> in
                    // Lingering only discards input: raw bytes will do, TLS or not.
                    let outcome = lingering ? try connection.socket.read(into: buffer) : try connection.receive(into: buffer)
                    if case .done(let count) = outcome, count > 0, !lingering {
                        buffer.withMemoryRebound(to: UInt8.self) { bytes in
                            connection.parser.append(UnsafeBufferPointer(rebasing: bytes[0..<count]))
                        }
                    }
                    return outcome
                }
            } catch {
                close(connection)
                return
            }
            switch result {
            case .wouldBlock:
                reads = .max
            case .done(0):
                connection.peerClosed = true
                cancelPending(connection)
                // Bytes read just before the end may hold whole requests: those are answered.
                if lingering || connection.slots.isEmpty && !connection.hasOutput && connection.parser.progress == .idle {
                    close(connection)
                    return
                }
                reads = .max
            case .done(let count):
                if lingering { continue }
                connection.lastReadAt = now
                if wasIdle { connection.headStartedAt = connection.servedAny ? now : connection.acceptedAt }
                // A short read drained the socket; a TLS read returns one record at most, so
                // it drained the socket only if OpenSSL holds nothing more either.
                if count < scratch.count && !(connection.tls?.hasPending ?? false) { reads = .max }
            }
        }
        if let tls = connection.tls, !connection.isLingering, !connection.peerClosed, tls.hasPending {
            // Decrypted bytes wait inside OpenSSL where epoll cannot see them.
            connection.needsReadTurn = true
            scheduleTurn(connection)
        }
        if !connection.isLingering {
            flush(connection, parseFirst: true)
        } else {
            updateInterest(connection)
        }
    }

    /// Drives the TLS handshake; true once it is done and HTTP bytes may be read.
    private func advanceHandshake(_ connection: HTTPConnection) -> Bool {
        guard let tls = connection.tls else { return true }
        do {
            switch try tls.handshake() {
            case .done:
                connection.phase = .open
                metrics.tlsHandshakes += 1
                if tls.resumed { metrics.tlsResumedSessions += 1 }
                metricsDirty = true
                return true
            case .wantRead:
                connection.tlsWants = .readable
            case .wantWrite:
                connection.tlsWants = .writable
            case .closed:
                close(connection)
                return false
            }
            updateInterest(connection)
            updateDeadline(connection)
            return false
        } catch {
            // Plain HTTP to the TLS port, an old protocol, a missing client certificate…:
            // a clean close.
            metrics.tlsHandshakeFailures += 1
            metricsDirty = true
            close(connection)
            return false
        }
    }

    /// Parses complete requests buffered on `connection` (up to the pipelining limit and
    /// `limit` complete messages) and dispatches each to the handler. `progressed` says
    /// whether it consumed anything (a head, a message or a parse error).
    private func processRequests(_ connection: HTTPConnection, limit: Int) -> (progressed: Bool, messages: Int) {
        var events = 0
        var messages = 0
        while messages < limit && wantsRequestBytes(connection) {
            let event: HTTPParserEvent?
            do {
                event = try connection.parser.next()
            } catch {
                metrics.parseErrors[error.code, default: 0] += 1
                metricsDirty = true
                fail(connection, status: error.status, code: error.code, message: Self.sentence(for: error))
                return (true, messages)
            }
            guard let event else { return (events > 0, messages) }
            events += 1
            switch event {
            case .head(let head):
                let clientID = head.headers[configuration.requestIDHeader]
                let requestID = clientID.flatMap { RequestIDGenerator.isAcceptable($0) ? $0 : nil } ?? requestIDs.next()
                connection.slots.append(ResponseSlot(
                    sequence: connection.nextSequence, requestID: requestID, version: head.version,
                    keepAlive: head.keepAlive, isHeadRequest: head.method == "HEAD",
                    owesContinue: head.expectsContinue, dispatched: false, response: nil, isFinal: false))
                connection.nextSequence += 1
                connection.bodyStartedAt = now
                if case .contentLength(let length) = head.framing, !charge(connection, upTo: length) {
                    return (true, messages)
                }
            case .message(var request):
                messages += 1
                guard let index = connection.slots.indices.last else { return (true, messages) }
                connection.slots[index].dispatched = true
                connection.slots[index].owesContinue = false
                connection.slots[index].cancellation = request.cancellation
                if connection.peerClosed {
                    // Its bytes came in the same turn as the end of stream (a read that filled
                    // the buffer exactly, then read 0): cancelPending ran before this request
                    // existed, so it is marked here, like any request pending at the close.
                    request.cancellation.cancel()
                    metrics.requestsCancelled += 1
                    metricsDirty = true
                }
                let slot = connection.slots[index]
                request.requestID = slot.requestID
                connection.servedAny = true
                // A pipelined next head starts now, not when the connection was last idle
                // (a client that keeps pipelining would otherwise get a 408 after 10 s).
                connection.headStartedAt = now
                if !request.keepAlive || draining { connection.readingRequests = false }
                metrics.requestsReceived += 1
                metricsDirty = true
                let responder = HTTPResponder(requestID: slot.requestID, connectionID: connection.id,
                                              sequence: slot.sequence, sink: sink)
                handler(request, responder)
            }
        }
        return (events > 0, messages)
    }

    /// Raises the charge of the request being read to `bytes` (its declared length, or a
    /// chunked body's size so far). Over the server's budget the request is refused with 503
    /// (its body is not read: the connection lingers and closes) and false is returned.
    private func charge(_ connection: HTTPConnection, upTo bytes: Int) -> Bool {
        guard let index = connection.slots.indices.last, !connection.slots[index].dispatched else { return true }
        let extra = bytes - connection.slots[index].charge
        guard extra > 0 else { return true }
        if bufferedBodyBytes + extra > configuration.maxBufferedBodyBytes {
            metrics.bodiesRefused += 1
            metricsDirty = true
            var headers = HTTPHeaders()
            headers.add(name: "Retry-After", value: "1")
            fail(connection, status: .serviceUnavailable, code: "server_busy",
                 message: "The server holds as many request bodies as it may; retry shortly.", headers: headers)
            return false
        }
        connection.slots[index].charge += extra
        bufferedBodyBytes += extra
        metricsDirty = true
        return true
    }

    /// Returns the charge of `slot` to the budget (its response is on its way or dropped).
    private func release(_ slot: ResponseSlot) {
        guard slot.charge > 0 else { return }
        bufferedBodyBytes -= slot.charge
        metricsDirty = true
    }

    /// Drops every slot of `connection`, returning their charges. Requests still being
    /// worked on are told their client is gone, so work not started yet is skipped.
    private func dropSlots(_ connection: HTTPConnection) {
        cancelPending(connection)
        for slot in connection.slots { release(slot) }
        connection.slots.removeAll()
    }

    /// Tells the handler that requests without an answer yet have lost their client. Also
    /// on the client's end of stream, as nginx does (499): a client that closes after sending
    /// is almost always gone, and computing for it only delays the others. Answers that are
    /// ready anyway are still written.
    private func cancelPending(_ connection: HTTPConnection) {
        for slot in connection.slots where slot.response == nil {
            guard let cancellation = slot.cancellation, !cancellation.isCancelled else { continue }
            cancellation.cancel()
            metrics.requestsCancelled += 1
            metricsDirty = true
        }
    }

    /// Whether to parse (and read) more: a request already begun is always finished; a new
    /// one only starts below the pipelining depth.
    private func wantsRequestBytes(_ connection: HTTPConnection) -> Bool {
        guard connection.readingRequests else { return false }
        if let last = connection.slots.last, !last.dispatched { return true }
        // Answers the client has not taken yet hold back the next request: otherwise a client
        // that pipelines and never reads makes us buffer every response (unbounded memory,
        // and the loop stalls serializing them).
        if connection.hasOutput { return false }
        return connection.slots.count < configuration.maxPipelinedRequests
    }

    private static func sentence(for error: HTTPParseError) -> String {
        var detail = error.detail
        if let first = detail.first { detail.replaceSubrange(detail.startIndex...detail.startIndex, with: first.uppercased()) }
        return detail.hasSuffix(".") ? detail : detail + "."
    }

    /// Answers the request being read with a server error and stops reading: the response
    /// goes out after any earlier ones, then the connection lingers and closes.
    private func fail(_ connection: HTTPConnection, status: HTTPStatus, code: String, message: String,
                      headers: HTTPHeaders = HTTPHeaders()) {
        connection.readingRequests = false
        let response = HTTPResponse.error(status, code: code, message: message, headers: headers)
        if let index = connection.slots.indices.last, !connection.slots[index].dispatched {
            // The head was parsed (its id is known) but the body failed.
            connection.slots[index].response = response
            connection.slots[index].isFinal = true
            connection.slots[index].owesContinue = false
        } else {
            appendFinalSlot(connection, response: response)
        }
    }

    private func appendFinalSlot(_ connection: HTTPConnection, response: HTTPResponse) {
        connection.slots.append(ResponseSlot(
            sequence: connection.nextSequence, requestID: requestIDs.next(), version: .http1_1, keepAlive: false,
            isHeadRequest: false, owesContinue: false, dispatched: true, response: response, isFinal: true))
        connection.nextSequence += 1
    }

    // MARK: responses

    private func deliver(_ deliveries: [ResponseDelivery]) {
        for connection in record(deliveries) where !connection.isClosed { flush(connection) }
    }

    /// Stores each response in its slot; returns the connections whose first slot was
    /// answered (those that can write now), each once.
    private func record(_ deliveries: [ResponseDelivery]) -> [HTTPConnection] {
        guard !deliveries.isEmpty else { return [] }
        var touched: [HTTPConnection] = []
        for delivery in deliveries {
            guard let connection = connections[delivery.connectionID],
                  let index = connection.slotIndex(for: delivery.sequence),
                  connection.slots[index].response == nil else { continue }
            connection.slots[index].response = delivery.response
            if index == 0, !touched.contains(where: { $0 === connection }) { touched.append(connection) }
        }
        return touched
    }

    /// One turn of `connection`: serializes answered slots in order, writes as much as the
    /// socket takes, parses requests the pipelining limit held back (or, with `parseFirst`,
    /// the bytes just read), and decides what comes next (more reading, lingering close,
    /// close).
    ///
    /// Iterative on purpose: a handler may answer on the loop thread (a full queue's 503),
    /// which frees a pipelining slot, which lets the next buffered request through, and so
    /// on. This used to recurse (`flush` → `processRequests` → `flush`) and, with an answered
    /// later slot behind an unanswered first one and half a head buffered, recursed without
    /// end until the stack overflowed (issue 13). Each round must make progress, and a turn
    /// parses at most `requestsPerTurn` requests; the rest waits for the next turn.
    private func flush(_ connection: HTTPConnection, parseFirst: Bool = false) {
        guard !connection.isLingering else { return }
        var budget = Self.requestsPerTurn
        var parseNow = parseFirst
        while true {
            if parseNow {
                parseNow = false
                budget -= parse(connection, budget: budget).messages
                if connection.isClosed { return }
            }
            let closeAfterOutput = serializeAnswered(connection)
            if connection.hasOutput && !writeOutput(connection) { return }
            if closeAfterOutput || (!connection.readingRequests && connection.slots.isEmpty && !connection.hasOutput) {
                if !connection.hasOutput {
                    beginLingering(connection)
                    return
                }
                connection.readingRequests = false
            }
            // The pipelining limit may have paused parsing; buffered requests can go on now.
            guard wantsRequestBytes(connection) && connection.parser.bufferedByteCount > 0 else { break }
            guard budget > 0 else {
                scheduleTurn(connection)
                break
            }
            let (progressed, messages) = parse(connection, budget: budget)
            budget -= messages
            if connection.isClosed { return }
            // Without progress (say, half a head buffered behind an unanswered request) stop
            // here: the old recursion spun on exactly this.
            guard progressed else { break }
        }
        if connection.peerClosed && connection.readingRequests && !connection.hasPendingTurn
            && wantsRequestBytes(connection) && connection.parser.progress != .idle {
            // The client closed its side mid-request and everything buffered is parsed: that
            // request can never complete. Drop it now rather than hold the socket in
            // CLOSE-WAIT until the body deadline; answers still owed go out first.
            abandonPartialRequest(connection)
        }
        if connection.slots.isEmpty && !connection.hasOutput {
            if connection.peerClosed || (draining && connection.parser.progress == .idle && connection.servedAny) {
                close(connection)
                return
            }
            connection.idleSince = now
        }
        updateInterest(connection)
        updateDeadline(connection)
    }

    private func abandonPartialRequest(_ connection: HTTPConnection) {
        connection.readingRequests = false
        if let last = connection.slots.last, !last.dispatched {
            release(last)
            connection.slots.removeLast()
        }
        metrics.abandonedRequests += 1
        metricsDirty = true
    }

    /// `processRequests`, then files the answers handlers gave on the loop thread; another
    /// connection answered that way gets its turn next round rather than a nested one.
    private func parse(_ connection: HTTPConnection, budget: Int) -> (progressed: Bool, messages: Int) {
        let result = processRequests(connection, limit: budget)
        // A chunked body is charged as it grows (its length was not declared).
        if connection.readingRequests, connection.parser.progress == .body {
            _ = charge(connection, upTo: connection.parser.bodyByteCount)
        }
        for other in record(sink.takeLocal()) where other !== connection && !other.isClosed {
            scheduleTurn(other)
        }
        return result
    }

    /// Moves answered slots, in order, into the connection's output. Returns whether a
    /// response that closes the connection was serialized.
    private func serializeAnswered(_ connection: HTTPConnection) -> Bool {
        while let slot = connection.slots.first {
            guard let response = slot.response else {
                if slot.owesContinue {
                    connection.output.append(HTTPResponseSerializer.continueBytes)
                    connection.slots[0].owesContinue = false
                    // The client starts sending only now.
                    connection.bodyStartedAt = now
                }
                return false
            }
            let keepAlive = slot.keepAlive && !slot.isFinal && !draining && !HTTPResponseSerializer.wantsClose(response)
            var head: [UInt8] = []
            head.reserveCapacity(256 + min(response.body.count, 16 * 1024))
            let separateBody = serializer.serialize(response, requestID: slot.requestID, version: slot.version,
                                                    keepAlive: keepAlive, isHeadRequest: slot.isHeadRequest, into: &head)
            connection.output.append(head)
            if separateBody { connection.output.append(response.body) }
            release(connection.slots.removeFirst())
            metrics.responsesSent += 1
            metricsDirty = true
            if !keepAlive {
                connection.readingRequests = false
                // Anything after a closing response will never be answered.
                dropSlots(connection)
                return true
            }
        }
        return false
    }

    /// Gives `connection` another turn at the next loop round (once, however often asked).
    private func scheduleTurn(_ connection: HTTPConnection) {
        guard !connection.hasPendingTurn else { return }
        connection.hasPendingTurn = true
        pendingTurns.append(connection)
        updateInterest(connection)
    }

    /// Runs the turns deferred in the last round, in order; turns deferred now wait for the
    /// next round, so every connection with work gets one turn per round.
    private func runPendingTurns() {
        guard !pendingTurns.isEmpty else { return }
        let turns = pendingTurns
        pendingTurns.removeAll(keepingCapacity: true)
        for connection in turns {
            connection.hasPendingTurn = false
            guard !connection.isClosed, !connection.isLingering else { continue }
            if connection.needsReadTurn {
                connection.needsReadTurn = false
                readAvailable(connection)
            } else {
                flush(connection, parseFirst: true)
            }
        }
    }

    /// Writes queued output; returns false if the connection was closed on error.
    private func writeOutput(_ connection: HTTPConnection) -> Bool {
        publishMetricsIfDirty()
        while !connection.output.isEmpty {
            let result: IOResult<Int>
            do {
                result = try connection.send(gathering: &writeScratch)
            } catch {
                close(connection)
                return false
            }
            guard case .done(var written) = result else { break }
            if written > 0 { connection.lastWriteProgressAt = now }
            while written > 0, let first = connection.output.first {
                let remaining = first.count - connection.outputOffset
                if written >= remaining {
                    written -= remaining
                    connection.output.removeFirst()
                    connection.outputOffset = 0
                } else {
                    connection.outputOffset += written
                    written = 0
                }
            }
        }
        return true
    }

    /// Final response sent: stop writing, drain input for a while, then close.
    private func beginLingering(_ connection: HTTPConnection) {
        if connection.peerClosed {
            close(connection)
            return
        }
        connection.phase = .lingering(until: now + lingerTimeout)
        dropSlots(connection)
        publishMetricsIfDirty()
        connection.tls?.shutdown()
        try? connection.socket.shutdown(.write)
        updateInterest(connection)
        updateDeadline(connection)
    }

    private func updateInterest(_ connection: HTTPConnection) {
        var wanted: EpollEvents = []
        switch connection.phase {
        case .lingering:
            wanted = .readable
        case .handshaking:
            wanted = connection.tlsWants.isEmpty ? .readable : connection.tlsWants
        case .open:
            wanted = connection.tlsWants
            // While a turn is pending the buffered requests are not parsed yet: reading more
            // would only grow the parser's buffer.
            if !connection.peerClosed && !connection.hasPendingTurn && wantsRequestBytes(connection) {
                wanted.insert(.readable)
            }
            if connection.hasOutput { wanted.insert(.writable) }
        }
        guard wanted != connection.interest else { return }
        do {
            try epoll.modify(connection.socket, events: wanted, token: connection.id)
            connection.interest = wanted
        } catch {
            close(connection)
        }
    }

    // MARK: deadlines

    /// Picks the one deadline that matters now for `connection`.
    private func updateDeadline(_ connection: HTTPConnection) {
        guard !connection.isClosed else { return }
        // A connection still in its TLS handshake counts as idle too (evictable at the limit).
        if !connection.isLingering && connection.isIdle && !connection.isRejected {
            idle.append(connection)
        } else {
            idle.remove(connection)
        }
        var deadline: ContinuousClock.Instant? = nil
        var reason: DeadlineReason? = nil
        if case .lingering(let until) = connection.phase {
            deadline = until
            reason = .linger
        } else if connection.hasOutput {
            deadline = connection.lastWriteProgressAt + writeTimeout
            reason = .write
        } else if connection.readingRequests {
            switch connection.parser.progress {
            case .head:
                deadline = connection.headStartedAt + headerTimeout
                reason = .header
            case .body:
                // A client waiting for our (delayed) 100 Continue is not slow.
                if !(connection.slots.last?.owesContinue ?? false) {
                    // A pause between bytes, or the whole body slower than the minimum rate.
                    let rate = Int64(max(1, configuration.minBodyBytesPerSecond))
                    let allowance = Duration.nanoseconds(Int64(connection.parser.bodyByteCount) * 1_000_000_000 / rate)
                    deadline = min(connection.lastReadAt + bodyTimeout, connection.bodyStartedAt + bodyTimeout + allowance)
                    reason = .body
                }
            case .idle:
                if connection.slots.isEmpty {
                    if connection.servedAny {
                        // Near the connection limit idle clients get less time to come back.
                        let crowded = activeConnections * 4 >= configuration.maxConnections * 3
                        deadline = connection.idleSince + (crowded ? min(keepAliveTimeout, pressureKeepAliveTimeout) : keepAliveTimeout)
                        reason = .idle
                    } else {
                        deadline = connection.acceptedAt + headerTimeout
                        reason = .header
                    }
                }
            }
        }
        connection.deadline = deadline
        connection.deadlineReason = reason
        if let deadline, connection.scheduled.map({ deadline < $0 }) ?? true {
            deadlines.push(deadline, connection.id)
            connection.scheduled = deadline
        }
    }

    private func expireDeadlines() {
        while let entry = deadlines.first, entry.deadline <= now {
            _ = deadlines.popFirst()
            guard let connection = connections[entry.id], connection.scheduled == entry.deadline else { continue }
            connection.scheduled = nil
            guard let deadline = connection.deadline else { continue }
            if deadline > now {
                deadlines.push(deadline, connection.id)
                connection.scheduled = deadline
                continue
            }
            timeOut(connection)
        }
    }

    private func timeOut(_ connection: HTTPConnection) {
        connection.deadline = nil
        guard let reason = connection.deadlineReason else {
            close(connection)
            return
        }
        switch reason {
        case .linger:
            close(connection)
        case .write, .idle:
            count(timeout: reason.rawValue)
            close(connection)
        case .header, .body:
            count(timeout: reason.rawValue)
            if connection.parser.progress == .idle && !connection.servedAny && connection.slots.isEmpty {
                // Connected but never sent a byte: nothing to answer.
                close(connection)
                return
            }
            metrics.parseErrors["request_timeout", default: 0] += 1
            fail(connection, status: .requestTimeout, code: "request_timeout",
                 message: reason == .header ? "The request headers did not arrive in time."
                                            : "The request body stalled.")
            flush(connection)
        }
    }

    private func count(timeout reason: String, times: UInt64 = 1) {
        metrics.timeouts[reason, default: 0] += times
        metricsDirty = true
    }

    // MARK: shutdown and closing

    private func startDraining() {
        draining = true
        drainDeadline = now + configuration.drainTimeout
        if listening {
            try? epoll.remove(listener.descriptor)
            try? listener.close()
            listening = false
        }
        listenerPausedUntil = nil
        for connection in Array(connections.values) {
            // A connection that has not sent its first request yet was just accepted: its
            // client is about to send, and closing now would reset it (with a shared,
            // socket-activated listener the next server would have served it). Let it send one
            // request (bounded by the header timeout and the drain deadline); it is closed after.
            if !connection.isLingering && connection.isIdle && connection.servedAny {
                close(connection)
            } else if !connection.isLingering && connection.parser.progress == .idle && !connection.isIdle {
                // No new requests; the pending ones finish.
                connection.readingRequests = false
                updateInterest(connection)
            }
        }
    }

    private func close(_ connection: HTTPConnection) {
        guard !connection.isClosed, connections.removeValue(forKey: connection.id) != nil else { return }
        connection.isClosed = true
        if connection.isRejected { rejectingConnections -= 1 } else { activeConnections -= 1 }
        metricsDirty = true
        publishMetricsIfDirty()
        connection.tls = nil              // SSL_free; the socket is ours to close
        try? connection.socket.close()   // also removes it from epoll
        connection.output.removeAll()
        dropSlots(connection)
        idle.remove(connection)
        if let host = connection.peerHost {
            let left = connectionsPerAddress[host, default: 1] - 1
            connectionsPerAddress[host] = left > 0 ? left : nil
        }
    }

    private func closeEverything() {
        for connection in Array(connections.values) { close(connection) }
        if listening {
            try? epoll.remove(listener.descriptor)
            listening = false
        }
        try? listener.close()
        metrics.connectionsOpen = 0
        publish(metrics)
    }
}
