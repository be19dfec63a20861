import Foundation
import HTTP
import POSIX
import Testing

/// The loop's deadlines, observed through a running server.
@Suite(.serialized)
struct EventLoopTests {
    @Test func slowClientIsCutOffWhileAnotherIsServedPromptly() throws {
        let server = try TestServer({ $0.headerTimeout = .milliseconds(1500) }, handler: echoHandler)
        defer { server.stop() }
        let slow = try RawClient(port: server.port)
        let started = Date()
        try slow.send("GET / HTTP/1.1\r\nHo")
        // Trickle bytes in the background; the deadline counts from the first byte.
        let trickle = Thread {
            for byte in "st: a\r\nX: 1234567890".utf8 {
                Thread.sleep(forTimeInterval: 0.05)
                guard (try? slow.socket.writeAll([byte])) != nil else { return }
            }
        }
        trickle.start()
        let fast = try RawClient(port: server.port)
        var slowest = 0.0
        for index in 0..<20 {
            let begin = Date()
            try fast.send(getRequest("/fast\(index)"))
            #expect(try fast.readResponse().status == 200)
            slowest = max(slowest, Date().timeIntervalSince(begin))
        }
        // Order, not a wall-clock bound: all 20 were answered while the slow client's request
        // was still open (its 408 has not arrived). A loop that blocked on the slow client would
        // have served them only after cutting it off at 1.5 s.
        #expect(try !slow.socket.wait(for: .readable, timeoutMilliseconds: 0),
                "the fast requests (slowest \(slowest) s) were answered only after the slow client was cut off")
        let cutOff = try slow.readResponse()
        let elapsed = Date().timeIntervalSince(started)
        #expect(cutOff.status == 408)
        #expect(cutOff.text.contains("\"code\":\"request_timeout\""))
        #expect(cutOff.header("X-Request-Id") != nil)
        #expect(cutOff.header("Connection") == "close")
        // Never before the deadline; the upper end is the client's 5 s receive timeout.
        #expect(elapsed >= 1.45, "cut off after \(elapsed) s")
        #expect(try slow.readUntilClosed())
        #expect(server.server.metrics.timeouts["header"] == 1)
    }

    @Test func stalledBodyIsCutOff() throws {
        let server = try TestServer({ $0.bodyTimeout = .milliseconds(300) }, handler: echoHandler)
        defer { server.stop() }
        let client = try RawClient(port: server.port)
        try client.send("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc")
        let response = try client.readResponse()
        #expect(response.status == 408)
        #expect(try client.readUntilClosed())
        #expect(server.server.metrics.timeouts["body"] == 1)
    }

    @Test func idleKeepAliveConnectionIsClosed() throws {
        let server = try TestServer({ $0.keepAliveTimeout = .milliseconds(300) }, handler: echoHandler)
        defer { server.stop() }
        let client = try RawClient(port: server.port, timeoutMilliseconds: 3000)
        try client.send(getRequest("/"))
        #expect(try client.readResponse().status == 200)
        let begin = Date()
        #expect(try client.readUntilClosed())
        #expect(Date().timeIntervalSince(begin) >= 0.25)
        #expect(server.server.metrics.timeouts["idle"] == 1)
    }

    @Test func connectionThatNeverSendsIsClosedAfterHeaderTimeout() throws {
        let server = try TestServer({ $0.headerTimeout = .milliseconds(300) }, handler: echoHandler)
        defer { server.stop() }
        let client = try RawClient(port: server.port, timeoutMilliseconds: 3000)
        #expect(try client.readUntilClosed())
    }

    @Test func firstConnectionAfterALongIdleIsServed() throws {
        let server = try TestServer({ $0.headerTimeout = .milliseconds(300) }, handler: echoHandler)
        defer { server.stop() }
        // Nothing is due, so the loop sleeps in epoll_wait; a connection arriving after more
        // than the header timeout must not be dated at the start of that sleep and dropped.
        Thread.sleep(forTimeInterval: 0.8)
        let client = try RawClient(port: server.port, timeoutMilliseconds: 3000)
        try client.send(getRequest("/after-idle"))
        #expect(try client.readResponse().status == 200)
        #expect(server.server.metrics.timeouts["header"] == nil)
    }

    @Test func pipelinedRequestsOfAClientThatDoesNotReadAreNotAllBuffered() throws {
        let body = [UInt8](repeating: 0x61, count: 16 << 10)
        let server = try TestServer { _, responder in responder.send(HTTPResponse(body: body)) }
        defer { server.stop() }
        let greedy = try RawClient(port: server.port)
        let count = 4000
        try greedy.send(String(repeating: getRequest("/x"), count: count))
        Thread.sleep(forTimeInterval: 0.5)
        // Only what fits the socket buffers is answered, not 4000 × 16 KiB held in memory.
        let sent = server.server.metrics.responsesSent
        #expect(sent < UInt64(count / 2), "\(sent) responses serialized for a client that reads none")
        let other = try RawClient(port: server.port, timeoutMilliseconds: 2000)
        try other.send(getRequest("/other"))
        #expect(try other.readResponse().status == 200)
    }

    @Test func aClientThatKeepsPipeliningIsNotTimedOut() throws {
        let server = try TestServer({ $0.headerTimeout = .milliseconds(300) }, handler: echoHandler)
        defer { server.stop() }
        let client = try RawClient(port: server.port)
        // Each write completes the previous head and starts the next, so the parser is never
        // idle; every head still arrives within 50 ms, far inside the header timeout.
        let request = getRequest("/p")
        let split = request.index(request.startIndex, offsetBy: 5)
        try client.send(String(request[..<split]))
        for _ in 0..<15 {
            Thread.sleep(forTimeInterval: 0.05)
            try client.send(String(request[split...]) + String(request[..<split]))
            #expect(try client.readResponse().status == 200)
        }
        #expect(server.server.metrics.timeouts["header"] == nil)
    }

    @Test func largeResponseToAClientThatDoesNotReadIsCutOff() throws {
        let body = [UInt8](repeating: 0x61, count: 48 << 20)
        let server = try TestServer({ $0.writeTimeout = .milliseconds(300) }) { _, responder in
            responder.send(HTTPResponse(body: body))
        }
        defer { server.stop() }
        let client = try RawClient(port: server.port)
        try client.send(getRequest("/big"))
        let deadline = Date().addingTimeInterval(5)
        while server.server.metrics.timeouts["write"] != 1 && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.05)
        }
        #expect(server.server.metrics.timeouts["write"] == 1)
        #expect(server.server.metrics.connectionsOpen == 0)
    }
}
