/// How the dispatcher chooses the worker for each batch.
public enum RoutingPolicy: String, CaseIterable, Sendable, CustomStringConvertible {
    /// The batch goes to the worker where it would finish first: the least outstanding work,
    /// counted as (in-flight requests + this batch) × that worker's measured time per request.
    case leastLoaded = "least-loaded"
    /// Batches go to the workers strictly in turn (a worker that is not ready is skipped), so
    /// each gets the same share whatever its speed.
    case roundRobin = "round-robin"
    /// Only an idle worker takes a batch (the longest-idle first), like Triton and TorchServe.
    case pull

    /// The command-line spelling.
    public var description: String { rawValue }
}

/// What the router knows about one worker.
struct WorkerLoad: Equatable {
    /// Handshake done and model loaded; false while starting or after it died.
    var isReady = false
    /// Requests sent to it and not yet answered.
    var inFlightRequests = 0
    /// Batches sent to it and not yet answered.
    var outstandingBatches = 0
    /// Exponentially weighted moving average of inference time per request, from the worker's
    /// own measurement of each batch; nil until its first batch completes.
    var nanosPerRequest: Double?
    /// Order in which it last became idle, so `pull` hands work to the longest-idle worker.
    var idleSequence: UInt64 = 0
}

/// The routing state machine (no threads, no clocks): tracks per-worker load and picks workers.
struct Router {
    let policy: RoutingPolicy
    /// Batches a worker may hold at once. `pull` uses 1 (only idle workers take work); the push
    /// policies keep a second batch waiting in the worker's socket so it never idles between
    /// batches, and so that load actually differs between workers for least-loaded to see.
    let maxBatchesPerWorker: Int
    /// Weight of the newest sample in the moving average.
    let smoothing: Double
    private(set) var workers: [WorkerLoad]
    private var nextTurn = 0
    private var idleCounter: UInt64 = 0

    init(policy: RoutingPolicy, workerCount: Int, maxBatchesPerWorker: Int = 2, smoothing: Double = 0.3) {
        precondition(workerCount >= 1, "at least one worker")
        self.policy = policy
        self.maxBatchesPerWorker = policy == .pull ? 1 : max(1, maxBatchesPerWorker)
        self.smoothing = smoothing
        self.workers = Array(repeating: WorkerLoad(), count: workerCount)
    }

    var readyCount: Int { workers.filter(\.isReady).count }

    private func canTake(_ index: Int) -> Bool {
        workers[index].isReady && workers[index].outstandingBatches < maxBatchesPerWorker
    }

    /// Whether a worker can take this batch now. A busy worker takes a second (pipelined)
    /// batch only when that batch is full: a partial batch placed behind a running one would
    /// wait there anyway, and waiting in the dispatcher queue instead lets it keep filling
    /// until the batch is full or the worker is idle.
    private func canTake(_ index: Int, full: Bool) -> Bool {
        canTake(index) && (full || workers[index].outstandingBatches == 0)
    }

    /// Whether some worker could take a batch right now (whether the policy wants it to is
    /// `choose`'s answer).
    var hasCapacity: Bool { workers.indices.contains(where: canTake) }

    /// Whether some ready worker holds no batch at all (a request arriving now need not wait).
    var hasIdleWorker: Bool { workers.contains { $0.isReady && $0.outstandingBatches == 0 } }

    /// The estimate of time per request used for a worker that has not been measured yet:
    /// the mean of the measured ones, so a fresh worker is neither shunned nor flooded.
    private var defaultNanosPerRequest: Double {
        let measured = workers.compactMap(\.nanosPerRequest)
        return measured.isEmpty ? 1 : measured.reduce(0, +) / Double(measured.count)
    }

