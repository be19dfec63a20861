#if canImport(Glibc)
import Glibc
#endif

/// A value guarded by a lock, reached only inside `withLock` (as swift-nio's
/// `NIOLockedValueBox`): the project's one way to share mutable state between threads.
///
/// Why not the standard library's `Synchronization.Mutex`: its contended path runs inside the
/// prebuilt Synchronization library, where ThreadSanitizer cannot see the lock being taken, so
/// `make sanitize` reported races between two `withLock` bodies whenever they happened to
/// contend. This is a `pthread_mutex_t`, which ThreadSanitizer intercepts.
public final class Locked<Value> {
    @usableFromInline let mutex: UnsafeMutablePointer<pthread_mutex_t>
    @usableFromInline var value: Value

    /// Guards `value`.
    public init(_ value: Value) {
        self.value = value
        mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        // A default mutex: not recursive (a nested `withLock` on the same value deadlocks,
        // which is a bug to fix, never a pattern to use).
        let status = pthread_mutex_init(mutex, nil)
        precondition(status == 0, "pthread_mutex_init failed: \(status)")
    }

    deinit {
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

/// @unchecked: `value` is only reached inside `withLock`, under the mutex.
extension Locked: @unchecked Sendable where Value: Sendable {}
