import Locking

/// A gate tasks wait at until the test opens it (once; it stays open).
final class Gate: Sendable {
    private let isOpen = LockedCondition(false)

    func waitOpen() {
        _ = isOpen.wait(until: { $0 })
    }

    func open() {
        isOpen.withLock { $0 = true }
        isOpen.broadcast()
    }
}
