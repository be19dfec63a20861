import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A fixed set of threads taking work from a bounded queue; `submit` refuses instead of
/// growing. The HTTP event loop hands preprocessing here so it never decodes an image itself.
public final class BoundedThreadPool: @unchecked Sendable {
    // @unchecked: `queue`, `stopped` and `busy` are only touched while `condition` is locked.
    private let condition = NSCondition()
    private var queue: RingBuffer<@Sendable () -> Void>
    private var stopped = false
    private var busy = 0
    public let threadCount: Int

    /// Starts `threads` threads named `name-i`; at most `queueCapacity` tasks may wait.
    /// `niceness` > 0 lowers the threads' CPU priority (Linux nice values are per thread), so
    /// their work yields the CPU to everything else in the process.
    public init(name: String, threads: Int, queueCapacity: Int, niceness: Int32 = 0) {
        threadCount = max(1, threads)
        queue = RingBuffer(capacity: max(1, queueCapacity))
        for i in 0..<threadCount {
            let thread = Thread { [self] in
                // `who` 0 is the calling thread on Linux. Raising one's own nice value needs no
                // privilege; if it fails anyway the thread just runs at normal priority.
                if niceness > 0 { _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, niceness) }
                work()
            }
            thread.name = "\(name)-\(i)"
            thread.start()
        }
    }

    /// Queues `task`; false if the queue is full or the pool stopped.
    public func submit(_ task: @escaping @Sendable () -> Void) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard !stopped, queue.append(task) else { return false }
        condition.signal()
        return true
    }

    /// Tasks waiting (not yet running).
    public var waiting: Int {
        condition.lock()
        defer { condition.unlock() }
        return queue.count
    }

    /// Tasks waiting plus tasks running.
    public var load: Int {
        condition.lock()
        defer { condition.unlock() }
        return queue.count + busy
    }

    /// Lets the threads finish the queued tasks and exit.
    public func stop() {
        condition.lock()
        stopped = true
        condition.broadcast()
        condition.unlock()
    }

    private func work() {
        while true {
            condition.lock()
            while queue.isEmpty && !stopped { condition.wait() }
            guard let task = queue.popFirst() else {
                condition.unlock()
                return
            }
            busy += 1
            condition.unlock()
            task()
            condition.lock()
            busy -= 1
            condition.unlock()
        }
    }
}