    /// Chooses the worker for a batch of `size` requests, or nil if the batch should wait.
    /// `avoiding` is skipped when any other worker can take the batch (used for retries).
    /// `full` says whether the batch has `--max-batch` requests (or cannot grow, like a retry):
    /// only a full batch is pipelined to a worker that is already running one; a partial batch
    /// is placed only on an idle worker (the policy still picks which one), or waits.
    ///
    /// * least-loaded: the ready worker where the batch would finish first; if that worker
    ///   already holds its maximum of batches, nil — waiting for it beats a slower worker.
    ///   Ties go to a worker that can take the batch now, then to the lowest index.
    /// * round-robin: strictly the next ready worker in turn; nil while it is full, so every
    ///   worker gets the same share whatever its speed (the classic policy, for comparison).
    /// * pull: the longest-idle worker; nil if none is idle.
    func choose(batchSize size: Int, avoiding: Int? = nil, full: Bool = true) -> Int? {
        let ready = workers.indices.filter { workers[$0].isReady }
        guard !ready.isEmpty else { return nil }
        func canTake(_ i: Int) -> Bool { self.canTake(i, full: full) }
        switch policy {
        case .leastLoaded:
            var pool = ready
            if let avoided = avoiding, ready.contains(where: { $0 != avoided && canTake($0) }) {
                pool = ready.filter { $0 != avoided }
            }
            let fallback = defaultNanosPerRequest
            func work(_ i: Int) -> Double {
                Double(workers[i].inFlightRequests + size) * (workers[i].nanosPerRequest ?? fallback)
            }
            var best = pool[0]
            for i in pool.dropFirst() {
                if work(i) < work(best) || (work(i) == work(best) && canTake(i) && !canTake(best)) { best = i }
            }
            return canTake(best) ? best : nil
        case .roundRobin:
            let n = workers.count
            for step in 0..<n {
                let i = (nextTurn + step) % n
                guard workers[i].isReady else { continue }
                if i == avoiding, let other = ready.first(where: { $0 != i && canTake($0) }) { return other }
                return canTake(i) ? i : nil
            }
            return nil
        case .pull:
            var candidates = ready.filter(canTake)
            if let avoided = avoiding, candidates.contains(where: { $0 != avoided }) {
                candidates.removeAll { $0 == avoided }
            }
            guard var best = candidates.first else { return nil }
            for i in candidates.dropFirst() where workers[i].idleSequence < workers[best].idleSequence { best = i }
            return best
        }
    }

    /// Records that a batch of `requests` was sent to `worker`.
    mutating func didDispatch(to worker: Int, requests: Int) {
        workers[worker].inFlightRequests += requests
        workers[worker].outstandingBatches += 1
        if policy == .roundRobin { nextTurn = (worker + 1) % workers.count }
    }

    /// Records a finished batch and the worker's own measurement of its inference time.
    mutating func didComplete(worker: Int, requests: Int, inferenceTime: Duration) {
        workers[worker].inFlightRequests = max(0, workers[worker].inFlightRequests - requests)
        workers[worker].outstandingBatches = max(0, workers[worker].outstandingBatches - 1)
        if requests > 0 {
            let sample = Double(inferenceTime.unsignedNanoseconds) / Double(requests)
            if let old = workers[worker].nanosPerRequest {
                workers[worker].nanosPerRequest = old + smoothing * (sample - old)
            } else {
                workers[worker].nanosPerRequest = sample
            }
        }
        if workers[worker].outstandingBatches == 0 {
            idleCounter += 1
            workers[worker].idleSequence = idleCounter
        }
    }

    /// Records that a batch sent to `worker` will not be answered (its process was retired by
    /// a reload and ended first); nothing is learnt about the worker's speed.
    mutating func didAbandon(worker: Int, requests: Int) {
        workers[worker].inFlightRequests = max(0, workers[worker].inFlightRequests - requests)
        workers[worker].outstandingBatches = max(0, workers[worker].outstandingBatches - 1)
        if workers[worker].outstandingBatches == 0 {
            idleCounter += 1
            workers[worker].idleSequence = idleCounter
        }
    }

    /// Marks a worker ready (handshake done) or not (starting, dead, stopping).
    /// A worker that is not ready holds no work: its counts are reset (the dispatcher
    /// re-routes what it held), but its measured speed is kept for when it comes back.
    mutating func setReady(_ worker: Int, _ ready: Bool) {
        workers[worker].isReady = ready
        if !ready {
            workers[worker].inFlightRequests = 0
            workers[worker].outstandingBatches = 0
        }
        if ready, workers[worker].outstandingBatches == 0 {
            idleCounter += 1
            workers[worker].idleSequence = idleCounter
        }
    }
}
