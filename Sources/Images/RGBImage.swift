/// An 8-bit RGB image, row-major, three bytes per pixel, no padding.
///
/// The invariant `pixels.count == width * height * 3` with `width, height >= 1` holds
/// for every value: the public initializer checks it and the decoder builds it.
public struct RGBImage: Sendable, Equatable {
    /// Width in pixels (at least 1).
    public let width: Int
    /// Height in pixels (at least 1).
    public let height: Int
    /// `width * height * 3` bytes: R, G, B for each pixel, rows top to bottom.
    public let pixels: [UInt8]

    /// Wraps existing pixels; throws `ImageError.invalidArgument` when the buffer does
    /// not match the dimensions or a dimension is not positive.
    public init(width: Int, height: Int, pixels: [UInt8]) throws {
        guard width >= 1, height >= 1 else {
            throw ImageError.invalidDimensions(width: width, height: height)
        }
        let (area, overflow1) = width.multipliedReportingOverflow(by: height)
        let (bytes, overflow2) = area.multipliedReportingOverflow(by: 3)
        guard !overflow1, !overflow2, bytes == pixels.count else {
            throw ImageError.invalidArgument(
                "\(pixels.count) bytes do not hold a \(width)x\(height) RGB image")
        }
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// For callers that built `pixels` with exactly `width * height * 3` bytes.
    init(validatedWidth width: Int, height: Int, pixels: [UInt8]) {
        assert(width >= 1 && height >= 1 && pixels.count == width * height * 3)
        self.width = width
        self.height = height
        self.pixels = pixels
    }
}
