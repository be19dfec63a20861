import Testing
@testable import Images

@Suite struct ImageBenchmarkTests {
    @Test func reportsEveryStage() throws {
        let bytes = try Fixtures.corpusBytes("good/jpeg_rgb_420_225x223.jpg")
        let preprocessor = ImagePreprocessor(size: 32, mean: [0, 0, 0], std: [1, 1, 1])
        let result = try ImageBenchmark.run(bytes: bytes, preprocessor: preprocessor, iterations: 3)
        #expect(result.width == 225 && result.height == 223 && result.iterations == 3)
        for timing in [result.decode, result.resize, result.total] {
            #expect(timing.minimum >= 0 && timing.minimum <= timing.median)
        }
    }
}
