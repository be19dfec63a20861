import Testing
@testable import Model

struct RandomWeightsTests {
    @Test func deterministicAndShapedByTheDeclaration() {
        let config = TinyConfig.make()
        let a = RandomWeights.make(config: config, seed: 5)
        let b = RandomWeights.make(config: config, seed: 5)
        let c = RandomWeights.make(config: config, seed: 6)
        for entry in WeightDeclaration(config: config).entries {
            #expect(a[entry.name]?.shape == entry.shape)
            #expect(a[entry.name]?.values == b[entry.name]?.values)
        }
        #expect(a["head.weight"]?.values != c["head.weight"]?.values)
        #expect(a["image_encoder.layernorm.weight"]?.values.allSatisfy { $0 == 1 } == true)
        #expect(a["image_encoder.layernorm.bias"]?.values.allSatisfy { $0 == 0 } == true)
    }

    @Test func uniformValuesStayInRange() {
        var generator = RandomWeights.Generator(seed: 1)
        let values = generator.uniform(count: 10_001, halfWidth: 0.5)
        #expect(values.count == 10_001)
        #expect(values.allSatisfy { $0 >= -0.5 && $0 < 0.5 })
        let mean = values.reduce(0, +) / Float(values.count)
        #expect(abs(mean) < 0.02)
    }
}
