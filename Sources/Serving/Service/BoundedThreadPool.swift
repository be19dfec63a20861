import Foundation
import Locking

#if canImport(Glibc)
import Glibc
#endif

/// A fixed set of threads taking work from a bounded queue; `submit` refuses instead of
/// growing. The HTTP event loop hands preprocessing here so it never decodes an image itself.
public final class BoundedThreadPool: Sendable {
    private struct State {
        var queue: RingBuffer<@Sendable () -> Void>
        var stopped = false
        var busy = 0
    }

    private let state: LockedCondition<State>
    public let threadCount: Int

    /// Starts `threads` threads named `name-i`; at most `queueCapacity` tasks may wait.
    /// `niceness` > 0 lowers the threads' CPU priority (Linux nice values are per thread), so
    /// their work yields the CPU to everything else in the process.
    public init(name: String, threads: Int, queueCapacity: Int, niceness: Int32 = 0) {
        threadCount = max(1, threads)
        state = LockedCondition(State(queue: RingBuffer(capacity: max(1, queueCapacity))))
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
        let queued = state.withLock { state in !state.stopped && state.queue.append(task) }
        if queued { state.signal() }
        return queued
    }

    /// Tasks waiting (not yet running).
    public var waiting: Int {
        state.withLock { $0.queue.count }
    }

    /// Tasks waiting plus tasks running.
    public var load: Int {
        state.withLock { $0.queue.count + $0.busy }
    }

    /// Lets the threads finish the queued tasks and exit.
    public func stop() {
        state.withLock { $0.stopped = true }
        state.broadcast()
    }

    private func work() {
        while true {
            let next = state.withLock(waitingUntil: { !$0.queue.isEmpty || $0.stopped }) { state, _ in
                let task = state.queue.popFirst()
                if task != nil { state.busy += 1 }
                return task
            }
            guard let task = next else { return }
            task()
            state.withLock { $0.busy -= 1 }
        }
    }
}
