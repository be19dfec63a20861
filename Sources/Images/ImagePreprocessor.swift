/// The training pipeline's image transform, end to end:
/// `Image.open(f).convert("RGB")` → `Resize((S, S))` → `ToTensor()` → `Normalize(mean, std)`.
public struct ImagePreprocessor: Sendable {
    /// Output side length S.
    public let size: Int
    /// Per-channel mean (R, G, B).
    public let mean: [Float]
    /// Per-channel standard deviation (R, G, B).
    public let std: [Float]
    /// Decompression-bomb guard passed to the decoder.
    public let maxPixels: Int

    private let normalizer: TensorNormalizer?
    private let configurationError: ImageError?

    /// Largest accepted output side; keeps `3 * S * S` floats far from overflow.
    public static let maxSize = 8192

    /// Invalid settings (S outside 1...8192, not three means/stds, a zero or
    /// non-finite std, maxPixels < 1) are reported by every `tensor` call as
    /// `ImageError.invalidArgument`, so construction itself never fails.
    public init(size: Int, mean: [Float], std: [Float], maxPixels: Int = ImageDecoder.defaultMaxPixels) {
        self.size = size
        self.mean = mean
        self.std = std
        self.maxPixels = maxPixels
        let problem = Self.validate(size: size, mean: mean, std: std, maxPixels: maxPixels)
        configurationError = problem.map { ImageError.invalidArgument($0) }
        normalizer = problem == nil ? TensorNormalizer(mean: mean, std: std) : nil
    }

    /// Throws the `invalidArgument` error every call would throw, so a server can
    /// refuse a bad model configuration at startup instead of on each request.
    public func validate() throws {
        _ = try checkedNormalizer()
    }

    /// Decodes, resizes and normalises an uploaded JPEG or PNG into a float32 tensor
    /// `[3, S, S]` in C order.
    public func tensor(from bytes: [UInt8]) throws -> [Float] {
        let normalizer = try checkedNormalizer()
        return normalizer.planarTensor(try resized(from: bytes))
    }

    /// Resizes an already decoded image to S×S (unless it is that size) and normalises it.
    public func tensor(from image: RGBImage) throws -> [Float] {
        let normalizer = try checkedNormalizer()
        let square = image.width == size && image.height == size
            ? image : ImageResizer.resizeBilinear(image, width: size, height: size)
        return normalizer.planarTensor(square)
    }

    /// The decoded image resized to S×S (what `--resized` writes). JPEG rows go
    /// straight from the decoder into the resampler, so the full-size image is never
    /// held in memory; the pixels are the same as decoding first.
    public func resized(from bytes: [UInt8]) throws -> RGBImage {
        _ = try checkedNormalizer()
        let header = try ImageDecoder.checkedHeader(of: bytes, maxPixels: maxPixels)
        guard header.format == .jpeg else {
            let image = try ImageDecoder.decode(bytes, maxPixels: maxPixels)
            return ImageResizer.resizeBilinear(image, width: size, height: size)
        }
        if header.width == size && header.height == size {
            return try ImageDecoder.decode(bytes, maxPixels: maxPixels)
        }
        let resampler = BilinearResampler(inWidth: header.width, inHeight: header.height,
                                          outWidth: size, outHeight: size)
        try JPEGRowDecoder.decodeRows(bytes, header: header, maxPixels: maxPixels) { row, _ in
            resampler.consume(row: row)
        }
        return RGBImage(validatedWidth: size, height: size, pixels: resampler.finish())
    }

    private func checkedNormalizer() throws -> TensorNormalizer {
        if let configurationError { throw configurationError }
        guard let normalizer else { throw ImageError.invalidArgument("preprocessor not configured") }
        return normalizer
    }

    private static func validate(size: Int, mean: [Float], std: [Float], maxPixels: Int) -> String? {
        if size < 1 || size > maxSize { return "image size must be in 1...\(maxSize), got \(size)" }
        if mean.count != 3 || std.count != 3 {
            return "mean and std need 3 values each, got \(mean.count) and \(std.count)"
        }
        if !mean.allSatisfy({ $0.isFinite }) { return "mean has a non-finite value: \(mean)" }
        if !std.allSatisfy({ $0.isFinite && $0 != 0 }) { return "std must be finite and non-zero: \(std)" }
        if maxPixels < 1 { return "maxPixels must be at least 1, got \(maxPixels)" }
        return nil
    }
}
