import Glibc
import Testing
import POSIX

@Suite struct SocketOptionsTests {
    @Test func noDelayAndBuffers() throws {
        let listener = try TCPListener(host: "127.0.0.1", port: 0)
        let client = try TCPClient.connect(host: "127.0.0.1", port: listener.localAddress.port)
        #expect(try client.socketOption(level: Int32(IPPROTO_TCP), name: TCP_NODELAY) != 0)
        try client.setNoDelay(false)
        #expect(try client.socketOption(level: Int32(IPPROTO_TCP), name: TCP_NODELAY) == 0)
        try client.setBufferSizes(send: 65536, receive: 65536)
        #expect(try client.socketOption(level: SOL_SOCKET, name: SO_SNDBUF) >= 65536)
    }

    @Test func receiveTimeoutTurnsIntoWouldBlock() throws {
        let (a, peer) = try SocketPair.make(.stream)
        defer { withExtendedLifetime(peer) {} }
        try a.setTimeouts(receiveMilliseconds: 50, sendMilliseconds: 50)
        #expect(try a.read(upTo: 1) == .wouldBlock)
    }

    @Test func shutdownOfAnUnconnectedPeerIsNotAnError() throws {
        let (a, b) = try SocketPair.make(.stream)
        try b.close()
        try a.shutdown(.both)
    }
}
