import Kernels
import Tensors

/// Hugging Face `ViTModel` without pooler: patch embedding, CLS token, position embeddings,
/// pre-LayerNorm blocks with exact GELU, final LayerNorm.
struct ImageEncoder {
    struct Layer {
        let normBefore: Norm
        let attention: SelfAttention
        let normAfter: Norm
        let intermediate: Linear
        let output: Linear
    }

    let config: ImageEncoderConfig
    private(set) var patchProjection: Linear  // conv weight [d, 3, p, p] used as [d, 3·p·p]
    let clsToken: Tensor
    let positionEmbeddings: Tensor
    private(set) var layers: [Layer]
    let finalNorm: Norm

    init(_ table: WeightTable, config: ImageEncoderConfig) throws(ModelError) {
        let names = Names.Image.self
        let eps = config.layerNormEps
        self.config = config
        patchProjection = try Linear(table, names.patchProjection)
        clsToken = try table.tensor(names.clsToken)
        positionEmbeddings = try table.tensor(names.positionEmbeddings)
        var layers: [Layer] = []
        for i in 0..<config.numLayers {
            let n = names.layer(i)
            layers.append(Layer(
                normBefore: try Norm(table, n.normBefore, eps: eps),
                attention: SelfAttention(query: try Linear(table, n.query), key: try Linear(table, n.key),
                                         value: try Linear(table, n.value), output: try Linear(table, n.attentionOutput),
                                         numHeads: config.numHeads),
                normAfter: try Norm(table, n.normAfter, eps: eps),
                intermediate: try Linear(table, n.intermediate),
                output: try Linear(table, n.output)))
        }
        self.layers = layers
        finalNorm = try Norm(table, names.finalNorm, eps: eps)
    }

    /// The encoder with every block's products in int8 (`Precision.int8`); the patch
    /// embedding, LayerNorms and attention itself stay fp32.
    func quantized(levels: Int) -> ImageEncoder {
        var copy = self
        copy.layers = layers.map {
            Layer(normBefore: $0.normBefore, attention: $0.attention.quantized(levels: levels), normAfter: $0.normAfter,
                  intermediate: $0.intermediate.quantized(levels: levels), output: $0.output.quantized(levels: levels))
        }
        return copy
    }

    /// The encoder with its products on oneDNN: with `.f32` every one (`Backend.onednn`), the
    /// patch embedding too; with `.bf16` the blocks' (`Precision.bf16`), while the patch
    /// embedding, attention scores, softmax and LayerNorms stay fp32, as in int8.
    func onOneDNN(_ dataType: OneDNNDataType = .f32) throws(ModelError) -> ImageEncoder {
        var copy = self
        if dataType == .f32 { copy.patchProjection = try patchProjection.onOneDNN() }
        var moved: [Layer] = []
        for layer in layers {
            moved.append(Layer(normBefore: layer.normBefore, attention: try layer.attention.onOneDNN(dataType),
                               normAfter: layer.normAfter, intermediate: try layer.intermediate.onOneDNN(dataType),
                               output: try layer.output.onOneDNN(dataType)))
        }
        copy.layers = moved
        return copy
    }

    /// Encodes the batch's images into `ws.imageOut` (`[B, tokenCount, hidden]`).
    func forward(_ batch: [ModelInput], ws: Workspace, log: GEMMLog?) {
        let size = config.imageSize, p = config.patchSize, grid = config.gridSize
        let tokens = config.tokenCount, d = config.hiddenSize
        let patchCount = grid * grid, patchWidth = 3 * p * p
        let x = ws.imageOut.pointer
        let patches = ws.patches.pointer

        // Unfold each image into rows of patch pixels in (channel, row, column) order, the
        // flattening of the convolution weight [d, 3, p, p]; the stride-p convolution is then
        // one matrix product per image.
        for (b, input) in batch.enumerated() {
            input.pixels.withUnsafeBufferPointer { pixels in
                guard let image = pixels.baseAddress else { return }
                for gy in 0..<grid {
                    for gx in 0..<grid {
                        let row = patches + (b * patchCount + gy * grid + gx) * patchWidth
                        for c in 0..<3 {
                            for ky in 0..<p {
                                let source = image + c * size * size + (gy * p + ky) * size + gx * p
                                copyShortRow(from: source, to: row + c * p * p + ky * p, count: p)
                            }
                        }
                    }
                }
            }
        }
        for b in 0..<batch.count {
            patchProjection.apply(patches + b * patchCount * patchWidth, rows: patchCount,
                                  into: x + (b * tokens + 1) * d, log: log)
            clsToken.withUnsafeBufferPointer { cls in
                if let cls = cls.baseAddress { (x + b * tokens * d).update(from: cls, count: d) }
            }
            positionEmbeddings.withUnsafeBufferPointer { position in
                if let position = position.baseAddress { addInPlace(x + b * tokens * d, position, count: tokens * d) }
            }
        }

        let rows = batch.count * tokens
        let h = ws.hidden.pointer
        // Each residual addition's bias shares a pass with the LayerNorm after it: normAfter
        // after attention, the next layer's normBefore (or the final norm, in place) after the MLP.
        if let first = layers.first { first.normBefore.apply(x, rows: rows, into: h) }
        for (i, layer) in layers.enumerated() {
            layer.attention.apply(h, batch: batch.count, seqLen: tokens, validLengths: nil,
                                  qkv: ws.qkv.pointer, context: ws.context.pointer, padding: ws.padding,
                                  residual: x, norm: layer.normAfter, normOutput: h, log: log)
            layer.intermediate.apply(h, rows: rows, into: ws.mlp.pointer, activation: .gelu, log: log)
            let isLast = i + 1 == layers.count
            layer.output.addThenNormalize(ws.mlp.pointer, rows: rows, residual: x,
                                          norm: isLast ? finalNorm : layers[i + 1].normBefore,
                                          into: isLast ? x : h, log: log)
        }
        if layers.isEmpty { finalNorm.apply(x, rows: rows, into: x) }
    }
}

/// Copies `count` floats (a patch row: 16 for ViT-B/16 and the default model) with vector moves:
/// `update(from:count:)` is a `memmove` call per row, and the unfold makes thousands of them.
@inline(__always)
private func copyShortRow(from source: UnsafePointer<Float>, to target: UnsafeMutablePointer<Float>, count: Int) {
    var i = 0
    while i + 8 <= count {
        UnsafeMutableRawPointer(target + i).storeBytes(of: UnsafeRawPointer(source + i).loadUnaligned(as: SIMD8<Float>.self),
                                                       as: SIMD8<Float>.self)
        i += 8
    }
    while i < count {
        target[i] = source[i]
        i += 1
    }
}
