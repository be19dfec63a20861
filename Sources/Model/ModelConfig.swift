/// A model directory's `config.json`: architecture sizes, labels, preprocessing and weight files.
///
/// Field names in JSON are snake_case (`image_encoder.patch_size`). Optional fields and their
/// defaults are documented in `docs/model-format.md`; `validate()` enforces the limits.
public struct ModelConfig: Codable, Sendable, Equatable {
    /// A display name.
    public var name: String
    /// Class labels; the head has one output per label.
    public var labels: [String]
    /// The ViT image encoder.
    public var imageEncoder: ImageEncoderConfig
    /// The BERT text encoder.
    public var textEncoder: TextEncoderConfig
    /// The cross-modal attention, gate and head sizes.
    public var fusion: FusionConfig
    /// Input preprocessing (normalisation and tokenisation settings).
    public var preprocess: PreprocessConfig
    /// Safetensors files, each with a prefix prepended to its tensor names.
    public var weights: [WeightFile]

    enum CodingKeys: String, CodingKey {
        case name, labels, fusion, preprocess, weights
        case imageEncoder = "image_encoder"
        case textEncoder = "text_encoder"
    }

    /// The default `weights`: one `model.safetensors` without prefix.
    public static let defaultWeights = [WeightFile(file: "model.safetensors", prefix: "")]

    /// A configuration from its parts.
    public init(name: String, labels: [String], imageEncoder: ImageEncoderConfig, textEncoder: TextEncoderConfig,
                fusion: FusionConfig, preprocess: PreprocessConfig = PreprocessConfig(),
                weights: [WeightFile] = ModelConfig.defaultWeights) {
        self.name = name
        self.labels = labels
        self.imageEncoder = imageEncoder
        self.textEncoder = textEncoder
        self.fusion = fusion
        self.preprocess = preprocess
        self.weights = weights
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        labels = try c.decode([String].self, forKey: .labels)
        imageEncoder = try c.decode(ImageEncoderConfig.self, forKey: .imageEncoder)
        textEncoder = try c.decode(TextEncoderConfig.self, forKey: .textEncoder)
        fusion = try c.decode(FusionConfig.self, forKey: .fusion)
        preprocess = try c.decodeIfPresent(PreprocessConfig.self, forKey: .preprocess) ?? PreprocessConfig()
        weights = try c.decodeIfPresent([WeightFile].self, forKey: .weights) ?? Self.defaultWeights
    }
}

/// `image_encoder`: a Hugging Face `ViTModel` without pooler.
public struct ImageEncoderConfig: Codable, Sendable, Equatable {
    /// Must be `"vit"` (the default).
    public var type: String
    /// Input images are `image_size × image_size` pixels, 3 channels.
    public var imageSize: Int
    /// Square patch side; must divide `image_size`.
    public var patchSize: Int
    /// Token width.
    public var hiddenSize: Int
    /// Number of transformer blocks.
    public var numLayers: Int
    /// Attention heads; must divide `hidden_size`.
    public var numHeads: Int
    /// MLP width.
    public var intermediateSize: Int
    /// LayerNorm epsilon (default 1e-12, as Hugging Face ViT).
    public var layerNormEps: Float

    enum CodingKeys: String, CodingKey {
        case type
        case imageSize = "image_size", patchSize = "patch_size", hiddenSize = "hidden_size"
        case numLayers = "num_layers", numHeads = "num_heads", intermediateSize = "intermediate_size"
        case layerNormEps = "layer_norm_eps"
    }

    /// An image encoder configuration.
    public init(imageSize: Int, patchSize: Int, hiddenSize: Int, numLayers: Int, numHeads: Int,
                intermediateSize: Int, layerNormEps: Float = 1e-12) {
        self.type = "vit"
        self.imageSize = imageSize
        self.patchSize = patchSize
        self.hiddenSize = hiddenSize
        self.numLayers = numLayers
        self.numHeads = numHeads
        self.intermediateSize = intermediateSize
        self.layerNormEps = layerNormEps
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        type = try c.decodeIfPresent(String.self, forKey: .type) ?? "vit"
        imageSize = try c.decode(Int.self, forKey: .imageSize)
        patchSize = try c.decode(Int.self, forKey: .patchSize)
        hiddenSize = try c.decode(Int.self, forKey: .hiddenSize)
        numLayers = try c.decode(Int.self, forKey: .numLayers)
        numHeads = try c.decode(Int.self, forKey: .numHeads)
        intermediateSize = try c.decode(Int.self, forKey: .intermediateSize)
        layerNormEps = try c.decodeIfPresent(Float.self, forKey: .layerNormEps) ?? 1e-12
    }

    /// Patches per side.
    public var gridSize: Int { imageSize / patchSize }
    /// Tokens per image: one per patch plus the CLS token.
    public var tokenCount: Int { gridSize * gridSize + 1 }
}

/// `text_encoder`: a Hugging Face `BertModel` without pooler (two token types, type 0 used).
public struct TextEncoderConfig: Codable, Sendable, Equatable {
    /// Must be `"bert"` (the default).
    public var type: String
    /// Rows of the word embedding; token ids must be below it.
    public var vocabSize: Int
    /// Token width.
    public var hiddenSize: Int
    /// Number of transformer blocks.
    public var numLayers: Int
    /// Attention heads; must divide `hidden_size`.
    public var numHeads: Int
    /// MLP width.
    public var intermediateSize: Int
    /// Rows of the position embedding: the longest possible token sequence.
    public var maxPositionEmbeddings: Int
    /// LayerNorm epsilon (default 1e-12, as Hugging Face BERT).
    public var layerNormEps: Float

