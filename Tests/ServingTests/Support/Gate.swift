import Foundation

/// A gate tasks wait at until the test opens it (once; it stays open).
final class Gate: @unchecked Sendable {
    // @unchecked: `isOpen` is only touched with `condition` locked.
    private let condition = NSCondition()
    private var isOpen = false
    func waitOpen() {
        condition.lock()
        while !isOpen { condition.wait() }
        condition.unlock()
    }
    func open() {
        condition.lock()
        isOpen = true
        condition.broadcast()
        condition.unlock()
    }
}
