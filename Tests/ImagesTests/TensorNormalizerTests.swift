import Testing
@testable import Images

@Suite struct TensorNormalizerTests {
    @Test func planarLayoutAndTorchvisionOperationOrder() throws {
        let mean: [Float] = [0.485, 0.456, 0.406]
        let std: [Float] = [0.229, 0.224, 0.225]
        let image = try RGBImage(width: 2, height: 1, pixels: [0, 128, 255, 7, 8, 9])
        let tensor = TensorNormalizer(mean: mean, std: std).planarTensor(image)
        func expected(_ v: UInt8, _ c: Int) -> Float { (Float(v) / 255 - mean[c]) / std[c] }
        #expect(tensor == [expected(0, 0), expected(7, 0), expected(128, 1), expected(8, 1),
                           expected(255, 2), expected(9, 2)])
    }
}
