import Foundation

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
package final class GEMMLog: @unchecked Sendable {
    // @unchecked: the mutable state is only touched under `lock`.
    private let lock = NSLock()
    private var indexByShape: [GEMMShape: Int] = [:]
    private var shapes: [GEMMShape] = []
    private var counts: [Int] = []
    private var calls: [Int] = []
    private var nanoseconds: UInt64 = 0
    /// Longest call sequence kept (the seed-size model at B = 8 makes about 5000 calls);
    /// counts stay exact beyond it.
    package static let maxSequence = 1 << 20

    package init() {}

    package func record(_ shape: GEMMShape, nanoseconds elapsed: UInt64 = 0) {
        lock.lock()
        defer { lock.unlock() }
        let index: Int
        if let known = indexByShape[shape] {
            index = known
        } else {
            index = shapes.count
            indexByShape[shape] = index
            shapes.append(shape)
            counts.append(0)
        }
        counts[index] += 1
        nanoseconds += elapsed
        if calls.count < Self.maxSequence { calls.append(index) }
    }

    /// Each distinct shape with its number of calls, in order of first use.
    package var entries: [(shape: GEMMShape, count: Int)] {
        lock.lock()
        defer { lock.unlock() }
        return zip(shapes, counts).map { ($0, $1) }
    }

    /// The recorded calls in order, as indices into `entries`.
    package var sequence: [Int] {
        lock.lock()
        defer { lock.unlock() }
        return calls
    }

    /// Wall-clock seconds spent inside the recorded `sgemm` calls.
    package var seconds: Double {
        lock.lock()
        defer { lock.unlock() }
        return Double(nanoseconds) / 1e9
    }

    /// Total floating-point operations of all recorded calls.
    package var totalFlops: Double {
        entries.reduce(0) { $0 + $1.shape.flops * Double($1.count) }
    }
}
