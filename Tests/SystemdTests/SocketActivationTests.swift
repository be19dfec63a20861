#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import Systemd

/// Listening loopback sockets moved to consecutive descriptors starting at a high free number,
/// so the test exercises real descriptors without touching fd 3 of the test process.
private final class PassedSockets {
    let first: Int32
    let count: Int

    init(count: Int, listening: Bool = true) throws {
        // Find `count` consecutive free descriptors above the ones the test runner uses.
        var candidate: Int32 = 600 + Int32.random(in: 0..<300)
        while (0..<Int32(count)).contains(where: { fcntl(candidate + $0, F_GETFD) >= 0 }) { candidate += Int32(count) }
        for index in 0..<Int32(count) {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { throw SystemdError.systemCall(operation: "socket", path: "test", errno: errno) }
            if listening {
                var address = sockaddr_in()
                address.sin_family = sa_family_t(AF_INET)
                address.sin_addr.s_addr = inet_addr("127.0.0.1")
                _ = withUnsafePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
                }
                listen(fd, 4)
            }
            guard dup2(fd, candidate + index) == candidate + index else {
                throw SystemdError.systemCall(operation: "dup2", path: "test", errno: errno)
            }
            close(fd)
        }
        first = candidate
        self.count = count
    }

    deinit { for index in 0..<Int32(count) { close(first + index) } }
}

@Suite struct SocketActivationTests {
    @Test func notActivatedWhenVariablesAreAbsent() throws {
        var environment = DictionaryEnvironment(variables: ["HOME": "/root"])
        #expect(try SocketActivation.take(from: &environment, processID: getpid()).isEmpty)
        #expect(environment.variables == ["HOME": "/root"])
    }

    @Test func processWithoutVariablesGetsNothing() throws {
        // The real entry point against the real environment of the test process.
        #expect(try SocketActivation.listenFDs().isEmpty)
    }

    @Test func descriptorsForAnotherPidAreIgnoredButVariablesRemoved() throws {
        var environment = DictionaryEnvironment(variables: ["LISTEN_FDS": "1", "LISTEN_PID": "\(getpid() + 1)",
                                                            "LISTEN_FDNAMES": "http"])
        #expect(try SocketActivation.take(from: &environment, processID: getpid()).isEmpty)
        #expect(environment.variables.isEmpty)
    }

    @Test func passedSocketsAreReturnedInOrderWithNamesAndCloseOnExec() throws {
        let sockets = try PassedSockets(count: 2)
        #expect(fcntl(sockets.first, F_GETFD) & FD_CLOEXEC == 0)
        var environment = DictionaryEnvironment(variables: ["LISTEN_FDS": "2", "LISTEN_PID": "\(getpid())",
                                                            "LISTEN_FDNAMES": "http:admin", "TERM": "xterm"])
        let passed = try SocketActivation.take(from: &environment, processID: getpid(), first: sockets.first)
        #expect(passed == [.init(fd: sockets.first, name: "http"), .init(fd: sockets.first + 1, name: "admin")])
        for item in passed {
            #expect(fcntl(item.fd, F_GETFD) & FD_CLOEXEC != 0)
            #expect(SocketActivation.isListeningStreamSocket(item.fd))
        }
        #expect(environment.variables == ["TERM": "xterm"])
    }

    @Test func namesAreOptional() throws {
        let sockets = try PassedSockets(count: 1)
        var environment = DictionaryEnvironment(variables: ["LISTEN_FDS": "1", "LISTEN_PID": "\(getpid())"])
        let passed = try SocketActivation.take(from: &environment, processID: getpid(), first: sockets.first)
        #expect(passed == [.init(fd: sockets.first, name: nil)])
    }

    @Test func zeroDescriptorsIsValid() throws {
        var environment = DictionaryEnvironment(variables: ["LISTEN_FDS": "0", "LISTEN_PID": "\(getpid())"])
        #expect(try SocketActivation.take(from: &environment, processID: getpid()).isEmpty)
    }

    @Test(arguments: [("LISTEN_FDS", "x"), ("LISTEN_FDS", "-1"), ("LISTEN_FDS", "5000"),
                      ("LISTEN_PID", "me"), ("LISTEN_PID", "0"), ("LISTEN_FDNAMES", "a:b")])
    func malformedVariablesAreTypedErrorsAndStillRemoved(_ variable: String, _ value: String) {
        var environment = DictionaryEnvironment(variables: ["LISTEN_FDS": "1", "LISTEN_PID": "\(getpid())"])
        environment.variables[variable] = value
        #expect {
            try SocketActivation.take(from: &environment, processID: getpid(), first: 100_000)
        } throws: { error in
            guard case let .invalidEnvironment(name, got, _) = error as? SystemdError else { return false }
            return name == variable && got == value
        }
        #expect(environment.variables.isEmpty)
    }

    @Test func promisedDescriptorThatIsNotOpenIsReported() throws {
        let sockets = try PassedSockets(count: 1)
        var environment = DictionaryEnvironment(variables: ["LISTEN_FDS": "2", "LISTEN_PID": "\(getpid())"])
        #expect(throws: SystemdError.descriptorNotOpen(fd: sockets.first + 1)) {
            try SocketActivation.take(from: &environment, processID: getpid(), first: sockets.first)
        }
    }

    @Test func onlyListeningStreamSocketsQualify() throws {
        let listening = try PassedSockets(count: 1)
        #expect(SocketActivation.isListeningStreamSocket(listening.first))
        let idle = try PassedSockets(count: 1, listening: false)
        #expect(!SocketActivation.isListeningStreamSocket(idle.first))
        let datagram = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(datagram) }
        #expect(!SocketActivation.isListeningStreamSocket(datagram))
        #expect(!SocketActivation.isListeningStreamSocket(-1))
    }
}
