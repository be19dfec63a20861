#if canImport(Glibc)
import Glibc
#endif
import CFuzzerDriver
import HTTP

/// libFuzzer entry: the HTTP/1.1 request parser (heads, fixed and chunked bodies, trailers,
/// pipelined requests).
///
/// The first input byte picks how the rest is cut into `append` calls, so the same request
/// bytes also arrive split at every kind of boundary. The parser must never crash, and must
/// be split-invariant: cut into pieces it yields exactly the requests (and the error, if
/// any) it yields when it gets all bytes at once, because a client controls the cuts.
/// Small limits make the limit paths reachable with short inputs.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHTTPParser(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data, size > 0 else { return 0 }
    let seed = Int(data[0])
    let bytes = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    let limits = HTTPLimits(maxHeaderBytes: 1024, maxHeaderCount: 16, maxBodyBytes: 4096, maxChunkLineBytes: 64)

    let whole = run(bytes, pieceSize: { _ in bytes.count }, limits: limits)
    // Piece sizes from the seed byte: 1, 2, 3, 7 bytes, or a varying pattern.
    let split = run(bytes, pieceSize: { index in
        switch seed & 3 {
        case 0: return 1
        case 1: return 2 + (seed >> 2) % 5
        case 2: return 1 + (index * 7 + seed) % 13
        default: return 1 + (seed >> 2)
        }
    }, limits: limits)
    guard whole == split else {
        fatalError("split-dependent parse: whole=\(whole) split=\(split)")
    }
    return 0
}

/// What one parse produced: one line per event, then the error if any.
private func run(_ bytes: [UInt8], pieceSize: (Int) -> Int, limits: HTTPLimits) -> [String] {
    var parser = HTTPRequestParser(limits: limits)
    var events: [String] = []
    var offset = 0
    var index = 0
    while offset < bytes.count {
        let end = min(bytes.count, offset + max(1, pieceSize(index)))
        parser.append(Array(bytes[offset..<end]))
        offset = end
        index += 1
        do {
            while let event = try parser.next() {
                switch event {
                case .head(let head):
                    events.append("head \(head.method) \(head.target) \(head.version) \(head.framing) keepAlive=\(head.keepAlive)")
                case .message(let request):
                    precondition(request.body.count <= limits.maxBodyBytes, "body over the limit")
                    events.append("message \(request.method) \(request.target) \(request.body.count) \(request.body.hashValue)")
                }
            }
        } catch {
            events.append("error \(error.kind)")
            // Any error is final: the same error again, whatever follows.
            do {
                parser.append([0x0D, 0x0A])
                _ = try parser.next()
                fatalError("parser recovered after \(error)")
            } catch let again {
                precondition(again == error, "a different error after \(error): \(again)")
            }
            return events
        }
    }
    return events
}

// SwiftPM gives the executable its own `main` (this file's top-level code), so it hands the
// command line to libFuzzer's driver (Fuzz/CFuzzerDriver) rather than linking libFuzzer's.
var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv, fuzzHTTPParser))
