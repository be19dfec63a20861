import Foundation
import Testing
@testable import Kernels
import KernelsAVX2

/// `attendHead` directly, both compiled copies: query and key counts that differ, strided rows,
/// masks, and the exp's range (scores far apart).
struct AttentionHeadTests {
    private typealias Head = @Sendable (UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>, Int, Int, Int, Int,
                                        UnsafePointer<Bool>?, UnsafeMutablePointer<Float>, Int) -> Void

    private static let copies: [(String, Head)] = {
        var copies: [(String, Head)] = [("baseline", { Kernels.attendHead(query: $0, key: $1, value: $2, ld: $3, rows: $4,
                                                                          keyCount: $5, headDim: $6, keyPadding: $7,
                                                                          output: $8, ldOutput: $9) })]
        if AttentionKernel.best == .avx2 {
            copies.append(("avx2", { KernelsAVX2.attendHead(query: $0, key: $1, value: $2, ld: $3, rows: $4,
                                                            keyCount: $5, headDim: $6, keyPadding: $7,
                                                            output: $8, ldOutput: $9) }))
        }
        return copies
    }()

    /// Double-precision attention of one head over `[n, ld]` rows (columns 0..<headDim used).
    private func naive(q: [Float], k: [Float], v: [Float], ld: Int, rows: Int, keyCount: Int, headDim: Int,
                       mask: [Bool]?) -> [Double] {
        var out = [Double](repeating: 0, count: rows * headDim)
        for i in 0..<rows {
            let keys = (0..<keyCount).filter { !(mask?[$0] ?? false) }
            let scores = keys.map { j in
                (0..<headDim).reduce(0.0) { $0 + Double(q[i * ld + $1]) * Double(k[j * ld + $1]) } / Double(headDim).squareRoot()
            }
            let p = Naive.softmax(scores)
            for d in 0..<headDim {
                out[i * headDim + d] = zip(p, keys).reduce(0.0) { $0 + $1.0 * Double(v[$1.1 * ld + d]) }
            }
        }
        return out
    }

    @Test(arguments: [(3, 29, 16, false), (9, 2, 16, true), (1, 1, 64, false), (13, 40, 24, true), (6, 17, 7, true)])
    func matchesNaive(rows: Int, keyCount: Int, headDim: Int, masked: Bool) {
        let ld = headDim + 5
        var random = TestRandom(seed: UInt64(rows * 1000 + keyCount))
        let n = max(rows, keyCount)
        let q = random.floats(n * ld, scale: 3), k = random.floats(n * ld, scale: 3), v = random.floats(n * ld)
        var mask: [Bool]? = nil
        if masked { mask = (0..<keyCount).map { $0 % 4 == 1 && $0 != keyCount - 1 } }
        let expected = naive(q: q, k: k, v: v, ld: ld, rows: rows, keyCount: keyCount, headDim: headDim, mask: mask)
        for (name, head) in Self.copies {
            let ldOut = headDim + 3
            var out = [Float](repeating: .nan, count: rows * ldOut)
            q.withUnsafeBufferPointer { qp in k.withUnsafeBufferPointer { kp in v.withUnsafeBufferPointer { vp in
                (mask ?? []).withUnsafeBufferPointer { mp in out.withUnsafeMutableBufferPointer { op in
                    head(qp.baseAddress!, kp.baseAddress!, vp.baseAddress!, ld, rows, keyCount, headDim,
                         masked ? mp.baseAddress : nil, op.baseAddress!, ldOut)
                } }
            } } }
            let got = (0..<rows).flatMap { r in out[r * ldOut..<r * ldOut + headDim] }
            #expect(maxAbsDiff(got, expected) < 1e-5, "\(name) copy")
            // Columns past headDim in the output rows are not written.
            #expect((0..<rows).allSatisfy { r in out[r * ldOut + headDim..<(r + 1) * ldOut].allSatisfy(\.isNaN) }, "\(name) copy")
        }
    }

