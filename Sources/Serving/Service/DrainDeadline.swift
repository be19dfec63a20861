import Foundation
import Locking

/// The end of a drain: once `--drain-timeout-s` has passed since SIGTERM/SIGINT, whatever is
/// still queued, preprocessing or running must be answered (503 `draining`) while the clients'
/// connections are still open — the HTTP server keeps them a short grace longer than this
/// deadline so those answers get written before it closes what is left.
///
/// One thread, started at the signal, that waits until the deadline or until cancelled (the
/// drain finished in time) and then runs the action once.
final class DrainDeadline: Sendable {
    private struct State {
        var armed = false
        var cancelled = false
    }

    private let state = LockedCondition(State())

    /// Runs `action` on its own thread `nanos` from now unless `cancel()` comes first.
    /// Only the first call arms it (a second signal does not restart the clock).
    func arm(afterNanos nanos: UInt64, action: @escaping @Sendable () -> Void) {
        let deadline = ContinuousClock.now + .nanoseconds(Int64(clamping: nanos))
        let start = state.withLock { state in
            guard !state.armed, !state.cancelled else { return false }
            state.armed = true
            return true
        }
        guard start else { return }
        let thread = Thread { [self] in
            let fire = state.withLock(waitingUntil: { $0.cancelled }, deadline: deadline) { state, _ in
                let fire = !state.cancelled
                state.cancelled = true
                return fire
            }
            if fire { action() }
        }
        thread.name = "drain-deadline"
        thread.start()
    }

    /// The drain finished in time: the action will not run (if it is not running already).
    func cancel() {
        state.withLock { $0.cancelled = true }
        state.broadcast()
    }
}
