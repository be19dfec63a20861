import Locking

/// The shape of one `sgemm` call, enough to replay it in isolation.
package struct GEMMShape: Hashable, Sendable, CustomStringConvertible {
    package var transposeA: Bool
    package var transposeB: Bool
    package var m: Int
    package var n: Int
    package var k: Int
    package var lda: Int
    package var ldb: Int
    package var ldc: Int

    /// Floating-point operations of the product (a multiply and an add per term).
    package var flops: Double { 2 * Double(m) * Double(n) * Double(k) }

    package var description: String {
        "\(m)x\(n)x\(k)\(transposeA ? " Aᵀ" : "")\(transposeB ? " Bᵀ" : "")"
    }
}

/// Records the `sgemm` calls of a forward pass, for the benchmark's FLOP count and for
/// replaying the same products without the rest of the model. Thread-safe.
package final class GEMMLog: Sendable {
    private struct State {
        var indexByShape: [GEMMShape: Int] = [:]
        var shapes: [GEMMShape] = []
        var counts: [Int] = []
        var calls: [Int] = []
        var nanoseconds: UInt64 = 0
    }

    private let state = Locked(State())
    /// Longest call sequence kept (the seed-size model at B = 8 makes about 5000 calls);
    /// counts stay exact beyond it.
    package static let maxSequence = 1 << 20

    package init() {}

    package func record(_ shape: GEMMShape, nanoseconds elapsed: UInt64 = 0) {
        state.withLock { state in
            let index: Int
            if let known = state.indexByShape[shape] {
                index = known
            } else {
                index = state.shapes.count
                state.indexByShape[shape] = index
                state.shapes.append(shape)
                state.counts.append(0)
            }
            state.counts[index] += 1
            state.nanoseconds += elapsed
            if state.calls.count < Self.maxSequence { state.calls.append(index) }
        }
    }

    /// Each distinct shape with its number of calls, in order of first use.
    package var entries: [(shape: GEMMShape, count: Int)] {
        state.withLock { state in zip(state.shapes, state.counts).map { ($0, $1) } }
    }

    /// The recorded calls in order, as indices into `entries`.
    package var sequence: [Int] { state.withLock(\.calls) }

    /// Wall-clock seconds spent inside the recorded `sgemm` calls.
    package var seconds: Double { state.withLock { Double($0.nanoseconds) / 1e9 } }

    /// Total floating-point operations of all recorded calls.
    package var totalFlops: Double {
        entries.reduce(0) { $0 + $1.shape.flops * Double($1.count) }
    }
}
