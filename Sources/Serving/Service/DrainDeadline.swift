import Foundation

/// The end of a drain: once `--drain-timeout-s` has passed since SIGTERM/SIGINT, whatever is
/// still queued, preprocessing or running must be answered (503 `draining`) while the clients'
/// connections are still open — the HTTP server keeps them a short grace longer than this
/// deadline so those answers get written before it closes what is left.
///
/// One thread, started at the signal, that waits until the deadline or until cancelled (the
/// drain finished in time) and then runs the action once.
final class DrainDeadline: @unchecked Sendable {
    // @unchecked: `armed` and `cancelled` are only touched while `condition` is locked.
    private let condition = NSCondition()
    private var armed = false
    private var cancelled = false

    /// Runs `action` on its own thread `nanos` from now unless `cancel()` comes first.
    /// Only the first call arms it (a second signal does not restart the clock).
    func arm(afterNanos nanos: UInt64, action: @escaping @Sendable () -> Void) {
        condition.lock()
        defer { condition.unlock() }
        guard !armed, !cancelled else { return }
        armed = true
        let deadline = Date(timeIntervalSinceNow: Double(nanos) / 1e9)
        let thread = Thread { [self] in
            condition.lock()
            while !cancelled, Date() < deadline { _ = condition.wait(until: deadline) }
            let fire = !cancelled
            cancelled = true
            condition.unlock()
            if fire { action() }
        }
        thread.name = "drain-deadline"
        thread.start()
    }

    /// The drain finished in time: the action will not run (if it is not running already).
    func cancel() {
        condition.lock()
        cancelled = true
        condition.broadcast()
        condition.unlock()
    }
}
