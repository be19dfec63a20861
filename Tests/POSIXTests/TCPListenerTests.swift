import Foundation
import Glibc
import Testing
import POSIX

@Suite struct TCPListenerTests {
    @Test func bindsEphemeralPortAndAcceptsNonBlockingCloexecSockets() throws {
        let listener = try TCPListener(host: "127.0.0.1", port: 0)
        #expect(listener.localAddress.port != 0)
        #expect(try listener.descriptor.isNonBlocking())
        guard case .wouldBlock = try listener.accept() else { Issue.record("expected would-block"); return }
        let client = try TCPClient.connect(host: "127.0.0.1", port: listener.localAddress.port)
        #expect(try listener.descriptor.wait(for: .readable, timeoutMilliseconds: 2000))
        guard case .done(let server) = try listener.accept() else { Issue.record("expected a connection"); return }
        #expect(try server.isNonBlocking())
        #expect(try server.isCloseOnExec())
        #expect(try server.peerAddress().port == client.localAddress().port)
        try client.writeAll(Array("ping".utf8))
        #expect(try server.wait(for: .readable, timeoutMilliseconds: 2000))
        #expect(try server.read(upTo: 16) == .done(Array("ping".utf8)))
        try server.shutdown(.write)
        #expect(try client.read(upTo: 16) == .done([]))
    }

    /// Whether the kernel has IPv6 on the loopback interface, read from /proc rather than by
    /// trying `TCPListener` (a broken IPv6 path in our code must fail, not skip, the test).
    static let hasIPv6Loopback: Bool = {
        guard let table = FileManager.default.contents(atPath: "/proc/net/if_inet6") else { return false }
        return String(decoding: table, as: UTF8.self).split(separator: "\n")
            .contains { $0.hasPrefix("00000000000000000000000000000001 ") }
    }()

    @Test(.enabled(if: hasIPv6Loopback, "no IPv6 loopback (::1 missing from /proc/net/if_inet6)"))
    func bindsIPv6Loopback() throws {
        let listener = try TCPListener(host: "::1", port: 0)
        #expect(listener.localAddress.family == .ipv6)
        let client = try TCPClient.connect(host: "::1", port: listener.localAddress.port)
        #expect(try client.peerAddress().port == listener.localAddress.port)
    }

    @Test func portInUseIsATypedError() throws {
        let first = try TCPListener(host: "127.0.0.1", port: 0)
        #expect(throws: SystemCallError(call: "bind", errno: EADDRINUSE)) {
            // Without SO_REUSEPORT a second listener on the same port must fail.
            try TCPListener(host: "127.0.0.1", port: first.localAddress.port)
        }
    }

    @Test func adoptsAListeningSocketAndMakesItNonBlockingCloexec() throws {
        let original = try TCPListener(host: "127.0.0.1", port: 0)
        let raw = try #require(original.descriptor.release())
        // systemd hands the socket over blocking and inheritable.
        _ = fcntl(raw, F_SETFD, 0)
        let adopted = try TCPListener(adopting: raw)
        #expect(adopted.localAddress.port == original.localAddress.port)
        #expect(try adopted.descriptor.isNonBlocking())
        #expect(try adopted.descriptor.isCloseOnExec())
    }

    @Test func refusesWhatIsNotAListeningStreamSocket() throws {
        let (pairEnd, _) = try SocketPair.make(.stream)
        #expect(throws: SocketError.self) { try TCPListener(adopting: pairEnd.rawValue) }
        #expect(!pairEnd.isClosed)   // not ours: left open
        let (datagram, _) = try SocketPair.make(.datagram)
        #expect(throws: SocketError.self) { try TCPListener(adopting: datagram.rawValue) }
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        defer { close(fds[0]); close(fds[1]) }
        #expect(throws: SocketError.self) { try TCPListener(adopting: fds[0]) }
    }
}
