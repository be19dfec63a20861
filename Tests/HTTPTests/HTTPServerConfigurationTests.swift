import Testing
import HTTP

@Suite struct HTTPServerConfigurationTests {
    @Test func defaults() {
        let configuration = HTTPServer.Configuration()
        #expect(configuration.listener == .address(host: "127.0.0.1", port: 8080))
        #expect(configuration.headerTimeout == .seconds(10))
        #expect(configuration.keepAliveTimeout == .seconds(60))
        #expect(configuration.drainTimeout == .seconds(30))
        #expect(configuration.maxConnections == 1024)
        #expect(configuration.requestIDHeader == "X-Request-Id")
        #expect(HTTPServer.Configuration(adoptingListener: 3).listener == .adoptedDescriptor(3))
    }
}
