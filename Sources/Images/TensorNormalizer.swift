/// torchvision's `ToTensor()` followed by `Normalize(mean, std)` on an RGB8 image:
/// `(Float(v) / 255 - mean[c]) / std[c]` in float32, in that operation order, which
/// is what `img.float().div(255)` and `sub_(mean).div_(std)` compute. With only 256
/// inputs per channel the results are tabulated once, so they are bit-identical to
/// the formula.
struct TensorNormalizer: Sendable {
    private let table: [Float]

    init(mean: [Float], std: [Float]) {
        precondition(mean.count == 3 && std.count == 3)
        var table = [Float](repeating: 0, count: 3 * 256)
        for channel in 0..<3 {
            for value in 0..<256 {
                table[channel * 256 + value] = (Float(value) / 255 - mean[channel]) / std[channel]
            }
        }
        self.table = table
    }

    /// `[3, height, width]` in C order from row-major RGB pixels.
    func planarTensor(_ image: RGBImage) -> [Float] {
        let plane = image.width * image.height
        return [Float](unsafeUninitializedCapacity: 3 * plane) { out, initialized in
            table.withUnsafeBufferPointer { table in
                image.pixels.withUnsafeBufferPointer { pixels in
                    let t = table.baseAddress!
                    let p = pixels.baseAddress!
                    let o = out.baseAddress!
                    for i in 0..<plane {
                        o[i] = t[Int(p[3 * i])]
                        o[plane + i] = t[256 + Int(p[3 * i + 1])]
                        o[2 * plane + i] = t[512 + Int(p[3 * i + 2])]
                    }
                }
            }
            initialized = 3 * plane
        }
    }
}
