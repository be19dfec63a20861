/// What an upload looks like, from its first bytes.
///
/// Only `.jpeg` and `.png` are decoded; the other cases exist so a refusal can name
/// what the client actually sent.
public enum ImageFormat: String, Sendable, Equatable {
    case jpeg = "JPEG"
    case png = "PNG"
    case gif = "GIF"
    case webp = "WebP"
    case bmp = "BMP"
    case tiff = "TIFF"
    case heif = "HEIF/AVIF"
    case jpeg2000 = "JPEG 2000"
    case ico = "ICO"
    case unknown = "unknown"

    private static let pngSignature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    /// Identifies the container from its magic bytes. JPEG needs `FF D8 FF` (as Pillow's
    /// `_accept`); a prefix of the PNG signature counts as PNG so that a cut-off file is
    /// reported as truncated rather than unknown.
    public static func sniff(_ bytes: [UInt8]) -> ImageFormat {
        func starts(with prefix: [UInt8], at offset: Int = 0) -> Bool {
            guard bytes.count >= offset + prefix.count else { return false }
            for (index, byte) in prefix.enumerated() where bytes[offset + index] != byte {
                return false
            }
            return true
        }
        if starts(with: [0xFF, 0xD8, 0xFF]) { return .jpeg }
        if bytes.count >= 2, bytes.count < pngSignature.count,
           Array(pngSignature.prefix(bytes.count)) == bytes { return .png }
        if starts(with: pngSignature) { return .png }
        if starts(with: Array("GIF87a".utf8)) || starts(with: Array("GIF89a".utf8)) { return .gif }
        if starts(with: Array("RIFF".utf8)) && starts(with: Array("WEBP".utf8), at: 8) { return .webp }
        if starts(with: Array("BM".utf8)) { return .bmp }
        if starts(with: [0x49, 0x49, 0x2A, 0x00]) || starts(with: [0x4D, 0x4D, 0x00, 0x2A]) { return .tiff }
        if starts(with: Array("ftyp".utf8), at: 4) { return .heif }
        if starts(with: [0x00, 0x00, 0x00, 0x0C, 0x6A, 0x50, 0x20, 0x20])
            || starts(with: [0xFF, 0x4F, 0xFF, 0x51]) { return .jpeg2000 }
        if starts(with: [0x00, 0x00, 0x01, 0x00]) { return .ico }
        return .unknown
    }
}
