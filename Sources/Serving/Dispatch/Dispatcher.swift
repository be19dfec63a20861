import Foundation

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
/// and the real clock.
public final class Dispatcher: @unchecked Sendable {
    // @unchecked: `core`, `transport`, `thread` and `stopping` only while `condition` is locked.
    /// Dispatcher settings (validated by the caller).
    public struct Configuration: Sendable {
        public var maxBatch: Int
        public var maxDelayNanos: UInt64
        public var maxQueue: Int
        public var policy: RoutingPolicy
        public var workerCount: Int
        public var maxBatchesPerWorker: Int

        /// Creates a configuration.
        public init(maxBatch: Int, maxDelayNanos: UInt64, maxQueue: Int, policy: RoutingPolicy,
                    workerCount: Int, maxBatchesPerWorker: Int = 2) {
            self.maxBatch = maxBatch
            self.maxDelayNanos = maxDelayNanos
            self.maxQueue = maxQueue
            self.policy = policy
            self.workerCount = workerCount
            self.maxBatchesPerWorker = maxBatchesPerWorker
        }
    }

    private let condition = NSCondition()
    private var core: DispatchCore<InferenceJob>
    private var transport: BatchTransport?
    private var thread: Thread?
    private var stopping = false
    private let onBatchSent: @Sendable (_ size: Int, _ worker: Int) -> Void
    private let onRetry: @Sendable (_ requests: Int) -> Void

    /// Creates a dispatcher; `onBatchSent` observes every batch and `onRetry` every request
    /// re-sent after a worker died (for metrics).
    public init(configuration: Configuration,
                onBatchSent: @escaping @Sendable (_ size: Int, _ worker: Int) -> Void = { _, _ in },
                onRetry: @escaping @Sendable (_ requests: Int) -> Void = { _ in }) {
        self.onRetry = onRetry
        core = DispatchCore(queueCapacity: configuration.maxQueue, maxBatch: configuration.maxBatch,
                            maxDelay: configuration.maxDelayNanos, policy: configuration.policy,
                            workerCount: configuration.workerCount,
                            maxBatchesPerWorker: configuration.maxBatchesPerWorker)
        self.onBatchSent = onBatchSent
    }

    /// Starts the dispatching thread.
    public func start(transport: BatchTransport) {
        condition.lock()
        self.transport = transport
        let thread = Thread { [weak self] in self?.loop() }
        thread.name = "dispatcher"
        self.thread = thread
        condition.unlock()
        thread.start()
    }

    /// Offers a request; `accepted` means its completion will be called exactly once.
    public func submit(_ job: InferenceJob) -> SubmitOutcome {
        condition.lock()
        defer { condition.unlock() }
        let outcome = core.submit(job, now: Monotonic.now(), deadline: job.deadline)
        if outcome == .accepted { condition.broadcast() }
        return outcome
    }

    /// A worker returned results for a batch.
    public func batchFinished(batchID: UInt64, worker: Int, results: [InferenceResult], inferenceNanos: UInt64) {
        guard let batch = complete(batchID: batchID, worker: worker, inferenceNanos: inferenceNanos) else { return }
        for (index, request) in batch.requests.enumerated() {
            guard index < results.count else {
                request.job.finish(.failure(.inferenceFailed(
                    "worker \(worker) returned \(results.count) results for a batch of \(batch.requests.count)")))
                continue
            }
            let info = BatchInfo(batchSize: batch.requests.count, worker: worker,
                                 queueNanos: batch.sentAt &- min(batch.sentAt, request.enqueuedAt),
                                 inferenceNanos: inferenceNanos)
            request.job.finish(.success((results[index], info)))
        }
    }

    /// A worker reported that the model failed on a batch; its requests are not retried
    /// (the same input would fail again).
    public func batchFailed(batchID: UInt64, worker: Int, message: String) {
        guard let batch = complete(batchID: batchID, worker: worker, inferenceNanos: 0) else { return }
        for request in batch.requests { request.job.finish(.failure(.inferenceFailed(message))) }
    }

