/// Why a base64 field was refused.
public struct Base64Error: Error, Equatable, CustomStringConvertible {
    public let reason: String
    public var description: String { reason }
}

/// Strict standard base64 (RFC 4648 §4) decoding for image fields. Padding is optional,
/// whitespace (line breaks from `base64` tools) is skipped, and a `data:…;base64,` prefix is
/// accepted so browser data URLs can be pasted as they are.
public enum Base64 {
    private static let table: [UInt8] = {
        var t = [UInt8](repeating: 0xFF, count: 256)
        for (i, c) in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8.enumerated() {
            t[Int(c)] = UInt8(i)
        }
        return t
    }()

    /// Decodes `text`, or throws saying what is wrong.
    public static func decode(_ text: String) throws(Base64Error) -> [UInt8] {
        var utf8 = Array(text.utf8)
        if utf8.starts(with: Array("data:".utf8)), let comma = utf8.firstIndex(of: UInt8(ascii: ",")) {
            let header = String(decoding: utf8[..<comma], as: UTF8.self)
            guard header.hasSuffix(";base64") else { throw Base64Error(reason: "data URL is not base64-encoded") }
            utf8.removeSubrange(...comma)
        }
        // The table is read once here, not per character (a static `let` costs a `swift_once`
        // check on every access), and bytes go straight into the result's storage: this runs
        // over every image sent as JSON (70 KB of text for a 640×480 JPEG).
        let table = Self.table
        var failure: Base64Error?
        let out = [UInt8](unsafeUninitializedCapacity: utf8.count / 4 * 3 + 3) { buffer, count in
            count = 0
            failure = utf8.withUnsafeBufferPointer { input in
                table.withUnsafeBufferPointer { table in
                    Self.decode(input, table: table, into: buffer, count: &count)
                }
            }
        }
        if let failure { throw failure }
        return out
    }

    /// The decoding loop over raw buffers; `output` holds at least `input.count / 4 · 3 + 3`
    /// bytes. Returns the first problem, if any (then `count` is meaningless).
    private static func decode(_ input: UnsafeBufferPointer<UInt8>, table: UnsafeBufferPointer<UInt8>,
                               into output: UnsafeMutableBufferPointer<UInt8>, count: inout Int) -> Base64Error? {
        var quad: UInt32 = 0
        var filled = 0
        var padding = 0
        var written = 0
        for position in input.indices {
            let c = input[position]
            if c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 { continue }
            if c == UInt8(ascii: "=") { padding += 1; continue }
            let value = table[Int(c)]
            guard value != 0xFF else {
                return Base64Error(reason: "invalid base64 character at position \(position)")
            }
            guard padding == 0 else { return Base64Error(reason: "base64 data after '=' padding") }
            quad = quad << 6 | UInt32(value)
            filled += 1
            if filled == 4 {
                output[written] = UInt8(quad >> 16 & 0xFF)
                output[written + 1] = UInt8(quad >> 8 & 0xFF)
                output[written + 2] = UInt8(quad & 0xFF)
                written += 3
                quad = 0
                filled = 0
            }
        }
        switch filled {
        case 0:
            guard padding == 0 else { return Base64Error(reason: "unexpected base64 padding") }
        case 2:
            guard padding == 0 || padding == 2 else { return Base64Error(reason: "wrong base64 padding") }
            output[written] = UInt8(quad >> 4 & 0xFF)
            written += 1
        case 3:
            guard padding == 0 || padding == 1 else { return Base64Error(reason: "wrong base64 padding") }
            output[written] = UInt8(quad >> 10 & 0xFF)
            output[written + 1] = UInt8(quad >> 2 & 0xFF)
            written += 2
        default:
            return Base64Error(reason: "base64 length is not valid (one character too many)")
        }
        count = written
        return nil
    }
}
