import Foundation
import Locking

#if canImport(Glibc)
import Glibc
#endif

/// Runs `body(i)` for `count` indices on `count` real threads at once (not a pool capped at
/// the core count, so 64 requests are really in flight together); returns results in order.
func concurrently<T: Sendable>(_ count: Int, _ body: @escaping @Sendable (Int) -> T) -> [T] {
    let results = Results<T>(count: count)
    let group = DispatchGroup()
    for i in 0..<count {
        group.enter()
        let thread = Thread {
            results.set(i, body(i))
            group.leave()
        }
        thread.stackSize = 1 << 20
        thread.start()
    }
    group.wait()
    return results.values
}

private final class Results<T>: @unchecked Sendable {
    // @unchecked: `T` need not be `Sendable`; each value is handed over once, under the lock.
    private let storage: Locked<[T?]>
    init(count: Int) { storage = Locked(Array(repeating: nil, count: count)) }
    func set(_ i: Int, _ value: T) { storage.withLock { $0[i] = value } }
    var values: [T] { storage.withLock { $0.compactMap { $0 } } }
}

/// The outcome of one client request in a load test.
enum Outcome: Sendable, Equatable {
    case status(Int, code: String)
    case transportError(String)

    var isOK: Bool { self == .status(200, code: "(none)") }
}

/// Polls `condition` every `interval` seconds until it holds or `timeout` seconds have passed;
/// returns whether it held. Every polling loop in these tests has such a deadline, so a
/// regression fails the test instead of hanging the run.
func waitUntil(timeout: TimeInterval, interval: TimeInterval = 0.02, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while true {
        if try condition() { return true }
        if Date() >= deadline { return false }
        Thread.sleep(forTimeInterval: interval)
    }
}

/// Kills `process` with SIGKILL if it still runs `seconds` from now; cancel the returned item
/// once it has exited. The deadline of a test that waits for a child process to end.
func killAfter(_ seconds: TimeInterval, _ process: Process) -> DispatchWorkItem {
    let item = DispatchWorkItem {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
    DispatchQueue.global().asyncAfter(deadline: .now() + seconds, execute: item)
    return item
}
