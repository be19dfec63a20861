import Testing
@testable import Images

/// decode + resize + ToTensor + Normalize equals torchvision within 1e-6.
@Suite struct ImagePreprocessorTests {
    struct TensorCase: CustomTestStringConvertible {
        let file: String
        let size: Int
        let golden: String
        var testDescription: String { "\(file) @\(size)" }
    }

    static let tensorCases: [TensorCase] = Fixtures.manifest.good.flatMap { entry in
        entry.tensors.map { TensorCase(file: entry.file, size: Int($0.key) ?? 0, golden: $0.value) }
    }

    @Test func tensorGoldensExist() {
        #expect(Self.tensorCases.count >= 10)
        #expect(Self.tensorCases.contains { $0.size == 224 })
    }

    @Test(arguments: tensorCases)
    func tensorMatchesTorchvision(_ testCase: TensorCase) throws {
        let manifest = Fixtures.manifest
        let expected = try #require(NPY.readFloat32(try Fixtures.goldenBytes(testCase.golden)))
        #expect(expected.shape == [3, testCase.size, testCase.size])
        let preprocessor = ImagePreprocessor(size: testCase.size, mean: manifest.mean, std: manifest.std,
                                             maxPixels: manifest.max_pixels)
        let tensor = try preprocessor.tensor(from: try Fixtures.corpusBytes(testCase.file))
        #expect(tensor.count == expected.values.count)
        var worst: Float = 0
        for (a, b) in zip(tensor, expected.values) { worst = max(worst, abs(a - b)) }
        #expect(worst <= 1e-6, "max |difference| \(worst)")
    }

    @Test func resizedMatchesResizer() throws {
        let bytes = try Fixtures.corpusBytes("good/jpeg_rgb_420_225x223.jpg")
        let preprocessor = ImagePreprocessor(size: 32, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], maxPixels: 1_000_000)
        let resized = try preprocessor.resized(from: bytes)
        #expect(resized == ImageResizer.resizeBilinear(try ImageDecoder.decode(bytes), width: 32, height: 32))
        // With mean = std = 0.5 the tensor is 2 * v / 255 - 1 for the red plane.
        let tensor = try preprocessor.tensor(from: resized)
        #expect(tensor.count == 3 * 32 * 32)
        #expect(tensor[0] == (Float(resized.pixels[0]) / 255 - 0.5) / 0.5)
        #expect(tensor[32 * 32] == (Float(resized.pixels[1]) / 255 - 0.5) / 0.5)
    }

    @Test func invalidSettingsAreTypedErrors() throws {
        let bytes = try Fixtures.corpusBytes("good/png_rgb_1x1.png")
        let bad = [
            ImagePreprocessor(size: 0, mean: [0, 0, 0], std: [1, 1, 1]),
            ImagePreprocessor(size: 224, mean: [0, 0], std: [1, 1, 1]),
            ImagePreprocessor(size: 224, mean: [0, 0, 0], std: [1, 0, 1]),
            ImagePreprocessor(size: 224, mean: [0, .nan, 0], std: [1, 1, 1]),
            ImagePreprocessor(size: 224, mean: [0, 0, 0], std: [1, 1, 1], maxPixels: 0),
        ]
        for preprocessor in bad {
            #expect(throws: ImageError.self) { try preprocessor.validate() }
            #expect(throws: ImageError.self) { try preprocessor.tensor(from: bytes) }
        }
        try ImagePreprocessor(size: 224, mean: [0, 0, 0], std: [1, 1, 1]).validate()
    }

    @Test func decoderErrorsPassThrough() {
        let preprocessor = ImagePreprocessor(size: 224, mean: [0, 0, 0], std: [1, 1, 1], maxPixels: 100)
        #expect(throws: ImageError.empty) { try preprocessor.tensor(from: []) }
    }
}

/// The preprocessor resizes JPEGs while decoding them (never holding the full image);
/// that path must give Pillow's resized pixels too.
@Suite struct ImagePreprocessorStreamingTests {
    @Test(arguments: Fixtures.manifest.good)
    func resizedMatchesPillow(_ entry: Manifest.Good) throws {
        let bytes = try Fixtures.corpusBytes(entry.file)
        for size in Fixtures.manifest.sizes {
            let preprocessor = ImagePreprocessor(size: size, mean: [0, 0, 0], std: [1, 1, 1])
            let golden = try #require(entry.resized[String(size)])
            let resized = try preprocessor.resized(from: bytes)
            #expect(CRC32.checksum(resized.pixels) == golden.crc32, "\(entry.file) at \(size)")
        }
    }

    @Test func truncatedJPEGFailsMidStream() throws {
        let bytes = try Fixtures.corpusBytes("bad/truncated_half.jpg")
        let preprocessor = ImagePreprocessor(size: 224, mean: [0, 0, 0], std: [1, 1, 1])
        do {
            _ = try preprocessor.tensor(from: bytes)
            Issue.record("truncated JPEG produced a tensor")
        } catch let error as ImageError {
            #expect(error.kind == "truncated", "\(error)")
        }
    }
}
