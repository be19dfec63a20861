import Foundation
import JSON
import Locking

/// How requests are offered.
public enum LoadMode: Sendable, Equatable {
    /// `concurrency` clients, each sending its next request as soon as the last is answered.
    case closedLoop(concurrency: Int)
    /// A fixed arrival rate regardless of answers; latency is measured from each request's
    /// *intended* send time, so a stalled server shows as latency instead of hiding it
    /// (coordinated omission). `connections` bounds the requests outstanding at once.
    case openLoop(ratePerSecond: Double, connections: Int)
}

/// One finished request.
public struct LoadSample: Sendable {
    /// From (intended) send to the complete response.
    public var latency: Duration
    /// HTTP status, or 0 for a transport error.
    public var status: Int
    /// `batch_size` and `worker` of a 200 `/infer` answer, when present.
    public var batchSize: Int?
    public var worker: Int?
    /// True during the warm-up (not to be counted).
    public var warmup: Bool
}

/// A load generator for `fusion-serve bench`, like Triton's perf_analyzer: closed or open loop
/// over keep-alive connections, every sample reported to `record` (called under a lock).
public final class LoadGenerator: @unchecked Sendable {
    // @unchecked: `record` (not @Sendable: a caller's collector) is only called under `recording`.
    public struct Configuration: Sendable {
        public var host: String
        public var port: UInt16
        public var request: [UInt8]
        public var mode: LoadMode
        public var durationSeconds: Double
        public var warmupSeconds: Double
        public var timeoutMilliseconds: Int

        /// Creates a configuration; `request` is the complete request bytes sent each time.
        public init(host: String, port: UInt16, request: [UInt8], mode: LoadMode, durationSeconds: Double,
                    warmupSeconds: Double, timeoutMilliseconds: Int) {
            self.host = host
            self.port = port
            self.request = request
            self.mode = mode
            self.durationSeconds = durationSeconds
            self.warmupSeconds = warmupSeconds
            self.timeoutMilliseconds = timeoutMilliseconds
        }
    }

    private let configuration: Configuration
    /// Held while `record` runs (samples come from many threads, one at a time); guards the
    /// count of samples reported (a `Locked<Void>` would do, but ThreadSanitizer misreads the
    /// exclusive access to a zero-size value as a race).
    private let recorded = Locked<Int>(0)
    private let record: (LoadSample) -> Void

    /// A generator that reports each sample to `record`.
    public init(configuration: Configuration, record: @escaping (LoadSample) -> Void) {
        self.configuration = configuration
        self.record = record
    }

    /// Runs warm-up plus duration; returns the measured wall time in seconds (after warm-up).
    public func run() -> Double {
        let start = ContinuousClock.now
        let measureFrom = start + .nanoseconds(UInt64(configuration.warmupSeconds * 1e9))
        let end = measureFrom + .nanoseconds(UInt64(configuration.durationSeconds * 1e9))
        switch configuration.mode {
        case .closedLoop(let concurrency):
            runClosed(concurrency: max(1, concurrency), measureFrom: measureFrom, end: end)
        case .openLoop(let rate, let connections):
            runOpen(rate: rate, connections: max(1, connections), start: start, measureFrom: measureFrom, end: end)
        }
        return Double((min(ContinuousClock.now, end) - measureFrom).unsignedNanoseconds) / 1e9
    }

    private func emit(_ sample: LoadSample) {
        recorded.withLock { count in
            record(sample)
            count += 1
        }
    }

    private func sample(sentAt: ContinuousClock.Instant, measureFrom: ContinuousClock.Instant, _ outcome: Result<BenchResponse, Error>) -> LoadSample {
        let latency = ContinuousClock.now - sentAt
        switch outcome {
        case .success(let response):
            var batchSize: Int?
            var worker: Int?
            if response.status == 200, let json = try? JSONParser.parse(response.body) {
                if case .number(_, let b)? = json["batch_size"] { batchSize = Int(b) }
                if case .number(_, let w)? = json["worker"] { worker = Int(w) }
            }
            return LoadSample(latency: latency, status: response.status, batchSize: batchSize, worker: worker,
                              warmup: sentAt < measureFrom)
        case .failure:
            return LoadSample(latency: latency, status: 0, batchSize: nil, worker: nil, warmup: sentAt < measureFrom)
        }
    }

