import Foundation
import HTTP
import Locking

/// Sends batches to worker processes; implemented by the worker pool.
public protocol BatchTransport: AnyObject, Sendable {
    /// Hands a batch to `worker` without blocking for long. The transport later reports the
    /// outcome with `Dispatcher.batchFinished` / `batchFailed`, or `workerLost` if the worker dies.
    func send(batchID: UInt64, payloads: [InferencePayload], to worker: Int)
}

/// A consistent view of the dispatcher for `/healthz` and `/metrics`.
public struct DispatcherSnapshot: Sendable, Equatable {
    public var admission: Admission
    public var queueDepth: Int
    public var queueCapacity: Int
    public var readyWorkers: Int
    public var totalWorkers: Int
    public var inFlightPerWorker: [Int]
}

/// The dynamic batcher and router, run on its own thread.
///
/// Requests wait in a bounded queue; whenever some worker can take a batch, the dispatcher cuts
/// one (at once for a request that found a worker idle; else when full, or when the oldest
/// request has waited `maxDelay`), asks the router for a worker and hands the batch to the
/// transport. All decisions live in `DispatchCore`; this class only adds the lock, the thread
/// and the clock (injected: tests move a `ManualClock` past a deadline instead of sleeping).
public final class Dispatcher: @unchecked Sendable {
    // @unchecked: `DispatchCore` and its generic parts declare no Sendable; all of it is behind `state`.
    /// Dispatcher settings (validated by the caller).
    public struct Configuration: Sendable {
        public var maxBatch: Int
        public var maxDelay: Duration
        public var maxQueue: Int
        public var policy: RoutingPolicy
        public var workerCount: Int
        public var maxBatchesPerWorker: Int

        /// Creates a configuration.
        public init(maxBatch: Int, maxDelay: Duration, maxQueue: Int, policy: RoutingPolicy,
                    workerCount: Int, maxBatchesPerWorker: Int = 2) {
            self.maxBatch = maxBatch
            self.maxDelay = maxDelay
            self.maxQueue = maxQueue
            self.policy = policy
            self.workerCount = workerCount
            self.maxBatchesPerWorker = maxBatchesPerWorker
        }
    }

    private struct State {
        var core: DispatchCore<InferenceJob>
        var transport: BatchTransport?
        var thread: Thread?
        var stopping = false
        /// The time of the loop's last decision (tests wait for it after moving the clock).
        var decidedAt: ContinuousClock.Instant?
    }

    private let state: LockedCondition<State>
    private let onBatchSent: @Sendable (_ size: Int, _ worker: Int) -> Void
    private let onRetry: @Sendable (_ requests: Int) -> Void
    /// The time every job deadline, batch delay and queue time is measured in; whoever
    /// computes a job's deadline (`InferenceService`) reads this same clock.
    public let clock: any ServerClock

    /// Creates a dispatcher; `onBatchSent` observes every batch and `onRetry` every request
    /// re-sent after a worker died (for metrics).
    public init(configuration: Configuration, clock: any ServerClock = SystemServerClock(),
                onBatchSent: @escaping @Sendable (_ size: Int, _ worker: Int) -> Void = { _, _ in },
                onRetry: @escaping @Sendable (_ requests: Int) -> Void = { _ in }) {
        self.onRetry = onRetry
        self.clock = clock
        state = LockedCondition(State(core: DispatchCore(queueCapacity: configuration.maxQueue, maxBatch: configuration.maxBatch,
                                                         maxDelay: configuration.maxDelay, policy: configuration.policy,
                                                         workerCount: configuration.workerCount,
                                                         maxBatchesPerWorker: configuration.maxBatchesPerWorker)))
        self.onBatchSent = onBatchSent
    }

    /// Starts the dispatching thread.
    public func start(transport: BatchTransport) {
        let thread = Thread { [weak self] in self?.loop() }
        thread.name = "dispatcher"
        state.withLock { state in
            state.transport = transport
            state.thread = thread
        }
        // A clock moved by hand re-wakes the loop's wait; taking the lock first means the loop
        // is either before reading the time (and sees the new one) or waiting (and gets the
        // broadcast).
        clock.setWake { [weak self] in
            guard let self else { return }
            self.state.withLock { _ in }
            self.state.broadcast()
        }
        thread.start()
    }

    /// Offers a request; `accepted` means its completion will be called exactly once.
    public func submit(_ job: InferenceJob) -> SubmitOutcome {
        let outcome = state.withLock { $0.core.submit(job, now: clock.now, deadline: job.deadline) }
        if outcome == .accepted { state.broadcast() }
        return outcome
    }

    /// A worker returned results for a batch.
    public func batchFinished(batchID: UInt64, worker: Int, results: [InferenceResult], inferenceTime: Duration) {
        guard let batch = complete(batchID: batchID, worker: worker, inferenceTime: inferenceTime) else { return }
        for (index, request) in batch.requests.enumerated() {
            guard index < results.count else {
                request.job.finish(.failure(.inferenceFailed(
                    "worker \(worker) returned \(results.count) results for a batch of \(batch.requests.count)")))
                continue
            }
            let info = BatchInfo(batchSize: batch.requests.count, worker: worker,
                                 queueTime: request.enqueuedAt.duration(to: max(batch.sentAt, request.enqueuedAt)),
                                 inferenceTime: inferenceTime)
            request.job.finish(.success((results[index], info)))
        }
    }

