import Kernels
import Tensors

/// The model's tensors by name, as checked against `WeightDeclaration`.
struct WeightTable {
    let tensors: [String: Tensor]

    func tensor(_ name: String) throws(ModelError) -> Tensor {
        guard let tensor = tensors[name] else { throw .missingTensor(name: name, files: ["<declaration>"]) }
        return tensor
    }
}

/// `nn.Linear`: `y = x · Wᵀ + b` with `W` stored `[out, in]` and used in place.
struct Linear {
    enum Activation { case none, gelu }

    let weight: Tensor
    let bias: Tensor
    let inFeatures: Int
    let outFeatures: Int
    /// The weight in int8 (`Precision.int8`): products then go through `quantizedLinear`.
    private(set) var int8: QuantizedWeights?
    /// The weight reordered for oneDNN (`Backend.onednn`, or bf16 for `Precision.bf16`):
    /// products then run there.
    private(set) var onednn: OneDNNLinear?
    /// The weight packed for the small-layer kernel (`PackedLinear`), made here when the layer
    /// is small enough and the CPU has AVX2 + FMA; other fp32 products go to OpenBLAS.
    private(set) var packed: PackedLinear?

    init(weight: Tensor, bias: Tensor) {
        self.weight = weight
        self.bias = bias
        let outFeatures = weight.shape[0]
        let inFeatures = weight.count / max(weight.shape[0], 1)
        self.outFeatures = outFeatures
        self.inFeatures = inFeatures
        packed = weight.withUnsafeBufferPointer { w in
            w.baseAddress.flatMap { PackedLinear(weight: $0, outFeatures: outFeatures, inFeatures: inFeatures) }
        }
    }

    /// `name.weight` and `name.bias`; a convolution weight `[out, c, kh, kw]` acts as `[out, c·kh·kw]`.
    init(_ table: WeightTable, _ name: String) throws(ModelError) {
        self.init(weight: try table.tensor(name + ".weight"), bias: try table.tensor(name + ".bias"))
    }

    /// Writes `input[rows, in] · Wᵀ + b` to `output`, or adds it to `output` when `accumulate`
    /// (a residual connection fused into the product: sgemm with beta = 1), then applies
    /// `activation`. Strides default to dense rows.
    ///
    /// Without `accumulate` the product starts from the bias (see `product`).
    func apply(_ input: UnsafePointer<Float>, rows: Int, ldInput: Int? = nil,
               into output: UnsafeMutablePointer<Float>, ldOutput: Int? = nil,
               accumulate: Bool = false, activation: Activation = .none, log: GEMMLog?) {
        let ldo = ldOutput ?? outFeatures
        if let int8 {
            bias.withUnsafeBufferPointer { b in
                guard let b = b.baseAddress else { return }
                quantizedLinear(input: input, rows: rows, ldInput: ldInput ?? inFeatures, weights: int8,
                                output: output, ldOutput: ldo, accumulate: accumulate)
                switch activation {
                case .none: addBias(rows: rows, cols: outFeatures, data: output, ld: ldo, bias: b)
                case .gelu: addBiasGELU(rows: rows, cols: outFeatures, data: output, ld: ldo, bias: b)
                }
            }
            return
        }
        weight.withUnsafeBufferPointer { w in
            bias.withUnsafeBufferPointer { b in
                guard let w = w.baseAddress, let b = b.baseAddress else { return }
                product(input, rows: rows, ldInput: ldInput ?? inFeatures, weight: w, bias: b, accumulate: accumulate,
                        into: output, ldOutput: ldo, log: log)
                switch (accumulate, activation) {
                case (false, .none): break
                case (false, .gelu): addBiasGELU(rows: rows, cols: outFeatures, data: output, ld: ldo, bias: nil)
                case (true, .none): addBias(rows: rows, cols: outFeatures, data: output, ld: ldo, bias: b)
                case (true, .gelu): addBiasGELU(rows: rows, cols: outFeatures, data: output, ld: ldo, bias: b)
                }
            }
        }
    }

