import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A parsed HTTP response.
struct ClientResponse {
    var status: Int
    var headers: [(String, String)]
    var body: [UInt8]

    func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }

    var text: String { String(decoding: body, as: UTF8.self) }

    var json: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] ?? [:]
    }

    /// `"400 malformed_json"` for an error body.
    var errorCode: String {
        let code = (json["error"] as? [String: Any])?["code"] as? String ?? "(none)"
        return "\(status) \(code)"
    }
}

/// A minimal blocking HTTP/1.1 client over a loopback TCP socket (the "Swift client" of the
/// tests): raw bytes out, Content-Length framed responses in.
final class HTTPClient: @unchecked Sendable {
    // @unchecked: a client is used by one thread at a time (tests hand each to its own thread).
    let fd: Int32
    private var buffer: [UInt8] = []

    init(port: UInt16, timeoutSeconds: Int = 20) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw EndToEndError("socket: errno \(errno)") }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else {
            let code = errno
            close(fd)
            throw EndToEndError("connect to \(port): errno \(code)")
        }
    }

    deinit { close(fd) }

    func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw EndToEndError("send: errno \(errno)")
            }
            offset += n
        }
    }

    func send(_ text: String) throws { try send(Array(text.utf8)) }

    /// Reads more bytes; false at end of stream.
    private func fill() throws -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 {
                if errno == EINTR { continue }
                throw EndToEndError("recv: errno \(errno) (timeout or reset)")
            }
            if n == 0 { return false }
            buffer += chunk[0..<n]
            return true
        }
    }

    /// Reads one response (skipping `100 Continue`); nil if the server closed first.
    func readResponse() throws -> ClientResponse? {
        while true {
            let marker: [UInt8] = [13, 10, 13, 10]
            var headEnd: Int?
            while headEnd == nil {
                if buffer.count >= 4 {
                    headEnd = (0...(buffer.count - 4)).first { buffer[$0..<$0 + 4].elementsEqual(marker) }
                }
                if headEnd == nil {
                    guard try fill() else {
                        if buffer.isEmpty { return nil }
                        throw EndToEndError("connection closed inside a response head")
                    }
                }
            }
            guard let end = headEnd else { return nil }
            let head = String(decoding: buffer[0..<end], as: UTF8.self)
            buffer.removeFirst(end + 4)
            var lines = head.components(separatedBy: "\r\n")
            let statusLine = lines.removeFirst().split(separator: " ")
            guard statusLine.count >= 2, let status = Int(statusLine[1]) else { throw EndToEndError("bad status line: \(head)") }
            let headers = lines.compactMap { line -> (String, String)? in
                guard let colon = line.firstIndex(of: ":") else { return nil }
                return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
            }
            if status == 100 { continue }
            let length = Int(headers.first { $0.0.lowercased() == "content-length" }?.1 ?? "0") ?? 0
            while buffer.count < length {
                guard try fill() else { throw EndToEndError("connection closed inside a body") }
            }
            let body = Array(buffer[0..<length])
            buffer.removeFirst(length)
            return ClientResponse(status: status, headers: headers, body: body)
        }
    }

    /// Whether the server has closed the connection (reads until EOF or timeout).
    /// Whether anything from the server (bytes or end of file) is waiting, without blocking.
    var hasSomethingToRead: Bool {
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return !buffer.isEmpty || poll(&entry, 1, 0) > 0
    }

    func isClosedByServer() -> Bool {
        (try? fill()) == false
    }

    /// The bytes of one request.
    static func requestBytes(method: String, path: String, body: [UInt8] = [], contentType: String? = nil,
                             extraHeaders: [(String, String)] = []) -> [UInt8] {
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        if let contentType { head += "Content-Type: \(contentType)\r\n" }
        if !body.isEmpty || method == "POST" { head += "Content-Length: \(body.count)\r\n" }
        for (name, value) in extraHeaders { head += "\(name): \(value)\r\n" }
        head += "\r\n"
        return Array(head.utf8) + body
    }

    /// One request on a fresh connection.
    static func request(port: UInt16, method: String, path: String, body: [UInt8] = [], contentType: String? = nil,
                        extraHeaders: [(String, String)] = []) throws -> ClientResponse {
        let client = try HTTPClient(port: port)
        try client.send(requestBytes(method: method, path: path, body: body, contentType: contentType, extraHeaders: extraHeaders))
        guard let response = try client.readResponse() else { throw EndToEndError("no response to \(method) \(path)") }
        return response
    }

    /// A JSON `/infer` body for an image and a text.
    static func inferJSON(image: [UInt8], text: String, id: String? = nil, extra: String = "") -> [UInt8] {
        var json = #"{"image":"\#(Data(image).base64EncodedString())","text":"\#(text)""#
        if let id { json += #","id":"\#(id)""# }
        return Array((json + extra + "}").utf8)
    }
}
