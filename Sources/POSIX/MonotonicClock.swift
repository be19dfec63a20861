import CSystemShims

/// `CLOCK_MONOTONIC`: never jumps with wall-clock changes; use it for every timeout.
public enum MonotonicClock {
    /// Nanoseconds since an arbitrary fixed point (boot).
    @inline(__always)
    public static func nanoseconds() -> Int64 { fs_monotonic_ns() }

    /// Milliseconds since the same point.
    @inline(__always)
    public static func milliseconds() -> Int64 { fs_monotonic_ns() / 1_000_000 }
}

extension Duration {
    /// The duration in whole nanoseconds, saturating at `Int64.max`.
    public var totalNanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (whole, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? Int64.min : Int64.max }
        let (sum, overflow2) = whole.addingReportingOverflow(attoseconds / 1_000_000_000)
        return overflow2 ? Int64.max : sum
    }
}