    /// Adds `input[rows, in] · Wᵀ + b` to `residual` (dense rows), then writes `norm(residual)`
    /// to `normOutput`, which may be `residual`. The bias and the LayerNorm that always follows a
    /// residual connection in these encoders share one pass over the rows (`addBiasLayerNorm`).
    func addThenNormalize(_ input: UnsafePointer<Float>, rows: Int, residual: UnsafeMutablePointer<Float>,
                          norm: Norm, into normOutput: UnsafeMutablePointer<Float>, log: GEMMLog?) {
        if let int8 {
            bias.withUnsafeBufferPointer { b in
                guard let b = b.baseAddress else { return }
                quantizedLinear(input: input, rows: rows, ldInput: inFeatures, weights: int8,
                                output: residual, ldOutput: outFeatures, accumulate: true)
                norm.addBiasThenApply(b, rows: rows, residual: residual, into: normOutput)
            }
            return
        }
        weight.withUnsafeBufferPointer { w in
            bias.withUnsafeBufferPointer { b in
                guard let w = w.baseAddress, let b = b.baseAddress else { return }
                product(input, rows: rows, ldInput: inFeatures, weight: w, bias: b, accumulate: true,
                        into: residual, ldOutput: outFeatures, log: log)
                norm.addBiasThenApply(b, rows: rows, residual: residual, into: normOutput)
            }
        }
    }

    /// `output = (accumulate ? output : bias) + input · Wᵀ` in fp32: the packed small-layer
    /// kernel starts from the bias itself; OpenBLAS and oneDNN accumulate onto the bias written
    /// first (one pass over the output instead of two: OpenBLAS's zeroing for beta = 0, then a
    /// bias pass).
    private func product(_ input: UnsafePointer<Float>, rows: Int, ldInput: Int, weight: UnsafePointer<Float>,
                         bias: UnsafePointer<Float>, accumulate: Bool,
                         into output: UnsafeMutablePointer<Float>, ldOutput: Int, log: GEMMLog?) {
        if let packed {
            packed.apply(input, rows: rows, ldInput: ldInput, bias: bias, accumulate: accumulate,
                         into: output, ldOutput: ldOutput, log: log)
            return
        }
        if !accumulate { fillRows(rows: rows, cols: outFeatures, data: output, ld: ldOutput, bias: bias) }
        guard let onednn else {
            sgemm(transposeB: true, m: rows, n: outFeatures, k: inFeatures, a: input, lda: ldInput, b: weight,
                  ldb: inFeatures, beta: 1, c: output, ldc: ldOutput, log: log)
            return
        }
        onednn.accumulate(input, rows: rows, ldInput: ldInput, into: output, ldOutput: ldOutput, log: log)
    }

    /// This layer with its products on oneDNN in `dataType` (fp32: the `onednn` backend; bf16:
    /// the `bf16` precision), the weight reordered once, here. A layer already on oneDNN (int8's
    /// u8×s8, or bf16) stays as it is.
    func onOneDNN(_ dataType: OneDNNDataType = .f32) throws(ModelError) -> Linear {
        guard int8 == nil, onednn == nil, outFeatures > 0, inFeatures > 0 else { return self }
        var copy = self
        copy.packed = nil
        do {
            copy.onednn = try weight.withUnsafeBufferPointer { (w) throws(OneDNNError) -> OneDNNLinear? in
                guard let base = w.baseAddress else { return nil }
                return try OneDNNLinear(weight: base, outFeatures: outFeatures, inFeatures: inFeatures, dataType: dataType)
            }
        } catch {
            throw .oneDNNUnavailable(dataType, error)
        }
        return copy
    }

    /// This layer with its weight quantized to int8 (the fp32 weight stays for reference).
    func quantized(levels: Int) -> Linear {
        var copy = self
        copy.packed = nil
        copy.int8 = weight.withUnsafeBufferPointer {
            QuantizedWeights(weight: $0, outFeatures: outFeatures, inFeatures: inFeatures, levels: levels)
        }
        return copy
    }

