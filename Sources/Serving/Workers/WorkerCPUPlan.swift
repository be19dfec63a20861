import POSIX

/// Why a worker CPU plan was refused.
public enum CPUPlanError: Error, Equatable, CustomStringConvertible {
    case countMismatch(sets: Int, workers: Int)
    case outsideAllowed(set: String, allowed: String)

    public var description: String {
        switch self {
        case .countMismatch(let sets, let workers):
            return "--cpu-sets: \(sets) CPU sets given for \(workers) workers (give one per worker, separated by ';')"
        case .outsideAllowed(let set, let allowed):
            return "--cpu-sets: CPU set \(set) is outside the CPUs this process may use (\(allowed))"
        }
    }
}

/// Which CPUs each worker process is pinned to.
public enum WorkerCPUPlan {
    /// The default worker count: one per allowed CPU, at least one. The server's own threads
    /// (event loop, decode, resize, tokenizer) are not pinned and run on whichever CPU a worker
    /// leaves idle between batches; keeping a CPU for them instead left it a third idle and the
    /// single worker saturated (2 CPUs: 1.34-1.64x the throughput with two workers,
    /// docs/benchmarks.md "Workers per CPU").
    public static func defaultWorkerCount(allowed: CPUSet) -> Int {
        max(1, allowed.count)
    }

    /// One CPU per worker, taken in order from the CPUs the process may use (so a systemd
    /// `CPUAffinity=` mask is respected), wrapping around if there are more workers than CPUs.
    public static func defaultSets(workers: Int, allowed: CPUSet) -> [CPUSet] {
        let cpus = allowed.cpus.isEmpty ? [0] : allowed.cpus
        return (0..<workers).compactMap { try? CPUSet([cpus[$0 % cpus.count]]) }
    }

    /// Checks explicit sets: one per worker, each inside the allowed mask.
    public static func validate(_ sets: [CPUSet], workers: Int, allowed: CPUSet) throws {
        guard sets.count == workers else { throw CPUPlanError.countMismatch(sets: sets.count, workers: workers) }
        for set in sets where !set.isSubset(of: allowed) {
            throw CPUPlanError.outsideAllowed(set: set.description, allowed: allowed.description)
        }
    }
}
