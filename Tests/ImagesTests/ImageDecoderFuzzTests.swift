import Testing
@testable import Images

/// About ten thousand mutated JPEG and PNG files (800 per seed file) (bit flips, truncations, insertions,
/// deletions, overwritten runs, duplicated runs) must each give an image or a typed
/// `ImageError`: never a crash, hang or untyped error.
@Suite struct ImageDecoderFuzzTests {
    static let seeds = [
        "good/jpeg_rgb_optimized_17x9.jpg", "good/jpeg_restart_blocks_97x61.jpg",
        "good/jpeg_gray_progressive_123x77.jpg", "good/jpeg_arithmetic_90x66.jpg",
        "good/jpeg_cmyk_no_adobe_70x50.jpg", "good/jpeg_rgb_440_141x99.jpg",
        "good/png_palette1_interlaced_31x17.png", "good/png_gray_alpha8_interlaced_9x7.png",
        "good/png_gray2_77x55.png", "good/png_palette8_short_plte_24x16.png",
        "good/png_gray16_trns_30x20.png", "good/png_rgb_gamma_text_20x14.png",
    ]

    static func mutate(_ input: [UInt8], _ rng: inout SeededGenerator) -> [UInt8] {
        var bytes = input
        let rounds = Int.random(in: 1...4, using: &rng)
        for _ in 0..<rounds where !bytes.isEmpty {
            let at = Int.random(in: 0..<bytes.count, using: &rng)
            switch Int.random(in: 0..<7, using: &rng) {
            case 0, 1:
                bytes[at] ^= UInt8(1) << UInt8.random(in: 0..<8, using: &rng)
            case 2:
                bytes.removeSubrange(at...)
            case 3:
                let count = Int.random(in: 1...16, using: &rng)
                bytes.insert(contentsOf: (0..<count).map { _ in UInt8.random(in: 0...255, using: &rng) }, at: at)
            case 4:
                bytes.removeSubrange(at..<min(bytes.count, at + Int.random(in: 1...32, using: &rng)))
            case 5:
                for i in at..<min(bytes.count, at + Int.random(in: 1...8, using: &rng)) {
                    bytes[i] = [0x00, 0xFF, 0x7F, 0x80][Int.random(in: 0..<4, using: &rng)]
                }
            default:
                let end = min(bytes.count, at + Int.random(in: 1...64, using: &rng))
                bytes.insert(contentsOf: bytes[at..<end], at: end)
            }
        }
        return bytes
    }

    @Test(arguments: seeds)
    func mutationsGiveImageOrTypedError(_ seedFile: String) throws {
        let original = try Fixtures.corpusBytes(seedFile)
        var rng = SeededGenerator(seed: UInt64(truncatingIfNeeded: CRC32.checksum(Array(seedFile.utf8))))
        var decoded = 0
        var refused: [String: Int] = [:]
        let iterations = 800
        for _ in 0..<iterations {
            let mutated = Self.mutate(original, &rng)
            do {
                let image = try ImageDecoder.decode(mutated, maxPixels: 4_000_000)
                #expect(image.pixels.count == image.width * image.height * 3)
                decoded += 1
            } catch let error as ImageError {
                refused[error.kind, default: 0] += 1
            }
        }
        #expect(decoded + refused.values.reduce(0, +) == iterations)
        #expect(refused.values.reduce(0, +) > 0, "no mutation of \(seedFile) was refused")
    }
}
