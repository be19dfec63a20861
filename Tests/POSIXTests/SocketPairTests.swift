import Testing
import POSIX

@Suite struct SocketPairTests {
    @Test func seqpacketKeepsMessageBoundaries() throws {
        let (a, b) = try SocketPair.make(.seqpacket)
        #expect(try a.write(Array("first".utf8)) == .done(5))
        #expect(try a.write(Array("second!".utf8)) == .done(7))
        #expect(try b.read(upTo: 100) == .done(Array("first".utf8)))
        #expect(try b.read(upTo: 100) == .done(Array("second!".utf8)))
    }

    @Test func bothEndsAreCloseOnExec() throws {
        let (a, b) = try SocketPair.make(.stream)
        #expect(try a.isCloseOnExec() && b.isCloseOnExec())
    }
}
