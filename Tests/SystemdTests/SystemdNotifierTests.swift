#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import Systemd

@Suite struct SystemdNotifierTests {
    @Test func withoutNotifySocketEverythingIsANoOp() throws {
        let notifier = try SystemdNotifier(environment: [:])
        #expect(!notifier.isEnabled)
        #expect(notifier.watchdogInterval == nil)
        try notifier.ready()
        try notifier.watchdog()
        try notifier.stopping(status: "draining")
    }

    @Test func disabledNotifierSendsNothing() throws {
        #expect(!SystemdNotifier.disabled.isEnabled)
        try SystemdNotifier.disabled.ready()
    }

    @Test func lifecycleMessagesArriveInOrder() throws {
        let receiver = try DatagramReceiver()
        let notifier = try SystemdNotifier(environment: ["NOTIFY_SOCKET": receiver.notifySocket])
        #expect(notifier.isEnabled)
        try notifier.ready(status: "serving on 127.0.0.1:8080")
        try notifier.watchdog()
        try notifier.status("2 workers ready")
        try notifier.stopping()
        #expect(try receiver.receive() == "READY=1\nSTATUS=serving on 127.0.0.1:8080")
        #expect(try receiver.receive() == "WATCHDOG=1")
        #expect(try receiver.receive() == "STATUS=2 workers ready")
        #expect(try receiver.receive() == "STOPPING=1")
        #expect(receiver.isQuiet())
    }

    @Test func abstractNotifySocketWorks() throws {
        let receiver = try DatagramReceiver(abstract: true)
        let notifier = try SystemdNotifier(environment: ["NOTIFY_SOCKET": receiver.notifySocket])
        try notifier.ready()
        #expect(try receiver.receive() == "READY=1")
    }

    @Test func newlinesInStatusCannotInjectAssignments() throws {
        let receiver = try DatagramReceiver()
        let notifier = try SystemdNotifier(environment: ["NOTIFY_SOCKET": receiver.notifySocket])
        try notifier.stopping(status: "draining\nREADY=1\r\nX")
        #expect(try receiver.receive() == "STOPPING=1\nSTATUS=draining READY=1 X")
    }

    @Test func nulInRawStateIsRefused() throws {
        let receiver = try DatagramReceiver()
        let notifier = try SystemdNotifier(environment: ["NOTIFY_SOCKET": receiver.notifySocket])
        #expect(throws: SystemdError.invalidState("READY=1\0")) { try notifier.notify("READY=1\0") }
        #expect(receiver.isQuiet())
    }

    @Test func extendTimeoutIsInMicroseconds() throws {
        let receiver = try DatagramReceiver()
        let notifier = try SystemdNotifier(environment: ["NOTIFY_SOCKET": receiver.notifySocket])
        try notifier.extendTimeout(by: .milliseconds(45_250))
        #expect(try receiver.receive() == "EXTEND_TIMEOUT_USEC=45250000")
    }

    @Test func watchdogIntervalIsHalfTheTimeout() throws {
        let notifier = try SystemdNotifier(environment: ["WATCHDOG_USEC": "3000000"])
        #expect(notifier.watchdogTimeout == .seconds(3))
        #expect(notifier.watchdogInterval == .milliseconds(1500))
        #expect(notifier.watchdogIntervalNanoseconds == 1_500_000_000)
    }

    @Test func oddMicrosecondsHalveExactlyInNanoseconds() throws {
        let notifier = try SystemdNotifier(environment: ["WATCHDOG_USEC": "3"])
        #expect(notifier.watchdogIntervalNanoseconds == 1_500)
        #expect(try SystemdNotifier(environment: [:]).watchdogIntervalNanoseconds == nil)
    }

    @Test func watchdogForThisPidIsOn() throws {
        let notifier = try SystemdNotifier(environment: ["WATCHDOG_USEC": "20000000", "WATCHDOG_PID": "4242"],
                                           processID: 4242)
        #expect(notifier.watchdogInterval == .seconds(10))
    }

    @Test func watchdogForAnotherPidIsOff() throws {
        let notifier = try SystemdNotifier(environment: ["WATCHDOG_USEC": "20000000", "WATCHDOG_PID": "4242"],
                                           processID: 4243)
        #expect(notifier.watchdogInterval == nil)
    }

    @Test(arguments: [("WATCHDOG_USEC", "0"), ("WATCHDOG_USEC", "-5"), ("WATCHDOG_USEC", "10s"),
                      ("WATCHDOG_USEC", "18446744073709551615"), ("WATCHDOG_PID", "abc"), ("WATCHDOG_PID", "0")])
    func malformedWatchdogVariablesAreTypedErrors(_ variable: String, _ value: String) {
        var environment = ["WATCHDOG_USEC": "1000000", "WATCHDOG_PID": "77"]
        environment[variable] = value
        #expect {
            try SystemdNotifier(environment: environment, processID: 77)
        } throws: { error in
            guard case let .invalidEnvironment(name, got, _) = error as? SystemdError else { return false }
            return name == variable && got == value
        }
    }

    @Test func unsetEnvironmentRemovesTheVariables() throws {
        var environment = DictionaryEnvironment(variables: [
            "NOTIFY_SOCKET": "/run/systemd/notify", "WATCHDOG_USEC": "1000000", "WATCHDOG_PID": "9",
            "PATH": "/usr/bin",
        ])
        let notifier = try SystemdNotifier(reading: &environment, processID: 9, unsetEnvironment: true)
        #expect(notifier.isEnabled)
        #expect(notifier.watchdogInterval == .milliseconds(500))
        #expect(environment.variables == ["PATH": "/usr/bin"])
    }

    @Test func sendFailureIsReportedNotSwallowed() throws {
        let path = "/tmp/fusion-serve-gone-\(getpid())/notify"
        let notifier = try SystemdNotifier(environment: ["NOTIFY_SOCKET": path])
        #expect(throws: SystemdError.systemCall(operation: "sendto", path: path, errno: ENOENT)) {
            try notifier.ready()
        }
    }

    @Test func errorDescriptionsNameTheVariable() {
        let error = SystemdError.invalidEnvironment(variable: "WATCHDOG_USEC", value: "x", reason: "not a positive integer")
        #expect(error.description.contains("WATCHDOG_USEC=\"x\""))
        #expect(SystemdError.systemCall(operation: "sendto", path: "/p", errno: ENOENT).description.contains("No such file"))
    }
}
