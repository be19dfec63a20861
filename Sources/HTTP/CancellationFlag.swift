import Synchronization

/// Set by the event loop when a request's answer can no longer reach its client (the
/// connection closed, or an earlier response closed it), so work for it can be skipped.
public final class CancellationFlag: Sendable {
    private let flag = Atomic<Bool>(false)

    /// Creates an unset flag.
    public init() {}

    /// Whether the client is gone.
    public var isCancelled: Bool { flag.load(ordering: .acquiring) }

    /// Marks the request abandoned (idempotent).
    public func cancel() { flag.store(true, ordering: .releasing) }
}
