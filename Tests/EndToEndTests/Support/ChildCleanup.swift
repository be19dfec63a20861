import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The processes the tests started (servers, commands, curl) and have not reaped yet, so that
/// an interrupted run kills them instead of leaving them orphaned: `make test`'s timeout stops
/// a hung run with SIGINT, and `Process` starts each child in a process group of its own, which
/// that signal does not reach. Servers take their workers with them (parent-death signal).
enum ChildCleanup {
    static let capacity = 256

    /// Plain memory, zero = free slot: the signal handler reads it without locks or allocation.
    /// nonisolated(unsafe): written only under `lock`; the handler's unlocked read is the point.
    nonisolated(unsafe) static let pids: UnsafeMutablePointer<Int32> = {
        let slots = UnsafeMutablePointer<Int32>.allocate(capacity: capacity)
        slots.initialize(repeating: 0, count: capacity)
        for number in [SIGINT, SIGTERM] {
            Glibc.signal(number) { number in
                let slots = ChildCleanup.pids
                for index in 0..<ChildCleanup.capacity where slots[index] > 0 { kill(slots[index], SIGKILL) }
                Glibc.signal(number, SIG_DFL)
                raise(number)
            }
        }
        return slots
    }()
    private static let lock = NSLock()

    /// Remembers a started child (installs the handlers on first use).
    static func track(_ pid: Int32) {
        let slots = pids
        lock.withLock {
            if let free = (0..<capacity).first(where: { slots[$0] == 0 }) { slots[free] = pid }
        }
    }

    /// Forgets a child that has exited.
    static func untrack(_ pid: Int32) {
        let slots = pids
        lock.withLock {
            for index in 0..<capacity where slots[index] == pid { slots[index] = 0 }
        }
    }
}
