/// Byte classes from RFC 9110/9112 used by the parsers.
package enum HTTPSyntax {
    package static let cr: UInt8 = 0x0D
    package static let lf: UInt8 = 0x0A
    package static let space: UInt8 = 0x20
    package static let tab: UInt8 = 0x09
    package static let colon: UInt8 = 0x3A
    package static let semicolon: UInt8 = 0x3B
    package static let comma: UInt8 = 0x2C

    /// `tchar`: the characters of a token (method, header name).
    @inline(__always)
    package static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
             UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."),
             UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }

    /// A byte allowed inside a field value: HTAB, SP, VCHAR, obs-text. Rejects NUL, CR, LF,
    /// other controls and DEL.
    @inline(__always)
    package static func isFieldValueByte(_ byte: UInt8) -> Bool {
        byte == tab || (byte >= 0x20 && byte != 0x7F)
    }

    /// A byte allowed in a request target: visible ASCII (no spaces, controls or non-ASCII).
    @inline(__always)
    package static func isTargetByte(_ byte: UInt8) -> Bool {
        byte > 0x20 && byte < 0x7F
    }

    @inline(__always)
    package static func isWhitespace(_ byte: UInt8) -> Bool { byte == space || byte == tab }

    @inline(__always)
    package static func lowercased(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
    }

    /// ASCII case-insensitive equality without allocating.
    package static func equalsIgnoringCase(_ a: String, _ b: String) -> Bool {
        var a = a, b = b
        return a.withUTF8 { x in
            b.withUTF8 { y in
                guard x.count == y.count else { return false }
                for index in 0..<x.count where lowercased(x[index]) != lowercased(y[index]) { return false }
                return true
            }
        }
    }

    /// Whether `bytes` equals the lowercase ASCII `name`, ignoring case.
    @inline(__always)
    package static func bytes(_ bytes: UnsafeBufferPointer<UInt8>, equalLowercase name: StaticString) -> Bool {
        guard bytes.count == name.utf8CodeUnitCount else { return false }
        let expected = name.utf8Start
        for index in 0..<bytes.count where lowercased(bytes[index]) != expected[index] { return false }
        return true
    }

    /// Splits a comma-separated field value into trimmed, lowercased, non-empty elements.
    package static func listElements(_ value: String) -> [String] {
        value.split(separator: ",").compactMap { element in
            let trimmed = element.utf8.drop { isWhitespace($0) }.reversed().drop { isWhitespace($0) }.reversed()
            guard !trimmed.isEmpty else { return nil }
            return String(decoding: trimmed.map(lowercased), as: UTF8.self)
        }
    }
}
