import Testing
import POSIX

@Suite struct EpollTests {
    @Test func reportsReadinessWithTokens() throws {
        let epoll = try Epoll()
        let (a, b) = try SocketPair.make(.stream)
        try epoll.add(b, events: .readable, token: 42)
        var seen: [EpollEvent] = []
        #expect(try epoll.wait(timeoutMilliseconds: 0) { seen.append($0) } == 0)
        try a.writeAll([1])
        #expect(try epoll.wait(timeoutMilliseconds: 1000) { seen.append($0) } == 1)
        #expect(seen.first?.token == 42)
        #expect(seen.first?.events.contains(.readable) == true)
        try epoll.modify(b, events: [.readable, .writable], token: 7)
        seen = []
        try epoll.wait(timeoutMilliseconds: 1000) { seen.append($0) }
        #expect(seen.first?.token == 7)
        #expect(seen.first?.events.isSuperset(of: [.readable, .writable]) == true)
        try epoll.remove(b)
        #expect(try epoll.wait(timeoutMilliseconds: 0) { _ in } == 0)
    }

    @Test func hangupIsReported() throws {
        let epoll = try Epoll()
        let (a, b) = try SocketPair.make(.stream)
        try epoll.add(b, events: .readHangup, token: 1)
        try a.close()
        var events: EpollEvents = []
        try epoll.wait(timeoutMilliseconds: 1000) { events = $0.events }
        #expect(events.contains(.readHangup))
    }
}
