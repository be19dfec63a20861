import Glibc
import Testing
import POSIX

@Suite struct SyscallTests {
    @Test func failureCarriesNameAndErrno() {
        #expect(throws: SystemCallError(call: "close-bad-fd", errno: EBADF)) {
            try syscall(name: "close-bad-fd") { Glibc.close(-1) }
        }
        #expect(SystemCallError(call: "bind", errno: EADDRINUSE).description == "bind: Address already in use (errno 98)")
    }

    @Test func eagainIsWouldBlock() throws {
        let (a, peer) = try SocketPair.make(.stream)
        defer { withExtendedLifetime(peer) {} }   // keep the peer open: no end of file
        try a.setNonBlocking(true)
        var byte: UInt8 = 0
        let result = try syscall(name: "read") { Glibc.read(a.rawValue, &byte, 1) }
        #expect(result == .wouldBlock)
        #expect(throws: SystemCallError(call: "read", errno: EAGAIN)) {
            try syscallValue(name: "read") { Glibc.read(a.rawValue, &byte, 1) }
        }
    }

    @Test func eintrIsRetried() throws {
        var calls = 0
        let result = try syscall(name: "flaky") { () -> Int32 in
            calls += 1
            if calls < 3 {
                errno = EINTR
                return -1
            }
            return 7
        }
        #expect(result == .done(7))
        #expect(calls == 3)
    }
}
