import Testing
import POSIX

@Suite struct SocketAddressTests {
    @Test func numericAddresses() throws {
        let v4 = try SocketAddress.resolve(host: "127.0.0.1", port: 8080)
        #expect(v4.family == .ipv4)
        #expect(v4.description == "127.0.0.1:8080")
        let v6 = try SocketAddress.resolve(host: "[::1]", port: 443)
        #expect(v6.family == .ipv6)
        #expect(v6.host == "::1")
        #expect(v6.description == "[::1]:443")
        #expect(try SocketAddress.resolve(host: "", port: 1).host == "0.0.0.0")
    }

    @Test func namesResolve() throws {
        let local = try SocketAddress.resolve(host: "localhost", port: 80)
        #expect(local.host == "127.0.0.1" || local.host == "::1")
        #expect(throws: SocketError.self) { try SocketAddress.resolve(host: "no-such-host.invalid", port: 80) }
    }
}
