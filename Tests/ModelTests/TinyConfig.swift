@testable import Model

/// A small valid configuration for tests that build models in memory.
enum TinyConfig {
    static func make(labels: [String] = ["a", "b", "c"]) -> ModelConfig {
        ModelConfig(
            name: "tiny", labels: labels,
            imageEncoder: ImageEncoderConfig(imageSize: 16, patchSize: 8, hiddenSize: 16, numLayers: 2,
                                             numHeads: 2, intermediateSize: 32),
            textEncoder: TextEncoderConfig(vocabSize: 50, hiddenSize: 24, numLayers: 2, numHeads: 3,
                                           intermediateSize: 40, maxPositionEmbeddings: 20),
            fusion: FusionConfig(hiddenSize: 16, numHeads: 4, gateHidden: 8),
            preprocess: PreprocessConfig(maxTextLength: 16))
    }
}
