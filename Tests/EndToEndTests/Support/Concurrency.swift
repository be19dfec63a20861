import Foundation

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
    private let lock = NSLock()
    private var storage: [T?]
    init(count: Int) { storage = Array(repeating: nil, count: count) }
    func set(_ i: Int, _ value: T) { lock.lock(); storage[i] = value; lock.unlock() }
    var values: [T] { lock.lock(); defer { lock.unlock() }; return storage.compactMap { $0 } }
}

/// The outcome of one client request in a load test.
enum Outcome: Sendable, Equatable {
    case status(Int, code: String)
    case transportError(String)

    var isOK: Bool { self == .status(200, code: "(none)") }
}
