import POSIX

/// The monotonic clock every latency and deadline in the service is measured on, as unsigned
/// nanoseconds (the dispatcher's arithmetic never deals with negative instants).
public enum Monotonic {
    /// Nanoseconds since boot; never goes backwards.
    public static func now() -> UInt64 { UInt64(max(0, MonotonicClock.nanoseconds())) }
}