    /// One layer computing `[a; b; …]` stacked along the outputs (Q, K and V as one product):
    /// the weights and biases are copied once, at load.
    static func stacked(_ parts: [Linear]) -> Linear {
        let inFeatures = parts.first?.inFeatures ?? 0
        precondition(parts.allSatisfy { $0.inFeatures == inFeatures }, "stacked layers must share their input width")
        let outFeatures = parts.reduce(0) { $0 + $1.outFeatures }
        let weight = Tensor(shape: [outFeatures, inFeatures], validatedValues: parts.flatMap(\.weight.values))
        let bias = Tensor(shape: [outFeatures], validatedValues: parts.flatMap(\.bias.values))
        return Linear(weight: weight, bias: bias)
    }
}

/// `nn.LayerNorm` over the last dimension.
struct Norm {
    let scale: Tensor
    let shift: Tensor
    let eps: Float

    init(_ table: WeightTable, _ name: String, eps: Float) throws(ModelError) {
        scale = try table.tensor(name + ".weight")
        shift = try table.tensor(name + ".bias")
        self.eps = eps
    }

    /// Normalises `rows` rows of `scale.count` values; `input` may equal `output`.
    func apply(_ input: UnsafePointer<Float>, rows: Int, into output: UnsafeMutablePointer<Float>) {
        scale.withUnsafeBufferPointer { g in
            shift.withUnsafeBufferPointer { b in
                guard let g = g.baseAddress, let b = b.baseAddress else { return }
                layerNorm(rows: rows, cols: scale.count, input: input, output: output, gamma: g, beta: b, eps: eps)
            }
        }
    }

    /// `residual[r] += bias`, then normalises `residual` into `output` (which may be `residual`).
    func addBiasThenApply(_ bias: UnsafePointer<Float>, rows: Int, residual: UnsafeMutablePointer<Float>,
                          into output: UnsafeMutablePointer<Float>) {
        scale.withUnsafeBufferPointer { g in
            shift.withUnsafeBufferPointer { b in
                guard let g = g.baseAddress, let b = b.baseAddress else { return }
                addBiasLayerNorm(rows: rows, cols: scale.count, residual: residual, bias: bias, output: output,
                                 gamma: g, beta: b, eps: eps)
            }
        }
    }
}

/// The query/key/value/output projections of one self-attention block.
struct SelfAttention {
    /// The Q, K and V projections, writing the column blocks of one `[rows, 3·width]` buffer:
    /// one stacked `[3·width, width]` layer (one product) up to `stackLimit` weights, else three.
    let projections: [Linear]
    let output: Linear
    let numHeads: Int

    /// Largest Q+K+V weight count copied into one stacked matrix at load (3 × 512²). Small layers
    /// gain from one product (the default model: 197×192×64 instead of three 197×64×64, each
    /// with OpenBLAS's fixed cost); large ones already run at full speed as three products, and
    /// the copy would be private memory in every worker instead of the shared mapped weights
    /// (170 MB for the seed-size model).
    static let stackLimit = 3 * 512 * 512

    private init(projections: [Linear], output: Linear, numHeads: Int) {
        self.projections = projections
        self.output = output
        self.numHeads = numHeads
    }

    /// These projections on oneDNN (`Linear.onOneDNN`).
    func onOneDNN(_ dataType: OneDNNDataType = .f32) throws(ModelError) -> SelfAttention {
        var moved: [Linear] = []
        // bf16 stacks Q, K and V as int8 does: its weight copy is private memory either way, and
        // one product rounds the input to bf16 once instead of three times.
        let parts = dataType == .bf16 && projections.count > 1 ? [Linear.stacked(projections)] : projections
        for projection in parts {
            let layer = try projection.onOneDNN(dataType)
            // `apply` writes Q, K and V into the column blocks of one [rows, 3·width] buffer.
            do {
                try layer.onednn?.prepare(ldInput: layer.inFeatures, ldOutput: 3 * width)
            } catch {
                throw .oneDNNUnavailable(dataType, error)
            }
            moved.append(layer)
        }
        return SelfAttention(projections: moved, output: try output.onOneDNN(dataType), numHeads: numHeads)
    }

