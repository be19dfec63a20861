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
    static let defaultFloorNanos: UInt64 = 5_000_000_000
    /// How many times its p99 a batch may take before the worker counts as stalled.
    static let factor: UInt64 = 10
    /// Batch times remembered (a ring).
    static let window = 64

    let floorNanos: UInt64
    private var samples: [UInt64] = []
    private var next = 0

    init(floorNanos: UInt64 = defaultFloorNanos) {
        self.floorNanos = floorNanos
    }

    /// The 99th percentile of the remembered batch times (nearest rank), 0 before any.
    var p99Nanos: UInt64 {
        guard !samples.isEmpty else { return 0 }
        let sorted = samples.sorted()
        let rank = (99 * sorted.count + 99) / 100   // ceil(0.99 n), 1-based
        return sorted[max(0, min(sorted.count, rank) - 1)]
    }

    /// How long a batch may be held before the worker counts as stalled.
    var thresholdNanos: UInt64 {
        let (scaled, overflow) = p99Nanos.multipliedReportingOverflow(by: Self.factor)
        return max(floorNanos, overflow ? .max : scaled)
    }

    /// Whether holding a batch for `heldNanos` means the worker is stalled.
    func isStalled(heldNanos: UInt64) -> Bool { heldNanos > thresholdNanos }

    /// Remembers how long an answered batch took. A batch answered only after a stall is
    /// left out: it measures the stall, not the worker, and would raise the threshold tenfold.
    mutating func record(batchNanos: UInt64) {
        guard !isStalled(heldNanos: batchNanos) else { return }
        if samples.count < Self.window {
            samples.append(batchNanos)
        } else {
            samples[next] = batchNanos
        }
        next = (next + 1) % Self.window
    }
}
