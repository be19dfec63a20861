import Kernels
import Tensors

/// Projections, modality embeddings, cross-modal `nn.MultiheadAttention`, mean pools, the
/// softmax gate and the classification head.
struct FusionHead {
    let config: FusionConfig
    /// `image_proj` with `modality_embedding[0]` folded into its bias (and `text_proj` with
    /// `[1]`): adding a constant row after a linear layer is adding it to the bias.
    private(set) var imageProjection: Linear
    private(set) var textProjection: Linear
    private(set) var inProjection: Linear
    private(set) var outProjection: Linear
    private(set) var gateHidden: Linear
    private(set) var gateOutput: Linear
    private(set) var classifier: Linear

    init(_ table: WeightTable, config: FusionConfig) throws(ModelError) {
        let names = Names.Fusion.self
        self.config = config
        let modality = try table.tensor(names.modalityEmbedding).values
        let d = config.hiddenSize
        func withModality(_ name: String, row: Int) throws(ModelError) -> Linear {
            let bias = try table.tensor(name + ".bias").values
            let combined = (0..<d).map { bias[$0] + modality[row * d + $0] }
            return Linear(weight: try table.tensor(name + ".weight"), bias: Tensor(shape: [d], validatedValues: combined))
        }
        imageProjection = try withModality(names.imageProjection, row: 0)
        textProjection = try withModality(names.textProjection, row: 1)
        inProjection = Linear(weight: try table.tensor(names.inProjectionWeight), bias: try table.tensor(names.inProjectionBias))
        outProjection = try Linear(table, names.outProjection)
        gateHidden = try Linear(table, names.gateHidden)
        gateOutput = try Linear(table, names.gateOutput)
        classifier = try Linear(table, names.classifier)
    }

    /// The head with every product on oneDNN (`Backend.onednn`).
    func onOneDNN() throws(ModelError) -> FusionHead {
        var copy = self
        copy.imageProjection = try imageProjection.onOneDNN()
        copy.textProjection = try textProjection.onOneDNN()
        copy.inProjection = try inProjection.onOneDNN()
        copy.outProjection = try outProjection.onOneDNN()
        copy.gateHidden = try gateHidden.onOneDNN()
        copy.gateOutput = try gateOutput.onOneDNN()
        copy.classifier = try classifier.onOneDNN()
        return copy
    }

    /// Fuses `ws.imageOut` (`[B, imageTokens, di]`) and `ws.textOut` (`[B, textLength, dt]`).
    func forward(batch: Int, imageTokens: Int, textLength: Int, textLengths: [Int],
                 imageWidth: Int, textWidth: Int, ws: Workspace, log: GEMMLog?) -> [ModelOutput] {
        let d = config.hiddenSize
        let length = imageTokens + textLength
        let fused = ws.fused.pointer
        for b in 0..<batch {
            imageProjection.apply(ws.imageOut.pointer + b * imageTokens * imageWidth, rows: imageTokens,
                                  into: fused + b * length * d, log: log)
            textProjection.apply(ws.textOut.pointer + b * textLength * textWidth, rows: textLength,
                                 into: fused + (b * length + imageTokens) * d, log: log)
        }
        let qkv = ws.qkv.pointer
        inProjection.apply(fused, rows: batch * length, into: qkv, log: log)
        // Pool with the attention: rows (2b, 2b+1) of `pooled` = (mean over the image rows, mean
        // over the valid text rows) of request b's attention output, which the kernel gets by
        // averaging probability rows before the product by V. Pool before the output projection
        // too: the mean of (x·Wᵀ + b) over rows is mean(x)·Wᵀ + b, so out_proj runs on 2 rows
        // per request. Rows (2b, 2b+1) form the gate's [img_vec; txt_vec] input.
        let pooled = ws.pooled.pointer, padding = ws.padding
        for b in 0..<batch {
            let valid = imageTokens + textLengths[b]
            for t in 0..<length { padding[t] = t >= valid }
            let base = qkv + b * length * 3 * d
            multiHeadAttentionPooled(query: base, key: base + d, value: base + 2 * d, ld: 3 * d, seqLen: length,
                                     numHeads: config.numHeads, headDim: d / config.numHeads,
                                     keyPadding: padding, groups: [0..<imageTokens, imageTokens..<valid],
                                     output: pooled + 2 * b * d, ldOutput: d)
        }
        let vectors = ws.pooledOut.pointer
        outProjection.apply(pooled, rows: 2 * batch, into: vectors, log: log)

        let gateHiddenOut = ws.gate.pointer, small = ws.logits.pointer
        gateHidden.apply(vectors, rows: batch, into: gateHiddenOut, activation: .gelu, log: log)
        gateOutput.apply(gateHiddenOut, rows: batch, into: small, log: log)
        softmaxRows(rows: batch, cols: 2, data: small, ld: 2)
        let gates = (0..<batch).map { (image: small[2 * $0], text: small[2 * $0 + 1]) }

        let embedding = ws.embedding.pointer
        for b in 0..<batch {
            let image = vectors + 2 * b * d, text = image + d, out = embedding + b * d
            for i in 0..<d { out[i] = gates[b].image * image[i] + gates[b].text * text[i] }
        }
        let labels = classifier.outFeatures
        classifier.apply(embedding, rows: batch, into: small, log: log)
        return (0..<batch).map { b in
            let logits = Array(UnsafeBufferPointer(start: small + b * labels, count: labels))
            let scores = Kernels.softmax(logits)
            var best = 0
            for i in 1..<max(labels, 1) where scores[i] > scores[best] { best = i }
            return ModelOutput(logits: logits, scores: scores, label: best, gate: gates[b],
                               embedding: Array(UnsafeBufferPointer(start: embedding + b * d, count: d)))
        }
    }
}