    enum CodingKeys: String, CodingKey {
        case type
        case vocabSize = "vocab_size", hiddenSize = "hidden_size", numLayers = "num_layers"
        case numHeads = "num_heads", intermediateSize = "intermediate_size"
        case maxPositionEmbeddings = "max_position_embeddings", layerNormEps = "layer_norm_eps"
    }

    /// A text encoder configuration.
    public init(vocabSize: Int, hiddenSize: Int, numLayers: Int, numHeads: Int, intermediateSize: Int,
                maxPositionEmbeddings: Int, layerNormEps: Float = 1e-12) {
        self.type = "bert"
        self.vocabSize = vocabSize
        self.hiddenSize = hiddenSize
        self.numLayers = numLayers
        self.numHeads = numHeads
        self.intermediateSize = intermediateSize
        self.maxPositionEmbeddings = maxPositionEmbeddings
        self.layerNormEps = layerNormEps
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        type = try c.decodeIfPresent(String.self, forKey: .type) ?? "bert"
        vocabSize = try c.decode(Int.self, forKey: .vocabSize)
        hiddenSize = try c.decode(Int.self, forKey: .hiddenSize)
        numLayers = try c.decode(Int.self, forKey: .numLayers)
        numHeads = try c.decode(Int.self, forKey: .numHeads)
        intermediateSize = try c.decode(Int.self, forKey: .intermediateSize)
        maxPositionEmbeddings = try c.decode(Int.self, forKey: .maxPositionEmbeddings)
        layerNormEps = try c.decodeIfPresent(Float.self, forKey: .layerNormEps) ?? 1e-12
    }

    /// Rows of the token type embedding (BERT's two segments; only type 0 is used).
    public static let typeVocabSize = 2
}

/// `fusion`: projections to a shared width, cross-modal attention, gate and head.
public struct FusionConfig: Codable, Sendable, Equatable {
    /// Shared token width `d` after `image_proj`/`text_proj`.
    public var hiddenSize: Int
    /// Heads of the fusion `nn.MultiheadAttention`; must divide `hidden_size`.
    public var numHeads: Int
    /// Hidden width of the gate MLP (`2d → gate_hidden → 2`).
    public var gateHidden: Int

    enum CodingKeys: String, CodingKey {
        case hiddenSize = "hidden_size", numHeads = "num_heads", gateHidden = "gate_hidden"
    }

    /// A fusion configuration.
    public init(hiddenSize: Int, numHeads: Int, gateHidden: Int) {
        self.hiddenSize = hiddenSize
        self.numHeads = numHeads
        self.gateHidden = gateHidden
    }
}

/// `preprocess`: how clients turn images and text into model inputs.
public struct PreprocessConfig: Codable, Sendable, Equatable {
    /// Per-channel mean subtracted after scaling pixels to [0, 1] (default ImageNet's).
    public var mean: [Float]
    /// Per-channel divisor (default ImageNet's).
    public var std: [Float]
    /// Longest token sequence, `[CLS]` and `[SEP]` included (default 64).
    public var maxTextLength: Int
    /// Whether the tokenizer lower-cases and strips accents (default true).
    public var doLowerCase: Bool

    enum CodingKeys: String, CodingKey {
        case mean, std
        case maxTextLength = "max_text_length", doLowerCase = "do_lower_case"
    }

    /// Preprocessing settings; the defaults are those of `bert-base-uncased` and ImageNet.
    public init(mean: [Float] = [0.485, 0.456, 0.406], std: [Float] = [0.229, 0.224, 0.225],
                maxTextLength: Int = 64, doLowerCase: Bool = true) {
        self.mean = mean
        self.std = std
        self.maxTextLength = maxTextLength
        self.doLowerCase = doLowerCase
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let defaults = PreprocessConfig()
        mean = try c.decodeIfPresent([Float].self, forKey: .mean) ?? defaults.mean
        std = try c.decodeIfPresent([Float].self, forKey: .std) ?? defaults.std
        maxTextLength = try c.decodeIfPresent(Int.self, forKey: .maxTextLength) ?? defaults.maxTextLength
        doLowerCase = try c.decodeIfPresent(Bool.self, forKey: .doLowerCase) ?? defaults.doLowerCase
    }
}

/// One entry of `weights`: a safetensors file of the model directory and the prefix that
/// turns its tensor names into the model's (e.g. `"text_encoder."` for a plain `BertModel`).
public struct WeightFile: Codable, Sendable, Equatable {
    /// File name relative to the model directory.
    public var file: String
    /// Prepended to every tensor name of the file (default "").
    public var prefix: String

    /// A weight file entry.
    public init(file: String, prefix: String = "") {
        self.file = file
        self.prefix = prefix
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        file = try c.decode(String.self, forKey: .file)
        prefix = try c.decodeIfPresent(String.self, forKey: .prefix) ?? ""
    }

    enum CodingKeys: String, CodingKey { case file, prefix }
}