    private func complete(batchID: UInt64, worker: Int, inferenceNanos: UInt64) -> DispatchedBatch<InferenceJob>? {
        condition.lock()
        defer { condition.unlock() }
        let batch = core.complete(batchID: batchID, worker: worker, inferenceNanos: inferenceNanos)
        condition.broadcast()
        return batch
    }

    /// A worker finished its handshake and can take batches.
    public func workerReady(_ worker: Int) {
        condition.lock()
        core.workerReady(worker)
        condition.broadcast()
        condition.unlock()
    }

    /// A worker died or stopped; what it held is retried once elsewhere.
    public func workerLost(_ worker: Int, reason: String) {
        condition.lock()
        let (retried, failed) = core.workerLost(worker)
        condition.broadcast()
        condition.unlock()
        if retried > 0 { onRetry(retried) }
        for request in failed { request.job.finish(.failure(.workerFailed(reason))) }
    }

    /// Batches a worker's retired process (replaced by a reload) held when it ended: retried
    /// once elsewhere like after a death, but the worker index stays ready (its new process
    /// serves it).
    public func batchesLost(_ batchIDs: [UInt64], worker: Int, reason: String) {
        guard !batchIDs.isEmpty else { return }
        condition.lock()
        let (retried, failed) = core.batchesLost(batchIDs, worker: worker)
        condition.broadcast()
        condition.unlock()
        if retried > 0 { onRetry(retried) }
        for request in failed { request.job.finish(.failure(.workerFailed(reason))) }
    }

    /// Sets whether new requests are taken (the worker pool says `.unavailable` when it gives up).
    public func setAdmission(_ admission: Admission) {
        condition.lock()
        if core.admission != .draining { core.admission = admission }
        condition.unlock()
    }

    /// Stops taking requests; everything accepted still runs.
    public func beginDrain() {
        condition.lock()
        core.admission = .draining
        condition.broadcast()
        condition.unlock()
    }

    /// Waits until nothing is queued or running, or until `timeoutNanos` passed; true if idle.
    public func waitUntilIdle(timeoutNanos: UInt64) -> Bool {
        let deadline = Monotonic.now() &+ timeoutNanos
        condition.lock()
        defer { condition.unlock() }
        while !core.isIdle {
            let now = Monotonic.now()
            guard now < deadline else { return false }
            _ = condition.wait(until: Date(timeIntervalSinceNow: Double(deadline - now) / 1e9))
        }
        return true
    }

    /// Stops the thread; whatever is still queued or running is answered `shuttingDown`.
    public func stop() {
        condition.lock()
        stopping = true
        core.admission = .draining
        let abandoned = core.removeAllWaiting() + core.removeAllOutstanding()
        condition.broadcast()
        condition.unlock()
        for request in abandoned { request.job.finish(.failure(.shuttingDown)) }
    }

    /// The current state, for health checks and metrics.
    public var snapshot: DispatcherSnapshot {
        condition.lock()
        defer { condition.unlock() }
        return DispatcherSnapshot(admission: core.admission, queueDepth: core.queue.count,
                                  queueCapacity: core.queue.capacity, readyWorkers: core.router.readyCount,
                                  totalWorkers: core.router.workers.count,
                                  inFlightPerWorker: core.inFlightPerWorker)
    }

    private func loop() {
        condition.lock()
        while !stopping {
            let now = Monotonic.now()
            let step = core.step(now: now, isCancelled: { $0.isCancelled })
            if step.sends.isEmpty && step.expired.isEmpty && step.cancelled.isEmpty {
                if let wake = step.wakeAt {
                    let seconds = wake > now ? Double(wake - now) / 1e9 : 0
                    _ = condition.wait(until: Date(timeIntervalSinceNow: seconds))
                } else {
                    condition.wait()
                }
                continue
            }
            let transport = self.transport
            if core.isIdle { condition.broadcast() }
            condition.unlock()
            for request in step.expired { request.job.finish(.failure(.deadlineExceeded)) }
            for request in step.cancelled { request.job.finish(.failure(.cancelled)) }
            for batch in step.sends {
                onBatchSent(batch.requests.count, batch.worker)
                transport?.send(batchID: batch.id, payloads: batch.requests.map(\.job.payload), to: batch.worker)
            }
            condition.lock()
        }
        condition.unlock()
    }
}
