import Tensors

/// Random weights for a configuration, generated in memory (for the benchmark and tests).
///
/// Matrices and embeddings are uniform with standard deviation 0.02 (the usual transformer
/// initialisation), biases small, LayerNorm scales 1 and shifts 0, so activations stay in a
/// realistic range through many layers. Each tensor's array becomes the tensor's storage: no copy.
package enum RandomWeights {
    package static func make(config: ModelConfig, seed: UInt64 = 0x5EED) -> [String: Tensor] {
        var generator = Generator(seed: seed)
        var tensors: [String: Tensor] = [:]
        for entry in WeightDeclaration(config: config).entries {
            let count = entry.shape.reduce(1, *)
            let values: [Float]
            switch entry.role {
            case .matrix, .embedding: values = generator.uniform(count: count, halfWidth: 0.02 * 3.0.squareRoot())
            case .bias: values = generator.uniform(count: count, halfWidth: 0.01)
            case .normScale: values = [Float](repeating: 1, count: count)
            case .normShift: values = [Float](repeating: 0, count: count)
            }
            tensors[entry.name] = Tensor(shape: entry.shape, validatedValues: values)
        }
        return tensors
    }

    /// xorshift64*: fast, and good enough for weights.
    package struct Generator {
        private var state: UInt64

        package init(seed: UInt64) { state = seed == 0 ? 0x9E37_79B9_7F4A_7C15 : seed }

        package mutating func next() -> UInt64 {
            state ^= state >> 12
            state ^= state << 25
            state ^= state >> 27
            return state &* 0x2545_F491_4F6C_DD1D
        }

        /// `count` values uniform in [-halfWidth, halfWidth).
        package mutating func uniform(count: Int, halfWidth: Double) -> [Float] {
            guard count > 0 else { return [] }  // see ByteReader.raw: no write into the empty-array singleton
            let scale = Float(2 * halfWidth) / Float(1 << 24), offset = Float(halfWidth)
            return [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
                var i = 0
                while i < count {
                    let bits = next()
                    buffer[i] = Float(bits >> 40) * scale - offset
                    if i + 1 < count { buffer[i + 1] = Float((bits >> 16) & 0xFF_FFFF) * scale - offset }
                    i += 2
                }
                initialized = count
            }
        }
    }
}
