import Foundation

/// Deterministic pseudo-random numbers for test inputs (SplitMix64).
struct TestRandom {
    private var state: UInt64
    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [-scale, scale).
    mutating func float(_ scale: Float = 1) -> Float {
        (Float(next() >> 40) / Float(1 << 24) * 2 - 1) * scale
    }

    mutating func floats(_ count: Int, scale: Float = 1) -> [Float] {
        (0..<count).map { _ in float(scale) }
    }
}

/// Naive double-precision implementations the kernels are checked against.
enum Naive {
    /// C[m,n] = op(A) op(B), row-major with explicit strides.
    static func matmul(_ a: [Float], lda: Int, transposeA: Bool, _ b: [Float], ldb: Int, transposeB: Bool,
                       m: Int, n: Int, k: Int) -> [Double] {
        var c = [Double](repeating: 0, count: m * n)
        for i in 0..<m {
            for j in 0..<n {
                var s = 0.0
                for p in 0..<k {
                    let av = transposeA ? a[p * lda + i] : a[i * lda + p]
                    let bv = transposeB ? b[j * ldb + p] : b[p * ldb + j]
                    s += Double(av) * Double(bv)
                }
                c[i * n + j] = s
            }
        }
        return c
    }

    static func gelu(_ x: Double) -> Double { 0.5 * x * (1 + erf(x / 2.0.squareRoot())) }

    static func layerNorm(_ x: [Float], gamma: [Float], beta: [Float], eps: Double) -> [Double] {
        let mean = x.reduce(0.0) { $0 + Double($1) } / Double(x.count)
        let variance = x.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / Double(x.count)
        return x.indices.map { (Double(x[$0]) - mean) / (variance + eps).squareRoot() * Double(gamma[$0]) + Double(beta[$0]) }
    }

    static func softmax(_ x: [Double]) -> [Double] {
        let m = x.max() ?? 0
        let e = x.map { Foundation.exp($0 - m) }
        let s = e.reduce(0, +)
        return e.map { $0 / s }
    }

    /// Attention for one sequence: q,k,v [T, H·dh] dense; mask true = hidden key.
    static func attention(q: [Float], k: [Float], v: [Float], seqLen: Int, heads: Int, headDim: Int,
                          mask: [Bool]?) -> [Double] {
        let width = heads * headDim
        var out = [Double](repeating: 0, count: seqLen * width)
        for h in 0..<heads {
            for i in 0..<seqLen {
                var scores: [Double] = []
                var keys: [Int] = []
                for j in 0..<seqLen where !(mask?[j] ?? false) {
                    var s = 0.0
                    for d in 0..<headDim { s += Double(q[i * width + h * headDim + d]) * Double(k[j * width + h * headDim + d]) }
                    scores.append(s / Double(headDim).squareRoot())
                    keys.append(j)
                }
                let p = softmax(scores)
                for d in 0..<headDim {
                    var s = 0.0
                    for (pi, j) in zip(p, keys) { s += pi * Double(v[j * width + h * headDim + d]) }
                    out[i * width + h * headDim + d] = s
                }
            }
        }
        return out
    }
}

/// Largest |a - b| over two equally long sequences.
func maxAbsDiff(_ a: [Float], _ b: [Double]) -> Double {
    precondition(a.count == b.count)
    return zip(a, b).reduce(0) { max($0, abs(Double($1.0) - $1.1)) }
}
