import CSystemShims

/// Turns a response into wire bytes for one exchange.
package struct HTTPResponseSerializer {
    /// Whether to send `Date`.
    package let sendDate: Bool
    /// Name of the request-id header.
    package let requestIDHeader: String
    private var cachedSecond: Int64 = -1
    private var cachedDateLine: [UInt8] = []

    package init(sendDate: Bool, requestIDHeader: String = "X-Request-Id") {
        self.sendDate = sendDate
        self.requestIDHeader = requestIDHeader
    }

    /// Whether `response` asks for the connection to close.
    package static func wantsClose(_ response: HTTPResponse) -> Bool {
        response.headers.tokens(for: "Connection").contains("close")
    }

    /// Appends the status line and headers (and, unless `omitBody`, the body) to `out`.
    /// Returns whether the body still has to be sent separately (large bodies are not
    /// copied: the caller writes them with `writev`).
    package mutating func serialize(
        _ response: HTTPResponse, requestID: String, version: HTTPVersion, keepAlive: Bool,
        isHeadRequest: Bool, into out: inout [UInt8]
    ) -> Bool {
        let status = response.status
        out.append(contentsOf: Self.statusPrefix)
        Self.appendDecimal(status.code, into: &out)
        out.append(HTTPSyntax.space)
        appendSanitized(status.reasonPhrase, into: &out)
        out.append(contentsOf: [HTTPSyntax.cr, HTTPSyntax.lf])
        for field in response.headers where !isManaged(field.name) {
            guard !field.name.isEmpty, field.name.utf8.allSatisfy(HTTPSyntax.isTokenByte) else { continue }
            out.append(contentsOf: field.name.utf8)
            out.append(contentsOf: [HTTPSyntax.colon, HTTPSyntax.space])
            appendSanitized(field.value, into: &out)
            out.append(contentsOf: [HTTPSyntax.cr, HTTPSyntax.lf])
        }
        let hasBody = !status.forbidsBody
        if hasBody {
            out.append(contentsOf: Self.contentLengthPrefix)
            Self.appendDecimal(response.body.count, into: &out)
            out.append(contentsOf: [HTTPSyntax.cr, HTTPSyntax.lf])
        }
        if !requestID.isEmpty {
            out.append(contentsOf: requestIDHeader.utf8)
            out.append(contentsOf: [HTTPSyntax.colon, HTTPSyntax.space])
            appendSanitized(requestID, into: &out)
            out.append(contentsOf: [HTTPSyntax.cr, HTTPSyntax.lf])
        }
        if sendDate { appendDate(into: &out) }
        if !keepAlive {
            out.append(contentsOf: "Connection: close\r\n".utf8)
        } else if version == .http1_0 {
            out.append(contentsOf: "Connection: keep-alive\r\n".utf8)
        }
        out.append(contentsOf: [HTTPSyntax.cr, HTTPSyntax.lf])
        guard hasBody, !isHeadRequest, !response.body.isEmpty else { return false }
        if response.body.count <= 16 * 1024 {
            out.append(contentsOf: response.body)
            return false
        }
        return true
    }

    /// Headers the server owns; a handler's copies are dropped.
    private func isManaged(_ name: String) -> Bool {
        switch name.utf8.count {
        case 4: return HTTPSyntax.equalsIgnoringCase(name, "Date") && sendDate
        case 10: return HTTPSyntax.equalsIgnoringCase(name, "Connection")
        case 14: return HTTPSyntax.equalsIgnoringCase(name, "Content-Length")
        case 17: return HTTPSyntax.equalsIgnoringCase(name, "Transfer-Encoding")
        default: return HTTPSyntax.equalsIgnoringCase(name, requestIDHeader)
        }
    }

    /// Appends `text` without bytes that could end a header line or corrupt the frame
    /// (CR, LF, NUL and other controls except HTAB): response splitting is impossible.
    private func appendSanitized(_ text: String, into out: inout [UInt8]) {
        let utf8 = text.utf8
        if utf8.allSatisfy(HTTPSyntax.isFieldValueByte) {
            out.append(contentsOf: utf8)
        } else {
            for byte in utf8 where HTTPSyntax.isFieldValueByte(byte) { out.append(byte) }
        }
    }

    private static let statusPrefix: [UInt8] = Array("HTTP/1.1 ".utf8)
    private static let contentLengthPrefix: [UInt8] = Array("Content-Length: ".utf8)

    /// Decimal digits of a non-negative integer, without allocating a String.
    private static func appendDecimal(_ value: Int, into out: inout [UInt8]) {
        guard value > 0 else {
            out.append(UInt8(ascii: "0"))
            return
        }
        var divisor = 1
        while divisor <= value / 10 { divisor *= 10 }
        var rest = value
        while divisor > 0 {
            out.append(UInt8(ascii: "0") + UInt8(rest / divisor))
            rest %= divisor
            divisor /= 10
        }
    }

    private mutating func appendDate(into out: inout [UInt8]) {
        let second = fs_realtime_seconds()
        if second != cachedSecond {
            var text = [CChar](repeating: 0, count: 32)
            let length = text.withUnsafeMutableBufferPointer { fs_format_http_date(second, $0.baseAddress, 32) }
            cachedDateLine = Array("Date: ".utf8)
            if length > 0 { cachedDateLine += text.prefix(Int(length)).map { UInt8(bitPattern: $0) } }
            cachedDateLine += [HTTPSyntax.cr, HTTPSyntax.lf]
            cachedSecond = second
        }
        out.append(contentsOf: cachedDateLine)
    }

    /// `HTTP/1.1 100 Continue` + CRLF CRLF.
    package static let continueBytes: [UInt8] = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)
}
