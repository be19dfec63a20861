#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import Systemd

@Suite struct NotifySocketAddressTests {
    @Test func pathKeepsBytesWithoutLeadingNul() throws {
        let address = try NotifySocketAddress(parsing: "/run/systemd/notify")
        #expect(address.pathBytes == Array("/run/systemd/notify".utf8))
        #expect(!address.isAbstract)
    }

    @Test func atSignBecomesAbstractNamespace() throws {
        let address = try NotifySocketAddress(parsing: "@/org/freedesktop/systemd1/notify/42")
        #expect(address.isAbstract)
        #expect(address.pathBytes == [0] + Array("/org/freedesktop/systemd1/notify/42".utf8))
    }

    @Test(arguments: ["run/notify", "vsock:2:1234", "./notify"])
    func relativeOrForeignAddressIsUnsupported(_ value: String) {
        #expect(throws: SystemdError.unsupportedNotifyAddress(value)) {
            try NotifySocketAddress(parsing: value)
        }
    }

    @Test(arguments: ["", "@"])
    func emptyAddressIsInvalid(_ value: String) {
        #expect {
            try NotifySocketAddress(parsing: value)
        } throws: { error in
            guard case let .invalidEnvironment(variable, got, _) = error as? SystemdError else { return false }
            return variable == "NOTIFY_SOCKET" && got == value
        }
    }

    @Test func pathMustLeaveRoomForItsNul() throws {
        let capacity = NotifySocketAddress.capacity
        let fits = "/" + String(repeating: "a", count: capacity - 2)
        #expect(try NotifySocketAddress(parsing: fits).pathBytes.count == capacity - 1)
        let tooLong = "/" + String(repeating: "a", count: capacity - 1)
        #expect(throws: SystemdError.self) { try NotifySocketAddress(parsing: tooLong) }
        let abstractFits = "@" + String(repeating: "b", count: capacity - 1)
        #expect(try NotifySocketAddress(parsing: abstractFits).pathBytes.count == capacity)
        #expect(throws: SystemdError.self) { try NotifySocketAddress(parsing: abstractFits + "b") }
    }

    @Test func sendsOneDatagramToAPathSocket() throws {
        let receiver = try DatagramReceiver()
        try NotifySocketAddress(parsing: receiver.notifySocket).send(Array("READY=1".utf8))
        #expect(try receiver.receive() == "READY=1")
    }

    @Test func sendsOneDatagramToAnAbstractSocket() throws {
        let receiver = try DatagramReceiver(abstract: true)
        try NotifySocketAddress(parsing: receiver.notifySocket).send(Array("WATCHDOG=1".utf8))
        #expect(try receiver.receive() == "WATCHDOG=1")
    }

    @Test func missingSocketIsASystemCallErrorNamingThePath() {
        let path = "/tmp/fusion-serve-no-such-dir-\(getpid())/notify"
        #expect(throws: SystemdError.systemCall(operation: "sendto", path: path, errno: ENOENT)) {
            try NotifySocketAddress(parsing: path).send(Array("READY=1".utf8))
        }
    }
}
