import Testing
@testable import Kernels

struct BLASTests {
    @Test(arguments: [(false, false), (false, true), (true, false), (true, true)])
    func sgemmHonoursTransposesAndStrides(transposeA: Bool, transposeB: Bool) {
        var random = TestRandom(seed: 3)
        let m = 5, n = 7, k = 9
        let lda = (transposeA ? m : k) + 3, ldb = (transposeB ? k : n) + 1, ldc = n + 2
        let a = random.floats((transposeA ? k : m) * lda)
        let b = random.floats((transposeB ? n : k) * ldb)
        var c = [Float](repeating: 1, count: m * ldc)
        let log = GEMMLog()
        a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in c.withUnsafeMutableBufferPointer { pc in
            sgemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: 2,
                  a: pa.baseAddress!, lda: lda, b: pb.baseAddress!, ldb: ldb, beta: 0.5,
                  c: pc.baseAddress!, ldc: ldc, log: log)
        } } }
        let product = Naive.matmul(a, lda: lda, transposeA: transposeA, b, ldb: ldb, transposeB: transposeB, m: m, n: n, k: k)
        for i in 0..<m {
            let row = Array(c[i * ldc..<i * ldc + n])
            #expect(maxAbsDiff(row, product[i * n..<(i + 1) * n].map { 2 * $0 + 0.5 }) < 1e-5)
            #expect(Array(c[i * ldc + n..<(i + 1) * ldc]) == [1, 1])  // padding untouched
        }
        #expect(log.entries.count == 1 && log.entries[0].count == 1)
        #expect(log.totalFlops == Double(2 * m * n * k))
    }

    @Test func linearUsesWeightsTransposedInPlace() {
        var random = TestRandom(seed: 11)
        let rows = 4, inFeatures = 6, outFeatures = 3
        let x = random.floats(rows * inFeatures), w = random.floats(outFeatures * inFeatures), bias = random.floats(outFeatures)
        var y = [Float](repeating: .nan, count: rows * outFeatures)
        x.withUnsafeBufferPointer { px in w.withUnsafeBufferPointer { pw in bias.withUnsafeBufferPointer { pb in
            y.withUnsafeMutableBufferPointer { py in
                linear(input: px.baseAddress!, rows: rows, inFeatures: inFeatures, weight: pw.baseAddress!,
                       bias: pb.baseAddress!, outFeatures: outFeatures, output: py.baseAddress!)
            }
        } } }
        let expected = Naive.matmul(x, lda: inFeatures, transposeA: false, w, ldb: inFeatures, transposeB: true,
                                    m: rows, n: outFeatures, k: inFeatures).enumerated().map { $1 + Double(bias[$0 % outFeatures]) }
        #expect(maxAbsDiff(y, expected) < 1e-5)
    }

    @Test func threadCountCanBeSet() {
        let before = blasThreads()
        setBLASThreads(1)
        #expect(blasThreads() == 1)
        setBLASThreads(0)  // clamped to 1
        #expect(blasThreads() == 1)
        setBLASThreads(before)
    }
}