    @Test func scoresFarApartGiveTheLargestKeysValue() {
        // exp(score - max) underflows to 0 for every key but the best: the output is its value
        // row, with no NaN from the -87 clamp or the hidden keys.
        let headDim = 16, keyCount = 21
        var k = [Float](repeating: 0, count: keyCount * headDim)
        for j in 0..<keyCount { k[j * headDim] = Float(j) * 1000 }  // scores 250 apart
        let q = [Float](repeating: 1, count: headDim)
        let v = (0..<keyCount * headDim).map { Float($0) }
        let mask = (0..<keyCount).map { $0 == keyCount - 1 }  // hides the largest; key 19 wins
        for (name, head) in Self.copies {
            var out = [Float](repeating: .nan, count: headDim)
            q.withUnsafeBufferPointer { qp in k.withUnsafeBufferPointer { kp in v.withUnsafeBufferPointer { vp in
                mask.withUnsafeBufferPointer { mp in out.withUnsafeMutableBufferPointer { op in
                    head(qp.baseAddress!, kp.baseAddress!, vp.baseAddress!, headDim, 1, keyCount, headDim,
                         mp.baseAddress, op.baseAddress!, headDim)
                } }
            } } }
            #expect(out == Array(v[19 * headDim..<20 * headDim]), "\(name) copy")
        }
    }

    /// `attendHeadPooled` (probability rows averaged, then one product by V per group) against the
    /// naive attention's output rows averaged per group, both compiled copies: groups of one row,
    /// of more rows than a block, a group ending mid-block, an empty group, masks, odd head sizes.
    @Test(arguments: [(0..<1, 1..<9, 29, 16, false), (0..<13, 13..<17, 17, 16, true), (2..<7, 7..<7, 40, 24, true),
                      (0..<5, 5..<11, 11, 7, false)])
    func pooledMatchesTheMeanOfTheRows(first: Range<Int>, second: Range<Int>, keyCount: Int, headDim: Int, masked: Bool) {
        let ld = headDim + 5
        let rows = max(first.upperBound, second.upperBound)
        var random = TestRandom(seed: UInt64(rows * 1000 + keyCount + headDim))
        let n = max(rows, keyCount)
        let q = random.floats(n * ld, scale: 3), k = random.floats(n * ld, scale: 3), v = random.floats(n * ld)
        var mask: [Bool]? = nil
        if masked { mask = (0..<keyCount).map { $0 % 4 == 1 && $0 != keyCount - 1 } }
        let full = naive(q: q, k: k, v: v, ld: ld, rows: rows, keyCount: keyCount, headDim: headDim, mask: mask)
        let groups = [first, second]
        let expected = groups.flatMap { group in
            (0..<headDim).map { c in group.isEmpty ? 0 : group.reduce(0.0) { $0 + full[$1 * headDim + c] } / Double(group.count) }
        }
        var copies: [(String, AttentionKernel)] = [("baseline", .baseline)]
        if AttentionKernel.best == .avx2 { copies.append(("avx2", .avx2)) }
        for (name, kernel) in copies {
            let ldOut = headDim + 3
            var out = [Float](repeating: .nan, count: groups.count * ldOut)
            q.withUnsafeBufferPointer { qp in k.withUnsafeBufferPointer { kp in v.withUnsafeBufferPointer { vp in
                (mask ?? []).withUnsafeBufferPointer { mp in out.withUnsafeMutableBufferPointer { op in
                    let arguments = (qp.baseAddress!, kp.baseAddress!, vp.baseAddress!, masked ? mp.baseAddress : nil, op.baseAddress!)
                    switch kernel {
                    case .avx2:
                        KernelsAVX2.attendHeadPooled(query: arguments.0, key: arguments.1, value: arguments.2, ld: ld, keyCount: keyCount,
                                                     headDim: headDim, keyPadding: arguments.3, groups: groups,
                                                     output: arguments.4, ldOutput: ldOut)
                    case .baseline:
                        Kernels.attendHeadPooled(query: arguments.0, key: arguments.1, value: arguments.2, ld: ld, keyCount: keyCount,
                                                 headDim: headDim, keyPadding: arguments.3, groups: groups,
                                                 output: arguments.4, ldOutput: ldOut)
                    }
                } }
            } } }
            let got = groups.indices.flatMap { g in out[g * ldOut..<g * ldOut + headDim] }
            #expect(maxAbsDiff(got, expected) < 1e-5, "\(name) copy")
            #expect(groups.indices.allSatisfy { g in out[g * ldOut + headDim..<(g + 1) * ldOut].allSatisfy(\.isNaN) }, "\(name) copy")
        }
    }
}
