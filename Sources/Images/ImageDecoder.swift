import CImageCodecs

/// Decodes JPEG and PNG uploads to RGB8 exactly as `PIL.Image.open(f).convert("RGB")`.
///
/// Everything else is refused with a typed `ImageError`; the header is read and the
/// pixel limit enforced before any pixel memory is allocated.
public enum ImageDecoder {
    /// Default decompression-bomb guard: 50 megapixels.
    public static let defaultMaxPixels = 50_000_000

    /// Progressive JPEGs with more scans than this are refused: every scan walks the
    /// whole coefficient buffer, so scan count bounds decode time (real encoders write
    /// about ten).
    public static let maxJPEGScans = 1000

    /// What the header says, before any pixel is decoded.
    public struct Header: Sendable, Equatable {
        /// JPEG or PNG (other formats throw `unsupportedFormat`).
        public let format: ImageFormat
        /// Width in pixels.
        public let width: Int
        /// Height in pixels.
        public let height: Int
    }

    /// Reads only the header: format, width and height. Throws for anything that is not
    /// a readable JPEG or PNG header.
    public static func header(of bytes: [UInt8]) throws -> Header {
        guard !bytes.isEmpty else { throw ImageError.empty }
        let format = ImageFormat.sniff(bytes)
        var info = cic_info()
        let status: Int32
        switch format {
        case .jpeg:
            status = bytes.withUnsafeBufferPointer { cic_jpeg_read_header($0.baseAddress, $0.count, &info) }
        case .png:
            status = bytes.withUnsafeBufferPointer { cic_png_read_header($0.baseAddress, $0.count, &info) }
        default:
            throw ImageError.unsupportedFormat(format.rawValue)
        }
        if status != Int32(CIC_OK.rawValue) {
            throw error(status: status, info: info, format: format)
        }
        return Header(format: format, width: Int(info.width), height: Int(info.height))
    }

    /// Decodes `bytes` (JPEG or PNG) to RGB8 with Pillow's `convert("RGB")` semantics.
    /// Images with more than `maxPixels` pixels are refused with `tooLarge` before
    /// anything is allocated for them. EXIF orientation is not applied (Pillow's `open`
    /// does not apply it either).
    public static func decode(_ bytes: [UInt8], maxPixels: Int = defaultMaxPixels) throws -> RGBImage {
        let header = try checkedHeader(of: bytes, maxPixels: maxPixels)
        let count = header.width * header.height * 3
        var info = cic_info()
        var status = Int32(CIC_OK.rawValue)
        let pixels = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            initialized = 0
            status = bytes.withUnsafeBufferPointer { input in
                decodeInto(header.format, input, buffer.baseAddress, count, maxPixels: maxPixels, &info)
            }
            if status == Int32(CIC_OK.rawValue) { initialized = count }
        }
        if status != Int32(CIC_OK.rawValue) {
            throw error(status: status, info: info, format: header.format)
        }
        return RGBImage(validatedWidth: header.width, height: header.height, pixels: pixels)
    }

    /// The header, after the pixel-limit check.
    static func checkedHeader(of bytes: [UInt8], maxPixels: Int) throws -> Header {
        guard maxPixels >= 1 else {
            throw ImageError.invalidArgument("maxPixels must be at least 1, got \(maxPixels)")
        }
        let header = try header(of: bytes)
        guard header.width >= 1, header.height >= 1 else {
            throw ImageError.invalidDimensions(width: header.width, height: header.height)
        }
        let (area, overflow) = header.width.multipliedReportingOverflow(by: header.height)
        if overflow || area > maxPixels {
            throw ImageError.tooLarge(width: header.width, height: header.height, limit: maxPixels)
        }
        return header
    }

    /// libjpeg's working memory: room for a full-resolution progressive coefficient
    /// buffer (2 bytes per sample, up to 4 components) plus tables.
    static func jpegMemoryLimit(maxPixels: Int) -> Int {
        let (scaled, overflow) = maxPixels.multipliedReportingOverflow(by: 10)
        return overflow ? Int.max / 2 : min(Int.max / 2, 64 << 20 + scaled)
    }

    static func decodeInto(_ format: ImageFormat, _ input: UnsafeBufferPointer<UInt8>,
                           _ out: UnsafeMutablePointer<UInt8>?, _ count: Int, maxPixels: Int,
                           _ info: inout cic_info) -> Int32 {
        switch format {
        case .jpeg:
            return cic_jpeg_decode_rgb8(input.baseAddress, input.count, out, count,
                                        jpegMemoryLimit(maxPixels: maxPixels),
                                        Int32(maxJPEGScans), &info)
        case .png:
            return cic_png_decode_rgb8(input.baseAddress, input.count, out, count, &info)
        default:
            info.width = 0
            return Int32(CIC_ERR_UNSUPPORTED.rawValue)
        }
    }

    static func message(of info: cic_info) -> String {
        withUnsafeBytes(of: info.message) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
    }

    static func error(status: Int32, info: cic_info, format: ImageFormat) -> ImageError {
        let text = "\(format.rawValue): \(message(of: info))"
        switch UInt32(bitPattern: status) {
        case CIC_ERR_TRUNCATED.rawValue:
            return .truncated(text)
        case CIC_ERR_UNSUPPORTED.rawValue:
            return .unsupportedFormat(text)
        case CIC_ERR_DIMENSIONS.rawValue:
            return .invalidDimensions(width: Int(info.width), height: Int(info.height))
        case CIC_ERR_OUT_OF_MEMORY.rawValue:
            return .outOfMemory(text)
        case CIC_ERR_ARGUMENT.rawValue:
            return .invalidArgument(text)
        default:
            return .corrupt(text)
        }
    }
}
