import Images
import Model
import Testing
@testable import Serving

@Suite struct FusionModelExecutorTests {
    /// The server sends the resized image as bytes and the worker normalises it: the logits
    /// must be exactly those of the float tensor the server used to send.
    @Test func resizedBytesGiveTheSameAnswerAsTheNormalisedTensor() throws {
        let config = try ModelConfig.load(path: Fixtures.tinyModel + "/config.json")
        let images = ImagePreprocessor(size: config.imageEncoder.imageSize, mean: config.preprocess.mean,
                                       std: config.preprocess.std)
        let executor = try FusionModelExecutor(directory: Fixtures.tinyModel)
        let jpeg = Fixtures.image("good/jpeg_rgb_444_300x200.jpg")
        #expect(!jpeg.isEmpty)
        let resized = try images.resized(from: jpeg)
        let tokens: [Int32] = [2, 17, 42, 99, 3]
        // One batch each: rows of one batch may round differently in the GEMM edge kernels.
        let fromBytes = try executor.run([InferencePayload(image: .resizedRGB(resized.pixels), tokenIds: tokens,
                                                           returnEmbedding: true)])
        let fromTensor = try executor.run([InferencePayload(pixels: try images.tensor(from: jpeg), tokenIds: tokens,
                                                            returnEmbedding: true)])
        let results = fromBytes + fromTensor
        #expect(results.count == 2)
        #expect(results[0] == results[1], "\(results[0].logits) vs \(results[1].logits)")
        // And the image matters: another picture answers differently.
        let other = try images.resized(from: Fixtures.image("good/jpeg_progressive_320x240.jpg"))
        let third = try executor.run([InferencePayload(image: .resizedRGB(other.pixels), tokenIds: tokens, returnEmbedding: true)])
        #expect(third[0].embedding != results[0].embedding)
    }

    @Test func aResizedImageOfTheWrongSizeFailsTheBatch() throws {
        let executor = try FusionModelExecutor(directory: Fixtures.tinyModel)
        #expect(throws: ImageError.self) {
            try executor.run([InferencePayload(image: .resizedRGB([1, 2, 3]), tokenIds: [101, 102], returnEmbedding: false)])
        }
    }
}
