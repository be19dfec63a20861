import Dispatch
import Locking
import Testing
@testable import Kernels

struct OneDNNLinearTests {
    /// `output += input · Wᵀ` in Double, on strided rows.
    private static func reference(_ input: [Float], rows: Int, ldInput: Int, weight: [Float], n: Int, k: Int,
                                  initial: [Float], ldOutput: Int) -> [Float] {
        var output = initial
        for r in 0..<rows {
            for j in 0..<n {
                var sum = Double(initial[r * ldOutput + j])
                for i in 0..<k { sum += Double(input[r * ldInput + i]) * Double(weight[j * k + i]) }
                output[r * ldOutput + j] = Float(sum)
            }
        }
        return output
    }

    @Test func oneDNNRunsHere() {
        #expect(checkOneDNNMatmul() == nil)
    }

    /// Dense and strided rows (a Q/K/V column block of a wider buffer), one row to enough rows
    /// to split over threads, with the output accumulated onto what it held (bias or residual);
    /// columns outside the block stay untouched.
    @Test(arguments: [(1, 0, 0), (7, 0, 0), (197, 0, 0), (197, 5, 64), (1100, 3, 17)])
    func matchesTheProductOnStridedRows(rows: Int, extraInput: Int, extraOutput: Int) throws {
        var random = TestRandom(seed: UInt64(rows * 31 + extraOutput))
        let n = 48, k = 40
        let ldInput = k + extraInput, ldOutput = n + extraOutput
        let weight = random.floats(n * k, scale: 1)
        let input = random.floats(rows * ldInput, scale: 1)
        let initial = random.floats(rows * ldOutput, scale: 1)
        let layer = try weight.withUnsafeBufferPointer { try OneDNNLinear(weight: $0.baseAddress!, outFeatures: n, inFeatures: k) }
        var output = initial
        input.withUnsafeBufferPointer { x in
            output.withUnsafeMutableBufferPointer { y in
                layer.accumulate(x.baseAddress!, rows: rows, ldInput: ldInput, into: y.baseAddress!, ldOutput: ldOutput)
            }
        }
        let expected = Self.reference(input, rows: rows, ldInput: ldInput, weight: weight, n: n, k: k,
                                      initial: initial, ldOutput: ldOutput)
        var worst: Float = 0
        for r in 0..<rows {
            for j in 0..<ldOutput {
                let index = r * ldOutput + j
                if j < n {
                    worst = max(worst, abs(output[index] - expected[index]))
                } else {
                    #expect(output[index] == initial[index], "row \(r) column \(j) outside the block was written")
                }
            }
        }
        #expect(worst <= 1e-4, "max |Δ| \(worst) for \(rows) rows")
    }

    /// oneDNN 2.6 has no bf16 matmul for a CPU without AVX-512, and the `bf16` precision needs
    /// AVX512_BF16; where the CPU has it, the bf16 layer is the product of the bf16-rounded
    /// input and weight, summed in fp32, on strided rows like the fp32 layer.
    @Test func bf16IsTheProductOfRoundedOperands() throws {
        guard BFloat16.cpuHasAVX512BF16 else {
            print("bf16: this CPU has no AVX512_BF16; the bf16 product is checked on CPUs with it")
            return
        }
        #expect(checkOneDNNMatmul(dataType: .bf16) == nil)
        var random = TestRandom(seed: 77)
        let rows = 197, n = 48, k = 40, ldInput = k + 5, ldOutput = n + 3
        let weight = random.floats(n * k, scale: 1)
        let input = random.floats(rows * ldInput, scale: 1)
        let initial = random.floats(rows * ldOutput, scale: 1)
        let layer = try weight.withUnsafeBufferPointer {
            try OneDNNLinear(weight: $0.baseAddress!, outFeatures: n, inFeatures: k, dataType: .bf16)
        }
        var output = initial
        input.withUnsafeBufferPointer { x in
            output.withUnsafeMutableBufferPointer { y in
                layer.accumulate(x.baseAddress!, rows: rows, ldInput: ldInput, into: y.baseAddress!, ldOutput: ldOutput)
            }
        }
        let round = { (values: [Float]) in values.map { BFloat16.float(BFloat16.bits($0)) } }
        let rounded = Self.reference(round(input), rows: rows, ldInput: ldInput, weight: round(weight), n: n, k: k,
                                     initial: initial, ldOutput: ldOutput)
        let exact = Self.reference(input, rows: rows, ldInput: ldInput, weight: weight, n: n, k: k,
                                   initial: initial, ldOutput: ldOutput)
        var worstRounded: Float = 0, worstExact: Float = 0
        for r in 0..<rows {
            for j in 0..<ldOutput {
                let index = r * ldOutput + j
                if j < n {
                    worstRounded = max(worstRounded, abs(output[index] - rounded[index]))
                    worstExact = max(worstExact, abs(output[index] - exact[index]))
                } else {
                    #expect(output[index] == initial[index], "row \(r) column \(j) outside the block was written")
                }
            }
        }
        #expect(worstRounded <= 1e-4, "max |Δ| \(worstRounded) against the rounded operands' product")
        #expect(worstExact > 1e-4, "the bf16 layer matched fp32 exactly: it did not round")
        #expect(worstExact < 0.1, "max |Δ| \(worstExact) against fp32")
    }

    /// The same layer used from several threads at once (a model's forward may be).
    @Test func concurrentProductsAgree() throws {
        var random = TestRandom(seed: 5)
        let n = 32, k = 24, rows = 64
        let weight = random.floats(n * k, scale: 1)
        let input = random.floats(rows * k, scale: 1)
        let layer = try weight.withUnsafeBufferPointer { try OneDNNLinear(weight: $0.baseAddress!, outFeatures: n, inFeatures: k) }
        @Sendable func product() -> [Float] {
            var output = [Float](repeating: 0, count: rows * n)
            input.withUnsafeBufferPointer { x in
                output.withUnsafeMutableBufferPointer { y in
                    layer.accumulate(x.baseAddress!, rows: rows, ldInput: k, into: y.baseAddress!, ldOutput: n)
                }
            }
            return output
        }
        let expected = product()
        let results = Locked<[[Float]]>([])
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            let mine = product()
            results.withLock { $0.append(mine) }
        }
        #expect(results.withLock { $0 }.allSatisfy { $0 == expected })
    }
}
