import POSIX

/// Why a benchmark request did not get an answer.
public enum BenchClientError: Error, CustomStringConvertible {
    case closed
    case timeout
    case malformed(String)
    case tooLarge(Int)

    public var description: String {
        switch self {
        case .closed: return "connection closed"
        case .timeout: return "timed out"
        case .malformed(let what): return "malformed response: \(what)"
        case .tooLarge(let n): return "response of \(n) bytes exceeds the limit"
        }
    }
}

/// One response as the load generator sees it.
public struct BenchResponse: Sendable {
    public var status: Int
    public var body: [UInt8]
}

/// A blocking keep-alive HTTP/1.1 connection for the load generator: writes a prepared
/// request, reads one Content-Length framed response (skipping `100 Continue`).
public final class BenchClient {
    private let descriptor: FileDescriptor
    private var buffer: [UInt8] = []
    /// Largest response accepted (bodies here are small JSON).
    private let maxResponseBytes = 16 << 20

    /// Connects to `host:port`; reads give up after `timeoutMilliseconds`.
    public init(host: String, port: UInt16, timeoutMilliseconds: Int) throws {
        descriptor = try TCPClient.connect(host: host, port: port)
        try descriptor.setTimeouts(receiveMilliseconds: timeoutMilliseconds, sendMilliseconds: timeoutMilliseconds)
    }

    deinit { try? descriptor.close() }

    /// Sends `request` and returns the response.
    public func exchange(_ request: [UInt8]) throws -> BenchResponse {
        try descriptor.writeAll(request)
        while true {
            let (status, length) = try readHead()
            try fill(atLeast: length)
            let body = Array(buffer[0..<length])
            buffer.removeFirst(length)
            if status == 100 { continue }
            return BenchResponse(status: status, body: body)
        }
    }

    private func fill(atLeast count: Int) throws {
        guard count <= maxResponseBytes else { throw BenchClientError.tooLarge(count) }
        while buffer.count < count {
            switch try descriptor.read(upTo: 65536) {
            case .done(let bytes):
                if bytes.isEmpty { throw BenchClientError.closed }
                buffer += bytes
            case .wouldBlock:
                throw BenchClientError.timeout
            }
        }
    }

    private func readHead() throws -> (status: Int, contentLength: Int) {
        var searchFrom = 0
        while true {
            if buffer.count >= 4 {
                for i in searchFrom...(buffer.count - 4)
                where buffer[i] == 13 && buffer[i + 1] == 10 && buffer[i + 2] == 13 && buffer[i + 3] == 10 {
                    let head = String(decoding: buffer[0..<i], as: UTF8.self)
                    buffer.removeFirst(i + 4)
                    return try parse(head)
                }
                searchFrom = buffer.count - 3
            }
            guard buffer.count < 64 * 1024 else { throw BenchClientError.malformed("response head over 64 KiB") }
            try fill(atLeast: buffer.count + 1)
        }
    }

    private func parse(_ head: String) throws -> (Int, Int) {
        let lines = head.split(separator: "\r\n", omittingEmptySubsequences: false)
        let statusParts = lines.first?.split(separator: " ") ?? []
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else {
            throw BenchClientError.malformed("status line \"\(lines.first ?? "")\"")
        }
        var length = 0
        for line in lines.dropFirst() {
            let parts = line.split(separator: ":", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == "content-length" {
                guard let value = Int(parts[1].trimmingCharacters(in: " \t")), value >= 0 else {
                    throw BenchClientError.malformed("Content-Length \"\(parts[1])\"")
                }
                length = value
            }
        }
        return (status, length)
    }
}
