import Glibc
import Testing
import POSIX

@Suite struct FileDescriptorTests {
    @Test func closesExactlyOnce() throws {
        let (a, b) = try SocketPair.make(.stream)
        try a.close()
        try a.close()   // second close is a no-op, not EBADF
        #expect(a.isClosed)
        #expect(a.description.hasSuffix("(closed)"))
        // Observed through the peer (fd numbers may be reused by parallel tests at once).
        #expect(try b.read(upTo: 8) == .done([]))
        #expect(throws: SystemCallError(call: "write", errno: EBADF)) { try a.write([1]) }
    }

    @Test func releaseHandsOverOwnership() throws {
        let (a, _) = try SocketPair.make(.stream)
        let raw = try #require(a.release())
        #expect(a.release() == nil)
        #expect(fcntl(raw, F_GETFD) != -1)   // still open: released, not closed
        try FileDescriptor(rawValue: raw).close()
    }

    @Test func deinitClosesUnclosedDescriptor() throws {
        var survivor: FileDescriptor?
        do {
            let (a, b) = try SocketPair.make(.stream)
            survivor = b
            #expect(!a.isClosed)
        }
        #expect(try survivor?.read(upTo: 8) == .done([]))
    }

    @Test func flags() throws {
        let (a, _) = try SocketPair.make(.stream)
        #expect(try a.isCloseOnExec())
        #expect(try !a.isNonBlocking())
        try a.setNonBlocking(true)
        #expect(try a.isNonBlocking())
        try a.setCloseOnExec(false)
        #expect(try !a.isCloseOnExec())
    }

    @Test func readWriteWritevAndWait() throws {
        let (a, b) = try SocketPair.make(.stream)
        #expect(try a.write(Array("abc".utf8)) == .done(3))
        #expect(try a.writev([Array("de".utf8)[...], [], Array("fgh".utf8)[1...]]) == .done(4))
        #expect(try b.wait(for: .readable, timeoutMilliseconds: 1000))
        #expect(try b.read(upTo: 100) == .done(Array("abcdegh".utf8)))
        try b.setNonBlocking(true)
        #expect(try b.read(upTo: 100) == .wouldBlock)
        #expect(try !b.wait(for: .readable, timeoutMilliseconds: 10))
        try a.close()
        #expect(try b.read(upTo: 100) == .done([]))   // end of file
    }

    @Test func writeAllWaitsOnNonBlockingDescriptor() throws {
        let (a, b) = try SocketPair.make(.stream)
        try a.setNonBlocking(true)
        let payload = [UInt8](repeating: 7, count: 4 << 20)
        let reader = ReadAll(b, expected: payload.count)
        reader.start()
        try a.writeAll(payload)
        #expect(reader.finish() == payload.count)
    }
}

/// Reads `expected` bytes on a thread (so a writer can block meanwhile).
final class ReadAll: @unchecked Sendable {
    private let descriptor: FileDescriptor
    private let expected: Int
    private var total = 0
    private var thread: pthread_t?

    init(_ descriptor: FileDescriptor, expected: Int) {
        self.descriptor = descriptor
        self.expected = expected
    }

    func start() {
        var thread = pthread_t()
        let box = Unmanaged.passRetained(self).toOpaque()
        pthread_create(&thread, nil, { raw in
            guard let raw else { return nil }
            let me = Unmanaged<ReadAll>.fromOpaque(raw).takeRetainedValue()
            while me.total < me.expected {
                guard case .done(let bytes) = try? me.descriptor.read(upTo: 65536), !bytes.isEmpty else { break }
                me.total += bytes.count
            }
            return nil
        }, box)
        self.thread = thread
    }

    func finish() -> Int {
        if let thread { pthread_join(thread, nil) }
        return total
    }
}
