import CSystemShims

/// An `eventfd` (non-blocking, close-on-exec) for waking an event loop from other threads:
/// `signal()` from any thread makes `descriptor` readable until the loop calls `drain()`.
/// Many signals before a drain coalesce into one wake-up.
public final class EventNotifier: Sendable {
    /// Register this for `.readable` in the loop's `Epoll`.
    public let descriptor: FileDescriptor

    /// Creates the eventfd.
    public init() throws {
        descriptor = FileDescriptor(rawValue: try syscallValue(name: "eventfd") { fs_eventfd_create() })
    }

    /// Wakes the loop. Never blocks; safe from any thread.
    public func signal() {
        // Only fails if the 64-bit counter would overflow (then it is readable anyway) or
        // the notifier was closed during shutdown; neither needs handling.
        _ = try? syscall(name: "write(eventfd)") { fs_eventfd_signal(descriptor.rawValue) }
    }

    /// Resets the counter; returns how many signals were coalesced (0 if none pending).
    @discardableResult
    public func drain() -> UInt64 {
        var value: UInt64 = 0
        guard case .done = (try? syscall(name: "read(eventfd)") { fs_eventfd_drain(descriptor.rawValue, &value) }) ?? .wouldBlock else {
            return 0
        }
        return value
    }
}
