/// A request waiting in the dispatcher queue, with the times that decide its fate.
struct QueuedRequest<Job> {
    let job: Job
    /// When it entered the queue.
    let enqueuedAt: ContinuousClock.Instant
    /// After this instant it must not start running any more; it is answered 504 instead.
    let deadline: ContinuousClock.Instant
    /// It arrived to an empty queue while a worker was idle: nothing is running that it could
    /// usefully wait behind, so it goes at once whatever `maxDelay` says (no idle wait).
    var arrivedToIdleWorker = false
}

/// What the queue wants the dispatcher to do, given that some worker could take a batch.
enum BatchDecision: Equatable {
    /// Nothing is queued.
    case empty
    /// Cut a batch now: it is full, its oldest request found a worker idle, or its oldest
    /// request has waited `maxDelay`.
    case dispatchNow
    /// Wait for more requests until this instant, then cut whatever is there.
    case waitUntil(ContinuousClock.Instant)
}

/// The bounded dynamic-batching queue, without threads or clocks: every method takes `now`,
/// so tests drive it with a deterministic clock.
///
/// Policy: a batch is cut when it is full, when its oldest request arrived while a worker was
/// idle (a lone request is never held back: waiting could only add latency, as nothing is
/// running that it could be batched behind), or when the oldest queued request has waited
/// `maxDelay`. While no worker is free the dispatcher does not ask, so requests accumulate and
/// batches fill; `maxDelay` (default 0) lets those that arrived while every worker was busy
/// wait a little longer for companions once a worker frees up.
struct BatchQueue<Job> {
    let maxBatch: Int
    let maxDelay: Duration
    private var items: RingBuffer<QueuedRequest<Job>>

    init(capacity: Int, maxBatch: Int, maxDelay: Duration) {
        precondition(maxBatch >= 1, "maxBatch must be at least 1")
        self.maxBatch = maxBatch
        self.maxDelay = maxDelay
        self.items = RingBuffer(capacity: capacity)
    }

    var count: Int { items.count }
    var capacity: Int { items.capacity }
    var isEmpty: Bool { items.isEmpty }

    /// Adds a request at the tail; false when the queue is full. `workerIdle` says whether
    /// some worker could start it right now; it counts only when the queue is empty.
    mutating func enqueue(_ job: Job, now: ContinuousClock.Instant, deadline: ContinuousClock.Instant, workerIdle: Bool = false) -> Bool {
        items.append(QueuedRequest(job: job, enqueuedAt: now, deadline: deadline,
                                   arrivedToIdleWorker: workerIdle && items.isEmpty))
    }

    /// Whether to cut a batch now, assuming a worker can take it.
    func decision(now: ContinuousClock.Instant) -> BatchDecision {
        guard let oldest = items.first else { return .empty }
        if items.count >= maxBatch || oldest.arrivedToIdleWorker { return .dispatchNow }
        let due = oldest.enqueuedAt + maxDelay
        return now >= due ? .dispatchNow : .waitUntil(due)
    }

    /// Removes every request whose deadline has passed (oldest first).
    mutating func removeExpired(now: ContinuousClock.Instant) -> [QueuedRequest<Job>] {
        guard items.elements.contains(where: { $0.deadline <= now }) else { return [] }
        return items.removeAll(where: { $0.deadline <= now })
    }

    /// Removes every request `abandoned` says no one waits for any more.
    mutating func removeAbandoned(_ abandoned: (Job) -> Bool) -> [QueuedRequest<Job>] {
        guard items.elements.contains(where: { abandoned($0.job) }) else { return [] }
        return items.removeAll(where: { abandoned($0.job) })
    }

    /// Takes up to `maxBatch` requests from the head, oldest first.
    mutating func takeBatch() -> [QueuedRequest<Job>] {
        var batch: [QueuedRequest<Job>] = []
        batch.reserveCapacity(min(maxBatch, items.count))
        while batch.count < maxBatch, let next = items.popFirst() { batch.append(next) }
        return batch
    }

    /// Removes everything (used when the service stops).
    mutating func removeAll() -> [QueuedRequest<Job>] {
        items.removeAll(where: { _ in true })
    }

    /// The earliest deadline among queued requests, so the dispatcher can wake to answer 504.
    var earliestDeadline: ContinuousClock.Instant? {
        items.elements.map(\.deadline).min()
    }
}
