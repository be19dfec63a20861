import Foundation

/// A valid PNG over 1 MiB: a fixture image with a private ancillary chunk of padding inserted
/// after IHDR (decoders skip such chunks), so curl switches to `Expect: 100-continue`.
enum LargePNG {
    static func make(from png: [UInt8], padding: Int) -> [UInt8] {
        // Signature (8) + IHDR chunk (4 length + 4 type + 13 data + 4 CRC) = 33 bytes.
        let ihdrEnd = 33
        let type = Array("fsPd".utf8)   // ancillary, private, reserved bit clear, safe to copy
        let data = [UInt8](repeating: 0x2A, count: padding)
        var chunk = withUnsafeBytes(of: UInt32(padding).bigEndian) { Array($0) } + type + data
        let crc = crc32(type + data)
        chunk += withUnsafeBytes(of: crc.bigEndian) { Array($0) }
        return Array(png[0..<ihdrEnd]) + chunk + Array(png[ihdrEnd...])
    }

    private static let table: [UInt32] = (0..<256).map { n -> UInt32 in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for byte in bytes { c = table[Int((c ^ UInt32(byte)) & 0xFF)] ^ (c >> 8) }
        return c ^ 0xFFFF_FFFF
    }
}
