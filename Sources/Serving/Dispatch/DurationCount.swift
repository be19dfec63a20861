import POSIX

extension Duration {
    /// Whole nanoseconds as an unsigned count: the one conversion from `Duration` for the
    /// places that keep integers (IPC frames between server and workers, Triton statistics,
    /// `timing_ms`, Prometheus seconds, log fields). 0 for a negative duration, saturating at
    /// `Int64.max` (292 years).
    public var unsignedNanoseconds: UInt64 { UInt64(max(0, totalNanoseconds)) }
}
