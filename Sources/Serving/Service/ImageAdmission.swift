import Images

/// Where a request's image is decoded, decided from the pixel count its header declares,
/// before a single pixel is decoded (issue 13 item 5: one client's huge images starved every
/// other client of the preprocessing threads).
public struct ImageAdmission: Sendable, Equatable {
    /// The default guard: 16 MiP (4096 × 4096). A 12 MP phone photo (4032 × 3024) and a 4K
    /// frame (8.3 MP) pass; the model sees 224 × 224 (50 k pixels) of whatever is sent, so more
    /// buys nothing but decode time and memory (~48 MB of RGB at the guard, 150 MB at the old
    /// 50 MP). Raise it with `--max-image-pixels` if clients really send larger scans.
    public static let defaultMaxPixels = 16_777_216
    /// The default threshold of the large-image lane: 4 MiP (2048 × 2048). Full HD (2.1 MP) and
    /// everything smaller decodes in at most ~60 ms and stays on the shared threads; larger
    /// images cost 0.1–0.5 s of CPU each and wait their turn in the one-thread lane.
    public static let defaultLargePixels = 4_194_304

    /// What to do with an image.
    public enum Route: Equatable, Sendable {
        /// Decode it on the shared preprocessing threads.
        case shared
        /// Decode it in the one-thread, low-priority lane for large images.
        case largeLane
        /// Refuse it (422 `image_too_large`): more pixels than `maxPixels`.
        case tooLarge(width: Int, height: Int)
    }

    /// Images with more pixels are refused.
    public let maxPixels: Int
    /// Images with more pixels (up to `maxPixels`) go to the large-image lane.
    public let largePixels: Int

    /// Creates the policy (the caller validates the numbers, both ≥ 1).
    public init(maxPixels: Int = defaultMaxPixels, largePixels: Int = defaultLargePixels) {
        self.maxPixels = maxPixels
        self.largePixels = largePixels
    }

    /// The route for an encoded image. Bytes whose header cannot be read go to the shared
    /// threads, where the decoder refuses them with its typed error at no cost.
    public func route(for image: [UInt8]) -> Route {
        guard let header = try? ImageDecoder.header(of: image) else { return .shared }
        return route(width: header.width, height: header.height)
    }

    /// The route for an image of declared size `width` × `height`.
    public func route(width: Int, height: Int) -> Route {
        let (pixels, overflow) = width.multipliedReportingOverflow(by: height)
        if overflow || pixels > maxPixels { return .tooLarge(width: width, height: height) }
        return pixels > largePixels ? .largeLane : .shared
    }
}
