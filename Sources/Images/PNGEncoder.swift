import CImageCodecs

/// Encodes RGB8 images as PNG (8-bit RGB, not interlaced) through libpng. Used to
/// write debugging output such as `preprocess --resized OUT.png`.
public enum PNGEncoder {
    /// The PNG file contents for `image`.
    public static func encode(_ image: RGBImage) throws -> [UInt8] {
        guard let width = UInt32(exactly: image.width), let height = UInt32(exactly: image.height) else {
            throw ImageError.invalidDimensions(width: image.width, height: image.height)
        }
        var info = cic_info()
        var output: UnsafeMutablePointer<UInt8>?
        var size = 0
        let status = image.pixels.withUnsafeBufferPointer {
            cic_png_encode_rgb8($0.baseAddress, width, height, &output, &size, &info)
        }
        defer { cic_free(output) }
        guard status == Int32(CIC_OK.rawValue), let output else {
            throw ImageDecoder.error(status: status, info: info, format: .png)
        }
        return Array(UnsafeBufferPointer(start: output, count: size))
    }
}