    /// These projections in int8. Q, K and V become one product whatever their size: the int8
    /// copy is private memory either way, and one product reads the input once.
    func quantized(levels: Int) -> SelfAttention {
        let stacked = projections.count == 1 ? projections[0] : Linear.stacked(projections)
        return SelfAttention(projections: [stacked.quantized(levels: levels)],
                             output: output.quantized(levels: levels), numHeads: numHeads)
    }

    init(query: Linear, key: Linear, value: Linear, output: Linear, numHeads: Int) {
        let parts = [query, key, value]
        let weights = parts.reduce(0) { $0 + $1.weight.count }
        projections = weights <= Self.stackLimit ? [.stacked(parts)] : parts
        self.output = output
        self.numHeads = numHeads
    }

    var width: Int { output.inFeatures }
    var headDim: Int { width / numHeads }

    /// Projects `input` (`batch` sequences of `seqLen` rows) to Q, K, V in the column blocks of
    /// `qkv` (row stride 3·width), runs attention per sequence into `context`, adds
    /// `context · W_oᵀ + b_o` to `residual` (which may be `input`'s buffer) and writes
    /// `norm(residual)` to `normOutput` (which may be `residual`).
    /// `validLengths[b]` hides keys at or after it and skips those query rows.
    func apply(_ input: UnsafePointer<Float>, batch: Int, seqLen: Int, validLengths: [Int]?,
               qkv: UnsafeMutablePointer<Float>, context: UnsafeMutablePointer<Float>,
               padding: UnsafeMutablePointer<Bool>,
               residual: UnsafeMutablePointer<Float>, norm: Norm, normOutput: UnsafeMutablePointer<Float>,
               log: GEMMLog?) {
        let rows = batch * seqLen
        var column = 0
        for projection in projections {
            projection.apply(input, rows: rows, into: qkv + column, ldOutput: 3 * width, log: log)
            column += projection.outFeatures
        }
        attend(qkv, batch: batch, seqLen: seqLen, validLengths: validLengths, numHeads: numHeads, headDim: headDim,
               context: context, padding: padding)
        output.addThenNormalize(context, rows: rows, residual: residual, norm: norm, into: normOutput, log: log)
    }
}

/// Attention over packed `[rows, 3·width]` QKV, one sequence at a time.
func attend(_ qkv: UnsafePointer<Float>, batch: Int, seqLen: Int, validLengths: [Int]?, numHeads: Int, headDim: Int,
            context: UnsafeMutablePointer<Float>, padding: UnsafeMutablePointer<Bool>) {
    let width = numHeads * headDim
    for b in 0..<batch {
        let base = qkv + b * seqLen * 3 * width
        var mask: UnsafePointer<Bool>?
        var queryRows = seqLen
        if let validLengths {
            queryRows = validLengths[b]
            for t in 0..<seqLen { padding[t] = t >= queryRows }
            mask = UnsafePointer(padding)
        }
        multiHeadAttention(query: base, key: base + width, value: base + 2 * width, ld: 3 * width,
                           seqLen: seqLen, numHeads: numHeads, headDim: headDim,
                           keyPadding: mask, queryRows: queryRows,
                           output: context + b * seqLen * width, ldOutput: width)
    }
}

extension ModelError {
    /// oneDNN could not take a layer: for fp32 the `onednn` backend cannot run, for bf16 the
    /// `bf16` precision cannot.
    static func oneDNNUnavailable(_ dataType: OneDNNDataType, _ error: any Error) -> ModelError {
        switch dataType {
        case .f32: return .unsupportedBackend(.onednn, reason: "\(error)")
        case .bf16: return .unsupportedPrecision(.bf16, reason: "\(error)")
        }
    }
}
