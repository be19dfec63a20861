/// One request: an image tensor and a token sequence.
public struct ModelInput: Sendable {
    /// Normalised pixels `[3, S, S]` in C order (channel, row, column), S = `image_size`.
    public var pixels: [Float]
    /// Token ids with `[CLS]` first and `[SEP]` last, not padded.
    public var inputIds: [Int32]

    /// An input from preprocessed pixels and token ids.
    public init(pixels: [Float], inputIds: [Int32]) {
        self.pixels = pixels
        self.inputIds = inputIds
    }
}

/// The model's answer for one request.
public struct ModelOutput: Sendable {
    /// Raw class scores, one per label.
    public var logits: [Float]
    /// `softmax(logits)`, one per label.
    public var scores: [Float]
    /// Index of the highest score (the first one on ties).
    public var label: Int
    /// The gate's weights of the image and text vectors (they sum to 1). Always present for
    /// this architecture; optional in the shared contract for models without a gate.
    public var gate: (image: Float, text: Float)?
    /// `gate.image · img_vec + gate.text · txt_vec`, `fusion.hidden_size` floats.
    public var embedding: [Float]

    /// An output from its parts.
    public init(logits: [Float], scores: [Float], label: Int, gate: (image: Float, text: Float)?, embedding: [Float]) {
        self.logits = logits
        self.scores = scores
        self.label = label
        self.gate = gate
        self.embedding = embedding
    }
}
