#if canImport(Glibc)
import Glibc
#endif

/// What a `LockedCondition.withLock(repeating:)` body decided: finish with a result, or wait
/// for a signal (or until the deadline, if any) and run again.
public enum ConditionStep<Result> {
    /// Release the lock and return this.
    case done(Result)
    /// Wait (the lock released meanwhile) for a signal or `deadline`, then run the body again.
    case wait(until: ContinuousClock.Instant?)
}

/// A value guarded by a lock plus a condition variable for threads that wait for the value to
/// change: `Locked<Value>` for blocking waits (a queue's consumers, a deadline thread).
///
/// A `pthread_mutex_t` and `pthread_cond_t` (which ThreadSanitizer intercepts, unlike
/// `NSCondition`'s or `Synchronization.Mutex`'s insides). Timed waits run on `CLOCK_MONOTONIC`,
/// so setting the wall clock neither shortens nor stretches them. Waits take a predicate on the
/// value and loop on spurious wake-ups, so no caller writes the `while … wait()` loop by hand.
public final class LockedCondition<Value> {
    @usableFromInline let mutex: UnsafeMutablePointer<pthread_mutex_t>
    @usableFromInline let condition: UnsafeMutablePointer<pthread_cond_t>
    @usableFromInline var value: Value

    /// Guards `value`.
    public init(_ value: Value) {
        self.value = value
        mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        // Not recursive, as `Locked`: a nested `withLock` deadlocks (a bug, never a pattern).
        let status = pthread_mutex_init(mutex, nil)
        precondition(status == 0, "pthread_mutex_init failed: \(status)")
        condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
        condition.initialize(to: pthread_cond_t())
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        defer { pthread_condattr_destroy(&attributes) }
        let clockStatus = pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        precondition(clockStatus == 0, "pthread_condattr_setclock failed: \(clockStatus)")
        let conditionStatus = pthread_cond_init(condition, &attributes)
        precondition(conditionStatus == 0, "pthread_cond_init failed: \(conditionStatus)")
    }

    deinit {
        pthread_cond_destroy(condition)
        condition.deinitialize(count: 1)
        condition.deallocate()
        pthread_mutex_destroy(mutex)
        mutex.deinitialize(count: 1)
        mutex.deallocate()
    }

    /// Runs `body` with the value while holding the lock; keep it short and never block in it.
    @inlinable
    public func withLock<Result, Failure: Error>(_ body: (inout Value) throws(Failure) -> Result) throws(Failure) -> Result {
        lock()
        defer { unlock() }
        return try body(&value)
    }

    /// Waits until `predicate` holds (the lock released while waiting) or `deadline` passes,
    /// then runs `body` under the lock, told whether the predicate holds. Without a deadline it
    /// waits for as long as it takes.
    public func withLock<Result, Failure: Error>(
        waitingUntil predicate: (Value) -> Bool, deadline: ContinuousClock.Instant? = nil,
        _ body: (inout Value, _ satisfied: Bool) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        lock()
        defer { unlock() }
        let end = deadline.map(Self.monotonicDeadline)
        var satisfied = predicate(value)
        while !satisfied {
            let beforeDeadline = waitOnce(until: end)
            satisfied = predicate(value)
            if !beforeDeadline { break }
        }
        return try body(&value, satisfied)
    }

    /// Waits until `predicate` holds or `deadline` passes; true if it holds.
    public func wait(until predicate: (Value) -> Bool, deadline: ContinuousClock.Instant? = nil) -> Bool {
        withLock(waitingUntil: predicate, deadline: deadline) { _, satisfied in satisfied }
    }

    /// Waits until `predicate` holds or `timeout` has passed; true if it holds.
    public func wait(until predicate: (Value) -> Bool, timeout: Duration) -> Bool {
        wait(until: predicate, deadline: .now + timeout)
    }

    /// Runs `body` under the lock until it returns `.done`; each `.wait` releases the lock until
    /// a signal, a spurious wake-up or its deadline, whichever is first. For loops whose wait
    /// depends on what the body just computed (a dispatcher waking for the next batch delay).
    public func withLock<Result>(repeating body: (inout Value) -> ConditionStep<Result>) -> Result {
        lock()
        defer { unlock() }
        while true {
            switch body(&value) {
            case .done(let result):
                return result
            case .wait(let deadline):
                _ = waitOnce(until: deadline.map(Self.monotonicDeadline))
            }
        }
    }

    /// Wakes one waiting thread; call inside or after `withLock` (a waiter re-checks its
    /// predicate, so a signal ahead of the change it announces is merely early).
    public func signal() {
        let status = pthread_cond_signal(condition)
        precondition(status == 0, "pthread_cond_signal failed: \(status)")
    }

    /// Wakes every waiting thread.
    public func broadcast() {
        let status = pthread_cond_broadcast(condition)
        precondition(status == 0, "pthread_cond_broadcast failed: \(status)")
    }

    /// One wait with the lock held: false once `end` has passed.
    private func waitOnce(until end: timespec?) -> Bool {
        guard var deadline = end else {
            let status = pthread_cond_wait(condition, mutex)
            precondition(status == 0, "pthread_cond_wait failed: \(status)")
            return true
        }
        let status = pthread_cond_timedwait(condition, mutex, &deadline)
        if status == ETIMEDOUT { return false }
        precondition(status == 0, "pthread_cond_timedwait failed: \(status)")
        return true
    }

    /// `deadline` as an absolute `CLOCK_MONOTONIC` time (what the condition waits on). The
    /// standard library's clocks are not documented to be that clock, so only the distance
    /// from now is carried over; a deadline already past gives now.
    private static func monotonicDeadline(_ deadline: ContinuousClock.Instant) -> timespec {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let remaining = ContinuousClock.now.duration(to: deadline)
        guard remaining > .zero else { return now }
        // Ten thousand years is "never" for a wait and keeps the sum far from overflowing.
        let seconds = min(remaining.components.seconds, 315_360_000_000)
        var nanoseconds = now.tv_nsec + Int(remaining.components.attoseconds / 1_000_000_000)
        var wholeSeconds = now.tv_sec + Int(seconds)
        if nanoseconds >= 1_000_000_000 {
            nanoseconds -= 1_000_000_000
            wholeSeconds += 1
        }
        return timespec(tv_sec: wholeSeconds, tv_nsec: nanoseconds)
    }

    @usableFromInline
    func lock() {
        let status = pthread_mutex_lock(mutex)
        precondition(status == 0, "pthread_mutex_lock failed: \(status)")
    }

    @usableFromInline
    func unlock() {
        let status = pthread_mutex_unlock(mutex)
        precondition(status == 0, "pthread_mutex_unlock failed: \(status)")
    }
}

/// @unchecked: `value` is only reached under the mutex (inside `withLock` and the waits).
extension LockedCondition: @unchecked Sendable where Value: Sendable {}
