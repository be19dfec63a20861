import Testing
@testable import Kernels
@testable import Model

struct ModelBenchmarkTests {
    /// The reference's FLOP formula equals the `sgemm` products actually executed, plus the
    /// out_proj rows saved by pooling first (B·L rows → 2·B rows), plus the attention products
    /// (Q Kᵀ and P V, 4·n²·width per layer and sequence) that the fused attention kernel computes
    /// without `sgemm`.
    @Test func flopFormulaMatchesExecutedProducts() throws {
        let config = TinyConfig.make()
        let model = try FusionModel(config: config, tensors: RandomWeights.make(config: config))
        let batch = 3, length = 7
        let log = GEMMLog()
        _ = try model.forward(ModelBenchmark.inputs(config: config, batch: batch, textLength: length, seed: 1), log: log)
        let d = Double(config.fusion.hiddenSize)
        let fusedRows = Double(batch * (config.imageEncoder.tokenCount + length))
        let saved = 2 * (fusedRows - 2 * Double(batch)) * d * d
        let image = config.imageEncoder, text = config.textEncoder
        func attention(_ n: Int, _ width: Int) -> Double { 4 * Double(n * n * width) }
        let fused = Double(batch) * (Double(image.numLayers) * attention(image.tokenCount, image.hiddenSize)
            + Double(text.numLayers) * attention(length, text.hiddenSize)
            + attention(image.tokenCount + length, config.fusion.hiddenSize))
        let expected = ModelBenchmark.modelFlops(config, batch: batch, textLength: length)
        #expect(abs(log.totalFlops + saved + fused - expected) < 1)
        #expect(log.seconds > 0)
    }

    @Test func seedSizeFlopsMatchTheReferenceFigure() {
        // bench_torch.py prints 42.11 GFLOP/batch at B = 1 and 336.90 at B = 8 (T = 32).
        #expect(abs(ModelBenchmark.modelFlops(ModelBenchmark.seedConfig, batch: 1, textLength: 32) / 1e9 - 42.11) < 0.01)
        #expect(abs(ModelBenchmark.modelFlops(ModelBenchmark.seedConfig, batch: 8, textLength: 32) / 1e9 - 336.90) < 0.01)
    }

    @Test func inputsHaveTheRequestedShape() {
        let config = TinyConfig.make()
        let inputs = ModelBenchmark.inputs(config: config, batch: 2, textLength: 5, seed: 3)
        #expect(inputs.count == 2)
        #expect(inputs.allSatisfy { $0.inputIds.count == 5 && $0.pixels.count == 3 * 16 * 16 })
    }
}
