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

/// Counts the `sgemm` calls of a forward pass by shape, for the benchmark's FLOP count and
/// for replaying the same products alone. Thread-safe.
package final class GEMMLog: @unchecked Sendable {
    // @unchecked: `counts` is only touched under `lock`.
    private let lock = NSLock()
    private var counts: [GEMMShape: Int] = [:]
    private var order: [GEMMShape] = []

    package init() {}

    package func record(_ shape: GEMMShape) {
        lock.lock()
        defer { lock.unlock() }
        if counts[shape] == nil { order.append(shape) }
        counts[shape, default: 0] += 1
    }

    /// Each distinct shape with its number of calls, in order of first use.
    package var entries: [(shape: GEMMShape, count: Int)] {
        lock.lock()
        defer { lock.unlock() }
        return order.map { ($0, counts[$0] ?? 0) }
    }

    /// Total floating-point operations of all recorded calls.
    package var totalFlops: Double {
        entries.reduce(0) { $0 + $1.shape.flops * Double($1.count) }
    }
}
