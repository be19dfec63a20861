import POSIX
import TLS

/// Bytes in and out of a connection: straight on the socket, or through its TLS session.
/// One HTTP code path sits above this, so keep-alive, pipelining, chunked bodies,
/// 100-continue and multipart behave the same over both.
extension HTTPConnection {
    /// Reads what is available into `buffer`: `.done(0)` at the peer's end of stream.
    func receive(into buffer: UnsafeMutableRawBufferPointer) throws -> IOResult<Int> {
        guard let tls else { return try socket.read(into: buffer) }
        switch try tls.read(into: buffer) {
        case .done(let count): return .done(count)
        case .closed: return .done(0)
        case .wantRead: return .wouldBlock
        case .wantWrite:
            // A TLS 1.3 key update must be answered before reading goes on.
            tlsWants.insert(.writable)
            return .wouldBlock
        }
    }

    /// Writes from the front of `output` (after `outputOffset`); returns the bytes taken.
    func send(gathering scratch: inout [UInt8]) throws -> IOResult<Int> {
        guard let tls else {
            if output.count == 1 {
                return try output[0].withUnsafeBytes { bytes in
                    try socket.write(from: UnsafeRawBufferPointer(rebasing: bytes[outputOffset...]))
                }
            }
            var slices = [output[0][outputOffset...]]
            for chunk in output.dropFirst().prefix(15) { slices.append(chunk[...]) }
            return try socket.writev(slices)
        }
        // TLS has no writev: small chunks are gathered into one record (a response head and
        // its body in one), large ones go as they are.
        let result: TLSIO
        if output[0].count - outputOffset >= Self.tlsRecordBytes || output.count == 1 {
            result = try output[0].withUnsafeBytes { bytes in
                try tls.write(from: UnsafeRawBufferPointer(rebasing: bytes[outputOffset...]))
            }
        } else {
            scratch.removeAll(keepingCapacity: true)
            scratch.append(contentsOf: output[0][outputOffset...])
            for chunk in output.dropFirst() where scratch.count < Self.tlsRecordBytes {
                scratch.append(contentsOf: chunk.prefix(Self.tlsRecordBytes - scratch.count))
            }
            result = try scratch.withUnsafeBytes { try tls.write(from: $0) }
        }
        switch result {
        case .done(let count): return .done(count)
        case .wantWrite: return .wouldBlock
        case .wantRead:
            tlsWants.insert(.readable)
            return .wouldBlock
        case .closed: throw TLSError("TLS write: the peer closed")
        }
    }

    /// The payload of one full TLS record.
    static let tlsRecordBytes = 16 * 1024
}