    /// Sends one request on `client` (reconnecting after an error); returns the outcome.
    private func send(_ client: inout BenchClient?) -> Result<BenchResponse, Error> {
        do {
            if client == nil {
                client = try BenchClient(host: configuration.host, port: configuration.port,
                                         timeoutMilliseconds: configuration.timeoutMilliseconds)
            }
            guard let connection = client else { throw BenchClientError.closed }
            return .success(try connection.exchange(configuration.request))
        } catch {
            client = nil
            return .failure(error)
        }
    }

    private func runClosed(concurrency: Int, measureFrom: ContinuousClock.Instant, end: ContinuousClock.Instant) {
        let group = DispatchGroup()
        for _ in 0..<concurrency {
            group.enter()
            Thread { [self] in
                defer { group.leave() }
                var client: BenchClient?
                while ContinuousClock.now < end {
                    let sentAt = ContinuousClock.now
                    let outcome = send(&client)
                    emit(sample(sentAt: sentAt, measureFrom: measureFrom, outcome))
                }
            }.start()
        }
        group.wait()
    }

    private func runOpen(rate: Double, connections: Int, start: ContinuousClock.Instant, measureFrom: ContinuousClock.Instant, end: ContinuousClock.Instant) {
        // A server far behind the rate must not make the client queue grow without bound:
        // past a minute of arrivals the oldest intended sends are recorded as client drops.
        let arrivals = ArrivalQueue(capacity: max(1000, Int(rate * 60)))
        let group = DispatchGroup()
        for _ in 0..<connections {
            group.enter()
            Thread { [self] in
                defer { group.leave() }
                var client: BenchClient?
                while let sentAt = arrivals.pop() {
                    let outcome = send(&client)
                    emit(sample(sentAt: sentAt, measureFrom: measureFrom, outcome))
                }
            }.start()
        }
        let interval = 1e9 / max(rate, 0.001)
        var k: UInt64 = 0
        while true {
            let due = start + .nanoseconds(UInt64(Double(k) * interval))
            guard due < end else { break }
            let now = ContinuousClock.now
            if due > now {
                usleep(UInt32(min(Double((due - now).unsignedNanoseconds) / 1000, 1_000_000)))
                continue
            }
            if let dropped = arrivals.push(due) {
                emit(LoadSample(latency: ContinuousClock.now - dropped, status: 0, batchSize: nil, worker: nil,
                                warmup: dropped < measureFrom))
            }
            k += 1
        }
        arrivals.finish()
        group.wait()
    }
}

/// Intended send times waiting for a free connection (bounded; oldest dropped when full).
private final class ArrivalQueue: Sendable {
    private struct State {
        var times: RingBuffer<ContinuousClock.Instant>
        var finished = false
    }

    private let state: LockedCondition<State>

    init(capacity: Int) { state = LockedCondition(State(times: RingBuffer(capacity: capacity))) }

    /// Adds an arrival; returns the oldest one if it had to be dropped to make room.
    func push(_ time: ContinuousClock.Instant) -> ContinuousClock.Instant? {
        let dropped = state.withLock { state in
            let dropped = state.times.isFull ? state.times.popFirst() : nil
            state.times.append(time)
            return dropped
        }
        state.signal()
        return dropped
    }

    /// The next arrival, waiting for one; nil once finished and empty.
    func pop() -> ContinuousClock.Instant? {
        state.withLock(waitingUntil: { !$0.times.isEmpty || $0.finished }) { state, _ in state.times.popFirst() }
    }

    func finish() {
        state.withLock { $0.finished = true }
        state.broadcast()
    }
}