    /// A worker reported that the model failed on a batch; its requests are not retried
    /// (the same input would fail again).
    public func batchFailed(batchID: UInt64, worker: Int, message: String) {
        guard let batch = complete(batchID: batchID, worker: worker, inferenceTime: .zero) else { return }
        for request in batch.requests { request.job.finish(.failure(.inferenceFailed(message))) }
    }

    private func complete(batchID: UInt64, worker: Int, inferenceTime: Duration) -> DispatchedBatch<InferenceJob>? {
        let batch = state.withLock { $0.core.complete(batchID: batchID, worker: worker, inferenceTime: inferenceTime) }
        state.broadcast()
        return batch
    }

    /// A worker finished its handshake and can take batches.
    public func workerReady(_ worker: Int) {
        state.withLock { $0.core.workerReady(worker) }
        state.broadcast()
    }

    /// A worker died or stopped; what it held is retried once elsewhere.
    public func workerLost(_ worker: Int, reason: String) {
        let (retried, failed) = state.withLock { $0.core.workerLost(worker) }
        state.broadcast()
        if retried > 0 { onRetry(retried) }
        for request in failed { request.job.finish(.failure(.workerFailed(reason))) }
    }

    /// Batches a worker's retired process (replaced by a reload) held when it ended: retried
    /// once elsewhere like after a death, but the worker index stays ready (its new process
    /// serves it).
    public func batchesLost(_ batchIDs: [UInt64], worker: Int, reason: String) {
        guard !batchIDs.isEmpty else { return }
        let (retried, failed) = state.withLock { $0.core.batchesLost(batchIDs, worker: worker) }
        state.broadcast()
        if retried > 0 { onRetry(retried) }
        for request in failed { request.job.finish(.failure(.workerFailed(reason))) }
    }

    /// Sets whether new requests are taken (the worker pool says `.unavailable` when it gives up).
    public func setAdmission(_ admission: Admission) {
        state.withLock { state in
            if state.core.admission != .draining { state.core.admission = admission }
        }
    }

    /// Stops taking requests; everything accepted still runs.
    public func beginDrain() {
        state.withLock { $0.core.admission = .draining }
        state.broadcast()
    }

    /// Waits until nothing is queued or running, or until `timeout` passed; true if idle.
    public func waitUntilIdle(timeout: Duration) -> Bool {
        state.wait(until: { $0.core.isIdle }, timeout: timeout)
    }

    /// Stops the thread; whatever is still queued or running is answered `shuttingDown`.
    public func stop() {
        let abandoned = state.withLock { state in
            state.stopping = true
            state.core.admission = .draining
            return state.core.removeAllWaiting() + state.core.removeAllOutstanding()
        }
        clock.setWake(nil)
        state.broadcast()
        for request in abandoned { request.job.finish(.failure(.shuttingDown)) }
    }

    /// The current state, for health checks and metrics.
    public var snapshot: DispatcherSnapshot {
        state.withLock { state in
            DispatcherSnapshot(admission: state.core.admission, queueDepth: state.core.queue.count,
                               queueCapacity: state.core.queue.capacity, readyWorkers: state.core.router.readyCount,
                               totalWorkers: state.core.router.workers.count,
                               inFlightPerWorker: state.core.inFlightPerWorker)
        }
    }

    /// Whether the loop has made a decision at `instant` of its clock or later: a test that
    /// moved a `ManualClock` waits for this before checking what the dispatcher did (or did
    /// not do) at the new time.
    func hasDecided(at instant: ContinuousClock.Instant) -> Bool {
        state.withLock { state in state.decidedAt.map { $0 >= instant } ?? false }
    }

    private func loop() {
        while true {
            // Under the lock: the next step, or a wait for a change (or for the step's wake-up
            // time) and another try.
            let next = state.withLock(repeating: { state -> ConditionStep<(DispatchStep<InferenceJob>, BatchTransport?)?> in
                guard !state.stopping else { return .done(nil) }
                let now = clock.now
                let step = state.core.step(now: now, isCancelled: { $0.isCancelled })
                state.decidedAt = now
                if step.sends.isEmpty && step.expired.isEmpty && step.cancelled.isEmpty {
                    guard let wake = step.wakeAt else { return .wait(until: nil) }
                    // The condition waits in real time: as long as the clock says is left.
                    return .wait(until: .now + max(.zero, now.duration(to: wake)))
                }
                if state.core.isIdle { self.state.broadcast() }
                return .done((step, state.transport))
            })
            guard let (step, transport) = next else { return }
            for request in step.expired { request.job.finish(.failure(.deadlineExceeded)) }
            for request in step.cancelled { request.job.finish(.failure(.cancelled)) }
            for batch in step.sends {
                onBatchSent(batch.requests.count, batch.worker)
                transport?.send(batchID: batch.id, payloads: batch.requests.map(\.job.payload), to: batch.worker)
            }
        }
    }
}
