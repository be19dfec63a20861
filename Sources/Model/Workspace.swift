/// A heap block of floats owned by a `Workspace`, freed with it.
final class FloatBlock {
    let pointer: UnsafeMutablePointer<Float>
    let capacity: Int

    init(capacity: Int) {
        self.capacity = max(capacity, 1)
        pointer = .allocate(capacity: self.capacity)
        pointer.initialize(repeating: 0, count: self.capacity)
    }

    deinit { pointer.deallocate() }
}

/// Activation buffers for one forward pass, reused across calls.
///
/// A forward pass needs the same buffers every time for a given (batch, text length); they are
/// allocated once and grown when a larger batch arrives, so steady-state serving allocates
/// nothing per request. The phases share scratch buffers (the image encoder's, then the text
/// encoder's, then fusion's), so memory is the largest phase plus the two encoder outputs.
/// Not thread-safe: `FusionModel` hands each concurrent call its own workspace.
final class Workspace: @unchecked Sendable {
    // @unchecked: owned by one forward pass at a time; it crosses threads only through
    // FusionModel's pool of idle workspaces, under that pool's lock.
    struct Size: Equatable {
        var imageOut = 0, textOut = 0, patches = 0
        var hidden = 0, qkv = 0, context = 0, mlp = 0, padding = 0
        var fused = 0, pooled = 0, small = 0

        static func needed(config: ModelConfig, batch: Int, textLength: Int) -> Size {
            let image = config.imageEncoder, text = config.textEncoder, d = config.fusion.hiddenSize
            let imageRows = batch * image.tokenCount
            let textRows = batch * textLength
            let fusedLength = image.tokenCount + textLength
            let fusedRows = batch * fusedLength
            var s = Size()
            s.imageOut = imageRows * image.hiddenSize
            s.textOut = textRows * text.hiddenSize
            s.patches = batch * (image.tokenCount - 1) * 3 * image.patchSize * image.patchSize
            s.hidden = imageRows * image.hiddenSize
            s.qkv = max(imageRows * 3 * image.hiddenSize, textRows * 3 * text.hiddenSize, fusedRows * 3 * d)
            s.context = max(imageRows * image.hiddenSize, textRows * text.hiddenSize, fusedRows * d)
            s.mlp = max(imageRows * image.intermediateSize, textRows * text.intermediateSize)
            s.padding = fusedLength
            s.fused = fusedRows * d
            s.pooled = batch * 2 * d
            s.small = batch * max(config.fusion.gateHidden, 2, config.labels.count, d)
            return s
        }

        func fits(in other: Size) -> Bool {
            imageOut <= other.imageOut && textOut <= other.textOut && patches <= other.patches
                && hidden <= other.hidden && qkv <= other.qkv && context <= other.context && mlp <= other.mlp
                && padding <= other.padding && fused <= other.fused
                && pooled <= other.pooled && small <= other.small
        }

        /// Elementwise maximum, so a grown workspace still fits every earlier shape.
        func union(_ other: Size) -> Size {
            Size(imageOut: max(imageOut, other.imageOut), textOut: max(textOut, other.textOut),
                 patches: max(patches, other.patches), hidden: max(hidden, other.hidden), qkv: max(qkv, other.qkv),
                 context: max(context, other.context), mlp: max(mlp, other.mlp),
                 padding: max(padding, other.padding), fused: max(fused, other.fused),
                 pooled: max(pooled, other.pooled), small: max(small, other.small))
        }

        var totalFloats: Int {
            imageOut + textOut + patches + hidden + qkv + context + mlp + padding + fused + 2 * pooled + 3 * small
        }
    }

    private(set) var size = Size()
    private(set) var imageOut = FloatBlock(capacity: 0)
    private(set) var textOut = FloatBlock(capacity: 0)
    private(set) var patches = FloatBlock(capacity: 0)
    private(set) var hidden = FloatBlock(capacity: 0)
    private(set) var qkv = FloatBlock(capacity: 0)
    private(set) var context = FloatBlock(capacity: 0)
    private(set) var mlp = FloatBlock(capacity: 0)
    private(set) var fused = FloatBlock(capacity: 0)
    private(set) var pooled = FloatBlock(capacity: 0)
    private(set) var pooledOut = FloatBlock(capacity: 0)
    private(set) var gate = FloatBlock(capacity: 0)
    private(set) var embedding = FloatBlock(capacity: 0)
    private(set) var logits = FloatBlock(capacity: 0)
    private(set) var padding = UnsafeMutablePointer<Bool>.allocate(capacity: 1)

    deinit { padding.deallocate() }

    /// Makes every buffer at least as large as `needed` requires.
    func reserve(_ needed: Size) {
        guard !needed.fits(in: size) else { return }
        let s = needed.union(size)
        imageOut = FloatBlock(capacity: s.imageOut)
        textOut = FloatBlock(capacity: s.textOut)
        patches = FloatBlock(capacity: s.patches)
        hidden = FloatBlock(capacity: s.hidden)
        qkv = FloatBlock(capacity: s.qkv)
        context = FloatBlock(capacity: s.context)
        mlp = FloatBlock(capacity: s.mlp)
        fused = FloatBlock(capacity: s.fused)
        pooled = FloatBlock(capacity: s.pooled)
        pooledOut = FloatBlock(capacity: s.pooled)
        gate = FloatBlock(capacity: s.small)
        embedding = FloatBlock(capacity: s.small)
        logits = FloatBlock(capacity: s.small)
        padding.deallocate()
        padding = .allocate(capacity: max(s.padding, 1))
        padding.initialize(repeating: false, count: max(s.padding, 1))
        size = s
    }
}
