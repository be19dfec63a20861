import Glibc
import Testing
import POSIX

@Suite(.serialized) struct SignalsTests {
    @Test func signalArrivesAsReadableByte() throws {
        let notifier = try SignalNotifier(signals: [SIGUSR2])
        defer { notifier.uninstall() }
        #expect(notifier.drain().isEmpty)
        kill(getpid(), SIGUSR2)
        #expect(notifier.wait(timeoutMilliseconds: 2000) == [SIGUSR2])
        #expect(notifier.wait(timeoutMilliseconds: 10).isEmpty)
    }

    @Test func newerNotifierTakesOverAndOlderUninstallLeavesIt() throws {
        let older = try SignalNotifier(signals: [SIGUSR2])
        let newer = try SignalNotifier(signals: [SIGUSR2])
        defer { newer.uninstall() }
        older.uninstall()   // must not reset the newer one's handler
        kill(getpid(), SIGUSR2)
        #expect(newer.wait(timeoutMilliseconds: 2000) == [SIGUSR2])
        #expect(older.drain().isEmpty)
    }

    @Test func ignoringSIGPIPEMakesWritesFailWithEPIPE() throws {
        try Signals.ignore(SIGPIPE)
        let (a, b) = try SocketPair.make(.stream)
        try b.close()
        #expect(throws: SystemCallError(call: "write", errno: EPIPE)) { try a.write([1]) }
    }
}
