@testable import Serving

extension PixelInput {
    /// The tensor's values, or the bytes as floats, for fakes that echo what they got.
    var floats: [Float] {
        switch self {
        case .tensor(let values): return values
        case .resizedRGB(let bytes): return bytes.map(Float.init)
        }
    }
}
