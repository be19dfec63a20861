import Foundation
import Glibc
import Testing
import POSIX

@Suite struct ChildProcessTests {
    @Test func reportsExitCode() throws {
        let child = try ChildProcess.spawn(executable: "/bin/sh", arguments: ["-c", "exit 3"])
        #expect(try child.wait() == .exited(3))
        #expect(child.exitStatus == .exited(3))
        #expect(try child.signal(SIGTERM) == false)   // reaped: never signals a recycled pid
    }

    @Test func killAndNonBlockingWait() throws {
        let child = try ChildProcess.spawn(executable: "/bin/sleep", arguments: ["30"])
        #expect(try child.tryWait() == nil)
        #expect(try child.signal(SIGKILL))
        #expect(try child.wait() == .signaled(SIGKILL))
        #expect(ExitStatus.signaled(9).description == "signal 9")
    }

    @Test func passesArgumentsEnvironmentAndMappedDescriptor() throws {
        let (parentEnd, childEnd) = try SocketPair.make(.stream)
        let child = try ChildProcess.spawn(
            executable: "/bin/sh", arguments: ["-c", "printf '%s:%s' \"$1\" \"$GREETING\" >&3", "sh", "arg one"],
            environment: ["GREETING": "hello", "PATH": "/usr/bin:/bin"], fileDescriptors: [3: childEnd])
        try childEnd.close()
        #expect(try child.wait() == .exited(0))
        #expect(try parentEnd.read(upTo: 100) == .done(Array("arg one:hello".utf8)))
    }

    @Test func swappedDescriptorMappingsDoNotClobberEachOther() throws {
        let (a1, a2) = try SocketPair.make(.stream)
        let (b1, b2) = try SocketPair.make(.stream)
        // Map in a way that would clobber with naive dup2 ordering: a2 -> b2's number, b2 -> a2's number.
        let child = try ChildProcess.spawn(
            executable: "/bin/bash",
            arguments: ["-c", "echo A >&\(b2.rawValue); echo B >&\(a2.rawValue)"],
            fileDescriptors: [b2.rawValue: a2, a2.rawValue: b2])
        #expect(try child.wait() == .exited(0))
        #expect(try a1.read(upTo: 10) == .done(Array("A\n".utf8)))
        #expect(try b1.read(upTo: 10) == .done(Array("B\n".utf8)))
    }

    @Test func childStartsWithDefaultSignalsEvenIfWeIgnoreSIGPIPE() throws {
        try Signals.ignore(SIGPIPE)
        let (parentEnd, childEnd) = try SocketPair.make(.stream)
        let child = try ChildProcess.spawn(executable: "/bin/sh", arguments: ["-c", "grep -E '^Sig(Ign|Blk)' /proc/self/status >&3"],
                                           fileDescriptors: [3: childEnd])
        try childEnd.close()
        #expect(try child.wait() == .exited(0))
        guard case .done(let bytes) = try parentEnd.read(upTo: 200) else { Issue.record("no output"); return }
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.contains("SigBlk:\t0000000000000000"))
        // Bit (n - 1) of SigIgn is signal n. (glibc's internal signals 32/33 may show up.)
        let pipeBit: UInt64 = 1 << UInt64(SIGPIPE - 1)
        #expect(Self.ignoredMask(in: text) & pipeBit == 0, "\(text)")
        let ours = try String(decoding: #require(FileManager.default.contents(atPath: "/proc/self/status")), as: UTF8.self)
        #expect(Self.ignoredMask(in: ours) & pipeBit != 0, "the test process should ignore SIGPIPE")
    }

    static func ignoredMask(in status: String) -> UInt64 {
        for line in status.split(separator: "\n") where line.hasPrefix("SigIgn:") {
            return UInt64(line.dropFirst("SigIgn:".count).trimmingCharacters(in: .whitespaces), radix: 16) ?? 0
        }
        return 0
    }

    @Test func unmappedDescriptorsAreNotInherited() throws {
        let (_, secret) = try SocketPair.make(.stream)
        let child = try ChildProcess.spawn(executable: "/bin/sh", arguments: ["-c", "test -e /proc/self/fd/\(secret.rawValue)"])
        #expect(try child.wait() == .exited(1))
    }

    @Test func missingExecutableIsATypedError() {
        #expect(throws: SystemCallError.self) { try ChildProcess.spawn(executable: "/nonexistent/binary", arguments: []) }
    }

    @Test func processFacts() throws {
        #expect(try ProcessControl.executablePath().hasPrefix("/"))
        #expect(ProcessControl.environment()["PATH"] != nil)
        #expect(ProcessControl.id == getpid())
        #expect(ProcessControl.parentID == getppid())
    }

    @Test func parentDeathSignalFromAChild() throws {
        // The real use is in a worker; check the prctl call itself, then reset it.
        try ProcessControl.setParentDeathSignal(SIGTERM, expectedParent: getppid())
        #expect(throws: SystemCallError.self) {
            try ProcessControl.setParentDeathSignal(0, expectedParent: -42)
        }
    }
}
