import POSIX

/// A blocking, framed connection to the other end of a worker socket pair.
///
/// One thread may `receive` while another `send`s (the socket is full duplex); two concurrent
/// senders must serialise themselves.
final class FrameChannel: @unchecked Sendable {
    // @unchecked: `limits` is set once, by the worker loop before its first read (one thread).
    let descriptor: FileDescriptor
    var limits: WireLimits

    init(descriptor: FileDescriptor, limits: WireLimits) {
        self.descriptor = descriptor
        self.limits = limits
    }

    /// Writes one message.
    func send(_ message: WireMessage) throws {
        try descriptor.writeAll(WireProtocol.encode(message))
    }

    /// Writes an already encoded frame.
    func send(frame: [UInt8]) throws {
        try descriptor.writeAll(frame)
    }

    /// Reads the next message; nil when the peer closed the connection between frames.
    func receive() throws -> WireMessage? {
        guard let header = try readExactly(WireProtocol.headerSize) else { return nil }
        let (type, length) = try WireProtocol.decodeHeader(header, limits: limits)
        let payload = length == 0 ? [] : try readExactly(length)
        guard let payload else { throw WireError.truncated("frame payload (peer closed)") }
        return try WireProtocol.decodePayload(type: type, payload, limits: limits)
    }

    /// Reads exactly `count` bytes; nil if the peer closed before the first one.
    private func readExactly(_ count: Int) throws -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: count)
        var filled = 0
        try buffer.withUnsafeMutableBytes { raw in
            while filled < count {
                let rest = UnsafeMutableRawBufferPointer(rebasing: raw[filled...])
                switch try descriptor.read(into: rest) {
                case .done(0):
                    guard filled == 0 else { throw WireError.truncated("frame (peer closed mid-frame)") }
                    return
                case .done(let n):
                    filled += n
                case .wouldBlock:
                    _ = try descriptor.wait(for: .readable, timeoutMilliseconds: -1)
                }
            }
        }
        return filled == 0 ? nil : buffer
    }
}
