/// Resizes RGB images exactly as Pillow's `Image.resize((w, h), Image.BILINEAR)`,
/// which is what torchvision's `transforms.Resize((h, w))` calls on a PIL image.
public enum ImageResizer {
    /// Bilinear resize with Pillow's antialiasing (the filter widens with the
    /// downscale factor) and its fixed-point rounding: the result is byte-identical to
    /// Pillow's. Sizes below 1 are treated as 1. Same size returns an equal copy.
    public static func resizeBilinear(_ image: RGBImage, width: Int, height: Int) -> RGBImage {
        let outWidth = max(1, width)
        let outHeight = max(1, height)
        if outWidth == image.width && outHeight == image.height { return image }
        let resampler = BilinearResampler(inWidth: image.width, inHeight: image.height,
                                          outWidth: outWidth, outHeight: outHeight)
        let rowBytes = image.width * 3
        image.pixels.withUnsafeBufferPointer { pixels in
            for row in 0..<image.height {
                resampler.consume(row: pixels.baseAddress! + row * rowBytes)
            }
        }
        return RGBImage(validatedWidth: outWidth, height: outHeight, pixels: resampler.finish())
    }
}
