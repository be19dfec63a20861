import CSystemShims

/// Makes request ids unique across restarts and processes: a random 48-bit prefix per
/// generator plus a counter (`"3f9a1c2b04d1-00000000002a"`). Cheap: no syscalls per id.
package struct RequestIDGenerator: Sendable {
    private let prefix: String
    private var counter: UInt64 = 0

    package init() {
        var random: UInt64 = 0
        let got = withUnsafeMutableBytes(of: &random) { fs_getrandom($0.baseAddress, 8) }
        if got != 8 { random = UInt64(bitPattern: fs_monotonic_ns()) &* 0x9E37_79B9_7F4A_7C15 }
        let hex = String(random & 0xFFFF_FFFF_FFFF, radix: 16)
        prefix = String(repeating: "0", count: 12 - hex.count) + hex + "-"
    }

    package mutating func next() -> String {
        counter &+= 1
        let hex = String(counter, radix: 16)
        return prefix + String(repeating: "0", count: max(0, 12 - hex.count)) + hex
    }

    /// Whether a client-sent id can be echoed: 1–128 visible ASCII characters (so it is
    /// safe in a header and a log line).
    package static func isAcceptable(_ id: String) -> Bool {
        let utf8 = id.utf8
        return !utf8.isEmpty && utf8.count <= 128 && utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F }
    }
}
