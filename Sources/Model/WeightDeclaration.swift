/// Every tensor a model needs, with its shape, derived from the configuration.
///
/// This is the one place tensor names and shapes are declared: loading checks files against it,
/// the graph fetches its tensors by these names, random weights for the benchmark are generated
/// from it, and `docs/model-format.md` lists the same table.
package struct WeightDeclaration: Sendable {
    /// What a tensor is for; decides how the benchmark initialises random weights.
    package enum Role: Sendable {
        case matrix, bias, normScale, normShift, embedding
    }

    package struct Entry: Sendable, Equatable {
        package let name: String
        package let shape: [Int]
        package let role: Role
    }

    package private(set) var entries: [Entry] = []

    /// The declaration for `config` (which must be valid).
    package init(config: ModelConfig) {
        let image = config.imageEncoder, text = config.textEncoder, fusion = config.fusion
        let di = image.hiddenSize, dt = text.hiddenSize, d = fusion.hiddenSize, p = image.patchSize

        let vit = Names.Image.self
        add(vit.clsToken, [1, 1, di], .embedding)
        add(vit.positionEmbeddings, [1, image.tokenCount, di], .embedding)
        add(vit.patchProjection + ".weight", [di, 3, p, p], .matrix)
        add(vit.patchProjection + ".bias", [di], .bias)
        for i in 0..<image.numLayers {
            let layer = vit.layer(i)
            norm(layer.normBefore, di)
            linear(layer.query, di, di)
            linear(layer.key, di, di)
            linear(layer.value, di, di)
            linear(layer.attentionOutput, di, di)
            norm(layer.normAfter, di)
            linear(layer.intermediate, image.intermediateSize, di)
            linear(layer.output, di, image.intermediateSize)
        }
        norm(vit.finalNorm, di)

        let bert = Names.Text.self
        add(bert.wordEmbeddings, [text.vocabSize, dt], .embedding)
        add(bert.positionEmbeddings, [text.maxPositionEmbeddings, dt], .embedding)
        add(bert.tokenTypeEmbeddings, [TextEncoderConfig.typeVocabSize, dt], .embedding)
        norm(bert.embeddingNorm, dt)
        for i in 0..<text.numLayers {
            let layer = bert.layer(i)
            linear(layer.query, dt, dt)
            linear(layer.key, dt, dt)
            linear(layer.value, dt, dt)
            linear(layer.attentionOutput, dt, dt)
            norm(layer.attentionNorm, dt)
            linear(layer.intermediate, text.intermediateSize, dt)
            linear(layer.output, dt, text.intermediateSize)
            norm(layer.outputNorm, dt)
        }

        let head = Names.Fusion.self
        linear(head.imageProjection, d, di)
        linear(head.textProjection, d, dt)
        add(head.modalityEmbedding, [2, d], .embedding)
        add(head.inProjectionWeight, [3 * d, d], .matrix)
        add(head.inProjectionBias, [3 * d], .bias)
        linear(head.outProjection, d, d)
        linear(head.gateHidden, fusion.gateHidden, 2 * d)
        linear(head.gateOutput, 2, fusion.gateHidden)
        linear(head.classifier, config.labels.count, d)
    }

    /// Total number of parameters.
    package var parameterCount: Int {
        entries.reduce(0) { $0 + $1.shape.reduce(1, *) }
    }

    private mutating func add(_ name: String, _ shape: [Int], _ role: Role) {
        entries.append(Entry(name: name, shape: shape, role: role))
    }

    private mutating func linear(_ name: String, _ outFeatures: Int, _ inFeatures: Int) {
        add(name + ".weight", [outFeatures, inFeatures], .matrix)
        add(name + ".bias", [outFeatures], .bias)
    }

    private mutating func norm(_ name: String, _ width: Int) {
        add(name + ".weight", [width], .normScale)
        add(name + ".bias", [width], .normShift)
    }
}

/// Tensor names (classic Hugging Face checkpoint names, fully prefixed), shared by the
/// declaration and the graph so the two cannot drift apart.
enum Names {
    enum Image {
        static let root = "image_encoder."
        static let clsToken = root + "embeddings.cls_token"
        static let positionEmbeddings = root + "embeddings.position_embeddings"
        static let patchProjection = root + "embeddings.patch_embeddings.projection"
        static let finalNorm = root + "layernorm"

        struct Layer {
            let normBefore, query, key, value, attentionOutput, normAfter, intermediate, output: String
        }

        static func layer(_ i: Int) -> Layer {
            let l = root + "encoder.layer.\(i)."
            return Layer(normBefore: l + "layernorm_before",
                         query: l + "attention.attention.query", key: l + "attention.attention.key",
                         value: l + "attention.attention.value", attentionOutput: l + "attention.output.dense",
                         normAfter: l + "layernorm_after", intermediate: l + "intermediate.dense",
                         output: l + "output.dense")
        }
    }

    enum Text {
        static let root = "text_encoder."
        static let wordEmbeddings = root + "embeddings.word_embeddings.weight"
        static let positionEmbeddings = root + "embeddings.position_embeddings.weight"
        static let tokenTypeEmbeddings = root + "embeddings.token_type_embeddings.weight"
        static let embeddingNorm = root + "embeddings.LayerNorm"

        struct Layer {
            let query, key, value, attentionOutput, attentionNorm, intermediate, output, outputNorm: String
        }

        static func layer(_ i: Int) -> Layer {
            let l = root + "encoder.layer.\(i)."
            return Layer(query: l + "attention.self.query", key: l + "attention.self.key",
                         value: l + "attention.self.value", attentionOutput: l + "attention.output.dense",
                         attentionNorm: l + "attention.output.LayerNorm", intermediate: l + "intermediate.dense",
                         output: l + "output.dense", outputNorm: l + "output.LayerNorm")
        }
    }

    enum Fusion {
        static let imageProjection = "image_proj"
        static let textProjection = "text_proj"
        static let modalityEmbedding = "modality_embedding"
        static let inProjectionWeight = "attention.in_proj_weight"
        static let inProjectionBias = "attention.in_proj_bias"
        static let outProjection = "attention.out_proj"
        static let gateHidden = "gate.0"
        static let gateOutput = "gate.2"
        static let classifier = "head"
    }
}
