import CSystemShims

/// Makes request ids unique across restarts and processes: a random 48-bit prefix per
/// generator plus a counter (`"3f9a1c2b04d1-00000000002a"`). Cheap: no syscalls or string
/// formatting per id.
package struct RequestIDGenerator: Sendable {
    /// 12 hex digits of randomness, a dash, 12 hex digits of counter.
    private var template: [UInt8]
    private var counter: UInt64 = 0
    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    package init() {
        var random: UInt64 = 0
        let got = withUnsafeMutableBytes(of: &random) { fs_getrandom($0.baseAddress, 8) }
        if got != 8 { random = UInt64(bitPattern: fs_monotonic_ns()) &* 0x9E37_79B9_7F4A_7C15 }
        template = [UInt8](repeating: UInt8(ascii: "0"), count: 25)
        template[12] = UInt8(ascii: "-")
        Self.writeHex(random, into: &template, endingAt: 12)
    }

    package mutating func next() -> String {
        counter &+= 1
        Self.writeHex(counter, into: &template, endingAt: 25)
        return String(decoding: template, as: UTF8.self)
    }

    /// Writes the low 48 bits of `value` as 12 hex digits ending before `end`.
    private static func writeHex(_ value: UInt64, into bytes: inout [UInt8], endingAt end: Int) {
        var rest = value
        for index in stride(from: end - 1, through: end - 12, by: -1) {
            bytes[index] = hexDigits[Int(rest & 0xF)]
            rest >>= 4
        }
    }

    /// Whether a client-sent id can be echoed: 1–128 visible ASCII characters (so it is
    /// safe in a header and a log line).
    package static func isAcceptable(_ id: String) -> Bool {
        let utf8 = id.utf8
        return !utf8.isEmpty && utf8.count <= 128 && utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F }
    }
}
