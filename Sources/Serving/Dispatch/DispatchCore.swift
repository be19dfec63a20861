/// Whether the dispatcher takes new requests, and if not, why (each maps to a 503 code).
public enum Admission: Equatable, Sendable {
    /// Accepting requests.
    case open
    /// No worker has finished loading the model yet.
    case starting
    /// Every worker is down and none is coming back.
    case unavailable
    /// SIGTERM/SIGINT received: finishing what was accepted, taking nothing new.
    case draining
}

/// The answer to a submission.
public enum SubmitOutcome: Equatable, Sendable {
    case accepted
    case queueFull
    case refused(Admission)
}

/// A batch sent to a worker and not yet answered.
struct DispatchedBatch<Job> {
    let id: UInt64
    let worker: Int
    let requests: [QueuedRequest<Job>]
    /// 0 the first time, 1 when re-sent after the worker holding it died.
    let attempt: Int
    let sentAt: ContinuousClock.Instant
}

/// What one dispatcher step decided: batches to send, requests whose deadline passed, and when
/// to look again if nothing else happens.
struct DispatchStep<Job> {
    var sends: [DispatchedBatch<Job>] = []
    var expired: [QueuedRequest<Job>] = []
    /// Requests whose client went away before their batch was formed (not computed).
    var cancelled: [QueuedRequest<Job>] = []
    var wakeAt: ContinuousClock.Instant?
}

/// The dispatcher's whole decision logic — queue, batching, routing, deadlines, retry after a
/// worker death — as a value without threads or clocks. `Dispatcher` runs it under a lock.
struct DispatchCore<Job> {
    private struct Retry {
        let requests: [QueuedRequest<Job>]
        let avoiding: Int
    }

    private(set) var queue: BatchQueue<Job>
    private(set) var router: Router
    private var retries: [Retry] = []
    private(set) var outstanding: [UInt64: DispatchedBatch<Job>] = [:]
    private var nextBatchID: UInt64 = 1
    var admission: Admission = .starting

    init(queueCapacity: Int, maxBatch: Int, maxDelay: Duration, policy: RoutingPolicy,
         workerCount: Int, maxBatchesPerWorker: Int = 2) {
        queue = BatchQueue(capacity: queueCapacity, maxBatch: maxBatch, maxDelay: maxDelay)
        router = Router(policy: policy, workerCount: workerCount, maxBatchesPerWorker: maxBatchesPerWorker)
    }

    /// Nothing queued, waiting for a retry, or running.
    var isIdle: Bool { queue.isEmpty && retries.isEmpty && outstanding.isEmpty }

    /// Requests in flight on each worker.
    var inFlightPerWorker: [Int] { router.workers.map(\.inFlightRequests) }

    mutating func submit(_ job: Job, now: ContinuousClock.Instant, deadline: ContinuousClock.Instant) -> SubmitOutcome {
        guard admission == .open else { return .refused(admission) }
        let workerIdle = retries.isEmpty && router.hasIdleWorker
        return queue.enqueue(job, now: now, deadline: deadline, workerIdle: workerIdle) ? .accepted : .queueFull
    }

    /// Decides what to do at `now`; `isCancelled` tells requests whose client is gone.
    mutating func step(now: ContinuousClock.Instant, isCancelled: (Job) -> Bool = { _ in false }) -> DispatchStep<Job> {
        var out = DispatchStep<Job>()
        out.cancelled = queue.removeAbandoned(isCancelled)
        out.expired = queue.removeExpired(now: now)

        // Batches re-sent after a worker death go first: their requests are the oldest.
        while !retries.isEmpty {
            let retry = retries[0]
            let live = retry.requests.filter { $0.deadline > now }
            out.expired += retry.requests.filter { $0.deadline <= now }
            if live.isEmpty { retries.removeFirst(); continue }
            guard let worker = router.choose(batchSize: live.count, avoiding: retry.avoiding) else { break }
            retries.removeFirst()
            out.sends.append(send(live, to: worker, attempt: 1, now: now))
        }

        cutting: while retries.isEmpty, !queue.isEmpty {
            // Only cut a batch that the router would place now; otherwise requests accumulate.
            // A partial batch goes only to an idle worker (a full one may be pipelined behind a
            // running batch): cutting it early would split a closed loop's clients into small
            // batches that cost more per request.
            let size = min(queue.count, queue.maxBatch)
            let full = size == queue.maxBatch
            guard router.choose(batchSize: size, full: full) != nil else { break cutting }
            switch queue.decision(now: now) {
            case .empty:
                break cutting
            case .waitUntil(let due):
                out.wakeAt = due
                break cutting
            case .dispatchNow:
                let batch = queue.takeBatch()
                guard let worker = router.choose(batchSize: batch.count, full: full) else {
                    // Unreachable: the same question was answered just above. Keep the requests.
                    retries.append(Retry(requests: batch, avoiding: -1))
                    break cutting
                }
                out.sends.append(send(batch, to: worker, attempt: 0, now: now))
            }
        }

        let deadlines = [queue.earliestDeadline] + retries.map { $0.requests.map(\.deadline).min() }
        if let earliest = deadlines.compactMap({ $0 }).min() {
            out.wakeAt = min(out.wakeAt ?? earliest, earliest)
        }
        return out
    }

