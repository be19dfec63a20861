import Foundation
import POSIX

/// A parsed response as seen by the test client.
struct ClientResponse {
    var status: Int
    var headers: [(String, String)]
    var body: [UInt8]

    func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }

    var text: String { String(decoding: body, as: UTF8.self) }
}

struct ClientError: Error, CustomStringConvertible {
    let description: String
}

/// A blocking TCP client speaking raw bytes, with a receive timeout so a broken server
/// fails the test instead of hanging it.
final class RawClient {
    let socket: FileDescriptor
    private var buffer: [UInt8] = []

    init(port: UInt16, timeoutMilliseconds: Int = 5000) throws {
        socket = try TCPClient.connect(host: "127.0.0.1", port: port)
        try socket.setTimeouts(receiveMilliseconds: timeoutMilliseconds, sendMilliseconds: timeoutMilliseconds)
    }

    deinit { try? socket.close() }

    func send(_ text: String) throws { try socket.writeAll(Array(text.utf8)) }
    func send(_ bytes: [UInt8]) throws { try socket.writeAll(bytes) }

    /// Reads more bytes; returns false at end of file.
    private func fill() throws -> Bool {
        switch try socket.read(upTo: 65536) {
        case .done(let bytes):
            if bytes.isEmpty { return false }
            buffer += bytes
            return true
        case .wouldBlock:
            throw ClientError(description: "receive timed out")
        }
    }

    /// Reads one response (headers + Content-Length body). 1xx responses are returned too.
    func readResponse(isHead: Bool = false) throws -> ClientResponse {
        var headEnd: Int? = nil
        while true {
            if let range = findHeadEnd() { headEnd = range; break }
            guard try fill() else { throw ClientError(description: "connection closed before a response (buffer: \(String(decoding: buffer, as: UTF8.self)))") }
        }
        guard let headEnd else { throw ClientError(description: "no head") }
        let headText = String(decoding: buffer[0..<headEnd], as: UTF8.self)
        var lines = headText.components(separatedBy: "\r\n")
        let statusLine = lines.removeFirst()
        let parts = statusLine.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, let status = Int(parts[1]) else { throw ClientError(description: "bad status line \(statusLine)") }
        var headers: [(String, String)] = []
        for line in lines where !line.isEmpty {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers.append((String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
        buffer.removeFirst(headEnd + 4)
        var response = ClientResponse(status: status, headers: headers, body: [])
        let length = isHead || (100..<200).contains(status) ? 0 : Int(response.header("Content-Length") ?? "0") ?? 0
        while buffer.count < length {
            guard try fill() else { throw ClientError(description: "connection closed inside a body") }
        }
        response.body = Array(buffer[0..<length])
        buffer.removeFirst(length)
        return response
    }

    /// Reads until the server closes; returns what arrived (false if it timed out).
    func readUntilClosed() throws -> Bool {
        while true {
            do {
                if try !fill() { return true }
            } catch let error as SystemCallError where error.errno == ECONNRESET {
                return true
            } catch is ClientError {
                return false
            }
        }
    }

    private func findHeadEnd() -> Int? {
        guard buffer.count >= 4 else { return nil }
        for index in 0...(buffer.count - 4)
        where buffer[index] == 13 && buffer[index + 1] == 10 && buffer[index + 2] == 13 && buffer[index + 3] == 10 {
            return index
        }
        return nil
    }
}

/// `GET path` with Host, as raw text.
func getRequest(_ path: String, headers: [String] = []) -> String {
    "GET \(path) HTTP/1.1\r\nHost: test\r\n" + headers.map { $0 + "\r\n" }.joined() + "\r\n"
}
