/// Decides when a worker that holds a batch counts as stalled: it has been on the batch far
/// longer than its recent batches took, `max(floor, 10 × p99 of the last 64)`. A plain value
/// without clocks; `WorkerSlot` feeds it under its lock.
///
/// A stalled worker is still "ready" (its process lives, its socket is open), so the dispatcher
/// keeps it and the worker timeout still decides when to kill it; but `/healthz` stops counting
/// it, so a balancer sends traffic elsewhere while it is stuck (SIGSTOP, a livelocked BLAS
/// thread, a swapped-out process) and takes the node back as soon as it answers again.
struct StallDetector: Sendable, Equatable {
    /// 5 s: far above any batch of the models we serve on CPU (the seed-size model's B = 8
    /// batch takes ~2.5 s on 2 cores), so a slow but working worker is not flagged, and well
    /// under the 60 s worker timeout that kills a hung one.
    static let defaultFloor = Duration.seconds(5)
    /// How many times its p99 a batch may take before the worker counts as stalled.
    static let factor = 10
    /// Batch times remembered (a ring).
    static let window = 64

    let floor: Duration
    private var samples: [Duration] = []
    private var next = 0

    init(floor: Duration = defaultFloor) {
        self.floor = floor
    }

    /// The 99th percentile of the remembered batch times (nearest rank), zero before any.
    var p99: Duration {
        guard !samples.isEmpty else { return .zero }
        let sorted = samples.sorted()
        let rank = (99 * sorted.count + 99) / 100   // ceil(0.99 n), 1-based
        return sorted[max(0, min(sorted.count, rank) - 1)]
    }

    /// How long a batch may be held before the worker counts as stalled.
    var threshold: Duration { max(floor, p99 * Self.factor) }

    /// Whether holding a batch for `held` means the worker is stalled.
    func isStalled(held: Duration) -> Bool { held > threshold }

    /// Remembers how long an answered batch took. A batch answered only after a stall is
    /// left out: it measures the stall, not the worker, and would raise the threshold tenfold.
    mutating func record(batchTime: Duration) {
        guard !isStalled(held: batchTime) else { return }
        if samples.count < Self.window {
            samples.append(batchTime)
        } else {
            samples[next] = batchTime
        }
        next = (next + 1) % Self.window
    }
}
