import Kernels
import Tensors

/// Hugging Face `BertModel` without pooler: word + position + token-type-0 embeddings,
/// post-LayerNorm blocks with exact GELU, padding keys masked.
struct TextEncoder {
    struct Layer {
        let attention: SelfAttention
        let attentionNorm: Norm
        let intermediate: Linear
        let output: Linear
        let outputNorm: Norm
    }

    let config: TextEncoderConfig
    let wordEmbeddings: Tensor
    let positionEmbeddings: Tensor
    let tokenTypeEmbeddings: Tensor
    let embeddingNorm: Norm
    private(set) var layers: [Layer]

    init(_ table: WeightTable, config: TextEncoderConfig) throws(ModelError) {
        let names = Names.Text.self
        let eps = config.layerNormEps
        self.config = config
        wordEmbeddings = try table.tensor(names.wordEmbeddings)
        positionEmbeddings = try table.tensor(names.positionEmbeddings)
        tokenTypeEmbeddings = try table.tensor(names.tokenTypeEmbeddings)
        embeddingNorm = try Norm(table, names.embeddingNorm, eps: eps)
        var layers: [Layer] = []
        for i in 0..<config.numLayers {
            let n = names.layer(i)
            layers.append(Layer(
                attention: SelfAttention(query: try Linear(table, n.query), key: try Linear(table, n.key),
                                         value: try Linear(table, n.value), output: try Linear(table, n.attentionOutput),
                                         numHeads: config.numHeads),
                attentionNorm: try Norm(table, n.attentionNorm, eps: eps),
                intermediate: try Linear(table, n.intermediate),
                output: try Linear(table, n.output),
                outputNorm: try Norm(table, n.outputNorm, eps: eps)))
        }
        self.layers = layers
    }

    /// The encoder with every block's products in int8 (`Precision.int8`); embeddings,
    /// LayerNorms and attention itself stay fp32.
    func quantized(levels: Int) -> TextEncoder {
        var copy = self
        copy.layers = layers.map {
            Layer(attention: $0.attention.quantized(levels: levels), attentionNorm: $0.attentionNorm,
                  intermediate: $0.intermediate.quantized(levels: levels), output: $0.output.quantized(levels: levels),
                  outputNorm: $0.outputNorm)
        }
        return copy
    }

    /// The encoder with its blocks' products on oneDNN in `dataType`: `.f32` for
    /// `Backend.onednn`, `.bf16` for `Precision.bf16` (embeddings, attention scores, softmax and
    /// LayerNorms stay fp32 either way).
    func onOneDNN(_ dataType: OneDNNDataType = .f32) throws(ModelError) -> TextEncoder {
        var copy = self
        var moved: [Layer] = []
        for layer in layers {
            moved.append(Layer(attention: try layer.attention.onOneDNN(dataType), attentionNorm: layer.attentionNorm,
                               intermediate: try layer.intermediate.onOneDNN(dataType),
                               output: try layer.output.onOneDNN(dataType), outputNorm: layer.outputNorm))
        }
        copy.layers = moved
        return copy
    }

    /// Encodes the batch's token ids, right-padded to `length`, into `ws.textOut`
    /// (`[B, length, hidden]`). Ids were validated by the caller. Padding rows hold finite
    /// values that no valid position ever reads.
    func forward(_ batch: [ModelInput], length: Int, ws: Workspace, log: GEMMLog?) {
        let d = config.hiddenSize
        let x = ws.textOut.pointer
        x.update(repeating: 0, count: batch.count * length * d)
        wordEmbeddings.withUnsafeBufferPointer { words in
            positionEmbeddings.withUnsafeBufferPointer { positions in
                tokenTypeEmbeddings.withUnsafeBufferPointer { types in
                    guard let words = words.baseAddress, let positions = positions.baseAddress,
                          let types = types.baseAddress else { return }
                    for (b, input) in batch.enumerated() {
                        for (t, id) in input.inputIds.enumerated() {
                            let row = x + (b * length + t) * d
                            row.update(from: words + Int(id) * d, count: d)
                            addInPlace(row, positions + t * d, count: d)
                            addInPlace(row, types, count: d)  // token type 0
                        }
                    }
                }
            }
        }
        let rows = batch.count * length
        embeddingNorm.apply(x, rows: rows, into: x)
        let lengths = batch.map(\.inputIds.count)
        for layer in layers {
            layer.attention.apply(x, batch: batch.count, seqLen: length, validLengths: lengths,
                                  qkv: ws.qkv.pointer, context: ws.context.pointer, padding: ws.padding,
                                  residual: x, norm: layer.attentionNorm, normOutput: x, log: log)
            layer.intermediate.apply(x, rows: rows, into: ws.mlp.pointer, activation: .gelu, log: log)
            layer.output.addThenNormalize(ws.mlp.pointer, rows: rows, residual: x, norm: layer.outputNorm,
                                          into: x, log: log)
        }
    }
}
