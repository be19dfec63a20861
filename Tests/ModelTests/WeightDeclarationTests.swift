import Testing
@testable import Model
import Tensors

struct WeightDeclarationTests {
    /// The declaration names exactly the tensors the reference writes (the tiny-f32 fixture's
    /// file), with the same shapes.
    @Test func matchesTheReferenceFile() throws {
        let config = try ModelConfig.load(path: Fixtures.model("tiny-f32") + "/config.json")
        let file = try SafetensorsFile(path: Fixtures.model("tiny-f32") + "/model.safetensors")
        let declared = Dictionary(uniqueKeysWithValues: WeightDeclaration(config: config).entries.map { ($0.name, $0.shape) })
        let inFile = Dictionary(uniqueKeysWithValues: file.entries.map { ($0.name, $0.shape) })
        #expect(declared == inFile)
    }

    @Test func countsParameters() {
        let config = TinyConfig.make()
        let declaration = WeightDeclaration(config: config)
        #expect(declaration.parameterCount == declaration.entries.reduce(0) { $0 + $1.shape.reduce(1, *) })
        #expect(Set(declaration.entries.map(\.name)).count == declaration.entries.count)
        // 16 image tensors per layer … spot-check a few.
        let names = Set(declaration.entries.map(\.name))
        #expect(names.contains("image_encoder.encoder.layer.1.attention.attention.query.weight"))
        #expect(names.contains("text_encoder.encoder.layer.0.attention.output.LayerNorm.bias"))
        #expect(names.contains("attention.in_proj_weight"))
        #expect(!names.contains("image_encoder.encoder.layer.2.layernorm_before.weight"))
    }

    @Test func seedSizeModelHasTheExpectedSize() {
        let declaration = WeightDeclaration(config: ModelBenchmark.seedConfig)
        // ViT-B/16 (86.4 M without pooler) + BERT-base (108.9 M without pooler) + fusion heads.
        #expect((198_000_000...199_500_000).contains(declaration.parameterCount))
    }
}
