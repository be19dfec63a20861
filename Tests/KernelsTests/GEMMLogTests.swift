import Testing
@testable import Kernels

struct GEMMLogTests {
    @Test func countsByShapeInFirstUseOrder() {
        let log = GEMMLog()
        let a = GEMMShape(transposeA: false, transposeB: true, m: 2, n: 3, k: 4, lda: 4, ldb: 4, ldc: 3)
        var b = a
        b.m = 10
        log.record(b)
        log.record(a)
        log.record(b)
        #expect(log.entries.map(\.shape) == [b, a])
        #expect(log.entries.map(\.count) == [2, 1])
        let expectedFlops: Double = 2 * 240 + 48
        #expect(log.totalFlops == expectedFlops)
        #expect(a.description == "2x3x4 Bᵀ")
    }
}

struct GEMMLogSequenceTests {
    @Test func keepsTheCallOrder() {
        let log = GEMMLog()
        let a = GEMMShape(transposeA: false, transposeB: false, m: 1, n: 1, k: 1, lda: 1, ldb: 1, ldc: 1)
        var b = a
        b.k = 2
        for shape in [a, b, b, a] { log.record(shape) }
        #expect(log.sequence == [0, 1, 1, 0])
    }
}
