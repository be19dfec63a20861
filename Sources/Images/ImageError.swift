/// Why an image could not be decoded or preprocessed.
///
/// Every case carries enough context for a one-line message: the service turns these
/// into 4xx responses and the command line into a message on stderr.
public enum ImageError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The upload had zero bytes.
    case empty
    /// The bytes are not JPEG or PNG; the associated value names what they look like
    /// ("GIF", "WebP", ..., or "unknown").
    case unsupportedFormat(String)
    /// The data ended before the image did (Pillow: "image file is truncated").
    case truncated(String)
    /// The decoder rejected the data; the message says where and why.
    case corrupt(String)
    /// The header declares more pixels than the configured limit (decompression-bomb
    /// guard); nothing was allocated for the pixels.
    case tooLarge(width: Int, height: Int, limit: Int)
    /// The header declares a zero or absurd width or height.
    case invalidDimensions(width: Int, height: Int)
    /// A decoder allocation failed or its working-memory limit was reached.
    case outOfMemory(String)
    /// The caller asked for something impossible (bad preprocessing settings, a pixel
    /// buffer whose size does not match its dimensions).
    case invalidArgument(String)

    /// A one-line, human-readable message.
    public var description: String {
        switch self {
        case .empty:
            return "image is empty (0 bytes)"
        case .unsupportedFormat(let name):
            return "unsupported image format: \(name) (only JPEG and PNG are accepted)"
        case .truncated(let message):
            return "truncated image: \(message)"
        case .corrupt(let message):
            return "corrupt image: \(message)"
        case .tooLarge(let width, let height, let limit):
            return "image too large: \(width)x\(height) = \(width * height) pixels exceeds the limit of \(limit) pixels"
        case .invalidDimensions(let width, let height):
            return "invalid image dimensions \(width)x\(height)"
        case .outOfMemory(let message):
            return "out of memory decoding image: \(message)"
        case .invalidArgument(let message):
            return "invalid argument: \(message)"
        }
    }
}
