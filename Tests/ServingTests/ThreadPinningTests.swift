import Foundation
import POSIX
import Testing
@testable import Serving

/// Pinning changes the affinity of every thread of a process, so it is tested in a child
/// process (this test binary run again, for `pinsThreadsInTheChildProcess` only): pinning the
/// test process itself would squeeze every suite running in parallel onto one CPU.
@Suite struct ThreadPinningTests {
    /// Set in the child: where it writes what it saw.
    static let reportVariable = "FUSION_PINNING_CHILD_REPORT"
    static let reportPath = ProcessInfo.processInfo.environment[reportVariable]

    @Test func pinsThreadsThatAlreadyRunNotOnlyTheCaller() throws {
        let report = FileManager.default.temporaryDirectory.appendingPathComponent("pinning-\(UUID().uuidString)").path
        let output = report + ".log"
        defer {
            try? FileManager.default.removeItem(atPath: report)
            try? FileManager.default.removeItem(atPath: output)
        }
        _ = FileManager.default.createFile(atPath: output, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        child.arguments = ["--testing-library", "swift-testing",
                           "--filter", "ThreadPinningTests/pinsThreadsInTheChildProcess"]
        var environment = ProcessInfo.processInfo.environment
        environment[Self.reportVariable] = report
        child.environment = environment
        child.standardOutput = log
        child.standardError = log
        try child.run()
        let deadline = Date().addingTimeInterval(120)
        while child.isRunning, Date() < deadline { usleep(20_000) }
        if child.isRunning {
            child.terminate()
            child.waitUntilExit()
            Issue.record("the child test did not finish within 120 s")
        }
        try? log.close()
        let childLog = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        #expect(child.terminationStatus == 0, "child test failed:\n\(childLog.suffix(3000))")
        // The report proves the child test ran (not skipped, not filtered out).
        let seen = try #require(try? String(contentsOfFile: report, encoding: .utf8),
                                "the child wrote no report:\n\(childLog.suffix(3000))")
        #expect(seen.hasPrefix("pinned "), "\(seen)")
    }

    /// The child's half: start a thread, pin the process, check every thread's mask.
    @Test(.enabled(if: reportPath != nil,
                   "runs only in the child process started by pinsThreadsThatAlreadyRunNotOnlyTheCaller"))
    func pinsThreadsInTheChildProcess() throws {
        let report = try #require(Self.reportPath)
        let original = try currentAffinity()
        let target = try CPUSet([original.cpus[0]])
        // A thread started before pinning, like OpenBLAS's pool.
        let ready = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        Thread {
            ready.signal()
            _ = release.wait(timeout: .now() + 60)
        }.start()
        #expect(ready.wait(timeout: .now() + 60) == .success)
        defer { release.signal() }
        try ThreadPinning.pinProcess(to: target)
        let tasks = try FileManager.default.contentsOfDirectory(atPath: "/proc/self/task").compactMap { Int32($0) }
        #expect(tasks.count > 1)
        var pinned = 0
        for tid in tasks {
            // A thread may end meanwhile; those that still run must be pinned.
            if let mask = try? currentAffinity(pid: tid) {
                #expect(mask == target, "thread \(tid)")
                if mask == target { pinned += 1 }
            }
        }
        try "pinned \(pinned) of \(tasks.count) threads to \(target.cpus)\n".write(toFile: report, atomically: true, encoding: .utf8)
    }
}
