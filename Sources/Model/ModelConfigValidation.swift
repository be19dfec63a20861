extension ModelConfig {
    /// Upper bounds that keep a hostile configuration from requesting absurd allocations;
    /// each is far above any model this service targets.
    public enum Limits {
        public static let maxLabels = 100_000
        public static let maxHiddenSize = 16_384
        public static let maxIntermediateSize = 131_072
        public static let maxLayers = 512
        public static let maxHeads = 1_024
        public static let maxImageSize = 4_096
        public static let maxImageTokens = 65_537
        public static let maxVocabSize = 10_000_000
        public static let maxPositions = 65_536
        public static let maxGateHidden = 65_536
    }

    /// Checks every rule of `docs/model-format.md`; the error names the field and the rule.
    public func validate(path: String = "config.json") throws(ModelError) {
        func fail(_ reason: String) -> ModelError { .invalidConfig(path: path, reason: reason) }
        func check(_ field: String, _ value: Int, in range: ClosedRange<Int>) throws(ModelError) {
            guard range.contains(value) else {
                throw fail("\(field) is \(value), must be in \(range.lowerBound)...\(range.upperBound)")
            }
        }
        func checkHeads(_ prefix: String, hidden: Int, heads: Int) throws(ModelError) {
            guard hidden % heads == 0 else {
                throw fail("\(prefix).num_heads (\(heads)) must divide \(prefix).hidden_size (\(hidden))")
            }
        }
        func checkEps(_ field: String, _ value: Float) throws(ModelError) {
            guard value.isFinite, value > 0, value < 1 else { throw fail("\(field) is \(value), must be in (0, 1)") }
        }

        guard !name.isEmpty else { throw fail("name must not be empty") }
        guard !labels.isEmpty else { throw fail("labels must not be empty") }
        try check("number of labels", labels.count, in: 1...Limits.maxLabels)
        var seen = Set<String>()
        for label in labels {
            guard !label.isEmpty else { throw fail("labels must not contain an empty string") }
            guard seen.insert(label).inserted else { throw fail("label \"\(label)\" appears twice") }
        }

        let image = imageEncoder
        guard image.type == "vit" else { throw fail("image_encoder.type is \"\(image.type)\", only \"vit\" is supported") }
        try check("image_encoder.image_size", image.imageSize, in: 1...Limits.maxImageSize)
        try check("image_encoder.patch_size", image.patchSize, in: 1...image.imageSize)
        guard image.imageSize % image.patchSize == 0 else {
            throw fail("image_encoder.image_size (\(image.imageSize)) must be divisible by image_encoder.patch_size (\(image.patchSize))")
        }
        try check("image_encoder tokens (patches + 1)", image.tokenCount, in: 2...Limits.maxImageTokens)
        try check("image_encoder.hidden_size", image.hiddenSize, in: 1...Limits.maxHiddenSize)
        try check("image_encoder.num_layers", image.numLayers, in: 0...Limits.maxLayers)
        try check("image_encoder.num_heads", image.numHeads, in: 1...Limits.maxHeads)
        try checkHeads("image_encoder", hidden: image.hiddenSize, heads: image.numHeads)
        try check("image_encoder.intermediate_size", image.intermediateSize, in: 1...Limits.maxIntermediateSize)
        try checkEps("image_encoder.layer_norm_eps", image.layerNormEps)

        let text = textEncoder
        guard text.type == "bert" else { throw fail("text_encoder.type is \"\(text.type)\", only \"bert\" is supported") }
        try check("text_encoder.vocab_size", text.vocabSize, in: 1...Limits.maxVocabSize)
        try check("text_encoder.hidden_size", text.hiddenSize, in: 1...Limits.maxHiddenSize)
        try check("text_encoder.num_layers", text.numLayers, in: 0...Limits.maxLayers)
        try check("text_encoder.num_heads", text.numHeads, in: 1...Limits.maxHeads)
        try checkHeads("text_encoder", hidden: text.hiddenSize, heads: text.numHeads)
        try check("text_encoder.intermediate_size", text.intermediateSize, in: 1...Limits.maxIntermediateSize)
        try check("text_encoder.max_position_embeddings", text.maxPositionEmbeddings, in: 2...Limits.maxPositions)
        try checkEps("text_encoder.layer_norm_eps", text.layerNormEps)

        try check("fusion.hidden_size", fusion.hiddenSize, in: 1...Limits.maxHiddenSize)
        try check("fusion.num_heads", fusion.numHeads, in: 1...Limits.maxHeads)
        try checkHeads("fusion", hidden: fusion.hiddenSize, heads: fusion.numHeads)
        try check("fusion.gate_hidden", fusion.gateHidden, in: 1...Limits.maxGateHidden)

        guard preprocess.mean.count == 3 else { throw fail("preprocess.mean must have 3 values (R, G, B), has \(preprocess.mean.count)") }
        guard preprocess.std.count == 3 else { throw fail("preprocess.std must have 3 values (R, G, B), has \(preprocess.std.count)") }
        guard preprocess.mean.allSatisfy(\.isFinite) else { throw fail("preprocess.mean must be finite") }
        guard preprocess.std.allSatisfy({ $0.isFinite && $0 > 0 }) else { throw fail("preprocess.std values must be positive and finite") }
        guard preprocess.maxTextLength >= 2 else {
            throw fail("preprocess.max_text_length is \(preprocess.maxTextLength), must be at least 2 ([CLS] and [SEP])")
        }
        guard preprocess.maxTextLength <= text.maxPositionEmbeddings else {
            throw fail("preprocess.max_text_length (\(preprocess.maxTextLength)) exceeds text_encoder.max_position_embeddings (\(text.maxPositionEmbeddings))")
        }

        guard !weights.isEmpty else { throw fail("weights must list at least one file") }
        for (i, entry) in weights.enumerated() {
            let file = entry.file
            let components = file.split(separator: "/", omittingEmptySubsequences: false)
            guard !file.isEmpty, !file.hasPrefix("/"), !file.contains("\0"),
                  !components.contains(where: { $0 == ".." || $0.isEmpty }) else {
                throw fail("weights[\(i)].file \"\(file)\" must be a relative path inside the model directory")
            }
        }
    }
}