    private mutating func send(_ requests: [QueuedRequest<Job>], to worker: Int, attempt: Int,
                               now: ContinuousClock.Instant) -> DispatchedBatch<Job> {
        let batch = DispatchedBatch(id: nextBatchID, worker: worker, requests: requests,
                                    attempt: attempt, sentAt: now)
        nextBatchID += 1
        outstanding[batch.id] = batch
        router.didDispatch(to: worker, requests: requests.count)
        return batch
    }

    /// A worker answered a batch (results or an inference error). Returns the batch, or nil if
    /// it is unknown (already re-routed after the worker was declared dead).
    mutating func complete(batchID: UInt64, worker: Int, inferenceTime: Duration) -> DispatchedBatch<Job>? {
        guard let batch = outstanding[batchID], batch.worker == worker else { return nil }
        outstanding[batchID] = nil
        router.didComplete(worker: worker, requests: batch.requests.count, inferenceTime: inferenceTime)
        return batch
    }

    /// A worker is ready to take batches (after its handshake, or after a restart).
    mutating func workerReady(_ worker: Int) {
        router.setReady(worker, true)
        if admission == .starting || admission == .unavailable { admission = .open }
    }

    /// A worker died or was stopped. Each batch it held is queued once more for another worker
    /// (`retried` counts those requests); requests already on their second attempt are returned
    /// to be failed.
    mutating func workerLost(_ worker: Int) -> (retried: Int, failed: [QueuedRequest<Job>]) {
        router.setReady(worker, false)
        var failed: [QueuedRequest<Job>] = []
        var retried = 0
        for batch in outstanding.values.filter({ $0.worker == worker }).sorted(by: { $0.id < $1.id }) {
            outstanding[batch.id] = nil
            if batch.attempt == 0 {
                retries.append(Retry(requests: batch.requests, avoiding: worker))
                retried += batch.requests.count
            } else {
                failed += batch.requests
            }
        }
        return (retried, failed)
    }

    /// Some batches a worker index held will never be answered, but the worker itself is still
    /// ready: a reload replaced its process, and the retired process ended (crashed, or was
    /// killed for overstaying) before answering them. Each is queued once more, as after a
    /// death, any worker welcome (the new process under the same index is healthy); requests
    /// already on their second attempt are returned to be failed. Unknown ids are ignored.
    mutating func batchesLost(_ ids: [UInt64], worker: Int) -> (retried: Int, failed: [QueuedRequest<Job>]) {
        var failed: [QueuedRequest<Job>] = []
        var retried = 0
        for id in ids.sorted() {
            guard let batch = outstanding[id], batch.worker == worker else { continue }
            outstanding[id] = nil
            router.didAbandon(worker: worker, requests: batch.requests.count)
            if batch.attempt == 0 {
                retries.append(Retry(requests: batch.requests, avoiding: -1))
                retried += batch.requests.count
            } else {
                failed += batch.requests
            }
        }
        return (retried, failed)
    }

    /// Removes everything still waiting (queue and retries) — used when the drain time is up.
    mutating func removeAllWaiting() -> [QueuedRequest<Job>] {
        let waiting = queue.removeAll() + retries.flatMap(\.requests)
        retries.removeAll()
        return waiting
    }

    /// Removes every batch still held by workers — used when the drain time is up.
    mutating func removeAllOutstanding() -> [QueuedRequest<Job>] {
        let held = outstanding.values.sorted(by: { $0.id < $1.id }).flatMap(\.requests)
        outstanding.removeAll()
        return held
    }
}
