import Foundation
import POSIX
import Testing
@testable import Serving

@Suite struct ThreadPinningTests {
    @Test func pinsThreadsThatAlreadyRunNotOnlyTheCaller() throws {
        let original = try currentAffinity()
        let target = try CPUSet([original.cpus[0]])
        // A thread started before pinning, like OpenBLAS's pool.
        let ready = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        Thread {
            ready.signal()
            release.wait()
        }.start()
        ready.wait()
        defer {
            release.signal()
            try? ThreadPinning.pinProcess(to: original)
        }
        try ThreadPinning.pinProcess(to: target)
        let tasks = try FileManager.default.contentsOfDirectory(atPath: "/proc/self/task").compactMap { Int32($0) }
        #expect(tasks.count > 1)
        for tid in tasks {
            // A thread may end meanwhile; those that still run must be pinned.
            if let mask = try? currentAffinity(pid: tid) { #expect(mask == target, "thread \(tid)") }
        }
    }
}
