import Foundation
import Kernels
import Tensors

/// The model runtime benchmark (issue 2, "Performance"): forward time of the seed-size model
/// with random weights, against `cblas_sgemm` alone on the same matrix shapes.
package enum ModelBenchmark {
    /// The seed-size configuration: ViT-B/16 at 224 px, BERT-base, fusion 768 with 8 heads.
    package static let seedConfig = ModelConfig(
        name: "seed-size", labels: ["no_match", "match"],
        imageEncoder: ImageEncoderConfig(imageSize: 224, patchSize: 16, hiddenSize: 768, numLayers: 12,
                                         numHeads: 12, intermediateSize: 3072),
        textEncoder: TextEncoderConfig(vocabSize: 30522, hiddenSize: 768, numLayers: 12, numHeads: 12,
                                       intermediateSize: 3072, maxPositionEmbeddings: 512),
        fusion: FusionConfig(hiddenSize: 768, numHeads: 8, gateHidden: 256))

    package struct GEMMTiming {
        package var shape: GEMMShape
        package var callsPerForward: Int
        package var secondsPerCall: Double
        package var gflops: Double { shape.flops / secondsPerCall / 1e9 }
    }

    package struct BatchResult {
        package var batch: Int
        package var textLength: Int
        /// Seconds per forward pass, sorted.
        package var forwardTimes: [Double]
        /// Seconds per replay of the forward pass's `sgemm` calls alone, sorted.
        package var gemmTimes: [Double]
        /// Median fraction of a forward pass's wall time spent inside `sgemm`.
        package var gemmShare: Double
        /// GEMM-bound ratio on process CPU time instead of wall time (less sensitive to other
        /// processes on a shared machine, but counts OpenBLAS threads' spin-waiting).
        package var cpuRatio: Double
        /// FLOPs of the `sgemm` products this runtime executes (out_proj runs on pooled rows; the
        /// attention products Q Kᵀ and P V run inside the fused attention kernel and are not counted).
        package var executedFlops: Double
        /// FLOPs by the reference's formula (`tools/reference/bench_torch.py` `model_flops`).
        package var modelFlops: Double
        package var gemmCalls: Int
        package var distinctShapes: Int
        package var shapes: [GEMMTiming]
        /// Median process CPU seconds (all threads) per forward pass.
        package var forwardCPUSeconds: Double

        package var median: Double { ModelBenchmark.median(forwardTimes) }
        package var gemmMedian: Double { ModelBenchmark.median(gemmTimes) }
        package var executedGFLOPS: Double { executedFlops / median / 1e9 }
        package var modelGFLOPS: Double { modelFlops / median / 1e9 }
        package var gemmGFLOPS: Double { executedFlops / gemmMedian / 1e9 }
        /// Forward throughput as a fraction of the GEMM-bound throughput (medians).
        package var gemmRatio: Double { gemmMedian / median }
    }

    /// Matmul FLOPs of one forward by the reference's formula (matches `model_flops`).
    package static func modelFlops(_ config: ModelConfig, batch: Int, textLength: Int) -> Double {
        func attention(_ n: Double, _ h: Double) -> Double { 2 * n * h * 3 * h + 4 * n * n * h + 2 * n * h * h }
        let image = config.imageEncoder, text = config.textEncoder, fusion = config.fusion
        let patches = Double(image.gridSize * image.gridSize), nImage = patches + 1, t = Double(textLength)
        let hi = Double(image.hiddenSize), ht = Double(text.hiddenSize), d = Double(fusion.hiddenSize)
        var f = 2 * patches * 3 * Double(image.patchSize * image.patchSize) * hi
        f += Double(image.numLayers) * (attention(nImage, hi) + 4 * nImage * hi * Double(image.intermediateSize))
        f += Double(text.numLayers) * (attention(t, ht) + 4 * t * ht * Double(text.intermediateSize))
        f += 2 * nImage * hi * d + 2 * t * ht * d
        f += attention(nImage + t, d)
        let g = Double(fusion.gateHidden)
        f += 4 * d * g + 4 * g + 2 * d * Double(config.labels.count)
        return Double(batch) * f
    }

    /// Random inputs: normal-ish pixels and `[CLS] … [SEP]` ids of exactly `textLength` tokens.
    package static func inputs(config: ModelConfig, batch: Int, textLength: Int, seed: UInt64) -> [ModelInput] {
        var generator = RandomWeights.Generator(seed: seed)
        let pixelCount = 3 * config.imageEncoder.imageSize * config.imageEncoder.imageSize
        let vocab = UInt64(config.textEncoder.vocabSize)
        let low: UInt64 = vocab > 2000 ? 1000 : 0  // past BERT's special and unused ids when there are any
        return (0..<batch).map { _ in
            let pixels = generator.uniform(count: pixelCount, halfWidth: 2)
            var ids = (0..<textLength).map { _ in Int32(low + generator.next() % (vocab - low)) }
            if vocab > 102 {
                ids[0] = 101  // [CLS] and [SEP] in BERT vocabularies
                ids[textLength - 1] = 102
            }
            return ModelInput(pixels: pixels, inputIds: ids)
        }
    }

    /// Runs one forward pass per batch size and returns the peak RSS afterwards: the model's
    /// memory (weights + activations) before `measure` allocates its replay operands.
    package static func warmUp(model: FusionModel, batches: [Int], textLength: Int) throws -> Int {
        for batch in batches {
            _ = try model.forward(inputs(config: model.config, batch: batch, textLength: textLength, seed: UInt64(batch)))
        }
        return peakResidentBytes()
    }

    /// Times `runs` forward passes and, interleaved with them (so both see the same load on
    /// a shared machine), `runs` replays of the same `sgemm` calls in the same order with
    /// nothing else: the GEMM-bound time of the forward pass. With `detail`, also times each
    /// distinct shape alone.
    package static func measure(model: FusionModel, batch: Int, textLength: Int, runs: Int,
                                detail: Bool = false) throws -> BatchResult {
        let inputs = inputs(config: model.config, batch: batch, textLength: textLength, seed: UInt64(batch))
        let log = GEMMLog()
        _ = try model.forward(inputs, log: log)  // warm-up, and the product list
        _ = try model.forward(inputs)
        let entries = log.entries
        let sequence = log.sequence
        let replay = GEMMReplay(shapes: entries.map(\.shape), sequence: sequence)
        replay.run(sequence)
        var forwardTimes: [Double] = [], gemmTimes: [Double] = [], gemmShares: [Double] = []
        var forwardCPU: [Double] = [], gemmCPU: [Double] = []
        for _ in 0..<runs {
            let timed = GEMMLog()
            let cpu0 = processCPUSeconds()
            let wall = try seconds { _ = try model.forward(inputs, log: timed) }
            let cpu1 = processCPUSeconds()
            forwardTimes.append(wall)
            gemmShares.append(timed.seconds / wall)
            gemmTimes.append(seconds { replay.run(sequence) })
            forwardCPU.append(cpu1 - cpu0)
            gemmCPU.append(processCPUSeconds() - cpu1)
        }
        let shapes = !detail ? [] : entries.enumerated().map { index, entry in
            GEMMTiming(shape: entry.shape, callsPerForward: entry.count, secondsPerCall: replay.timeAlone(index))
        }
        return BatchResult(batch: batch, textLength: textLength,
                           forwardTimes: forwardTimes.sorted(), gemmTimes: gemmTimes.sorted(),
                           gemmShare: median(gemmShares.sorted()),
                           cpuRatio: median(gemmCPU.sorted()) / max(median(forwardCPU.sorted()), 1e-12),
                           executedFlops: log.totalFlops,
                           modelFlops: modelFlops(model.config, batch: batch, textLength: textLength),
                           gemmCalls: sequence.count, distinctShapes: entries.count, shapes: shapes,
                           forwardCPUSeconds: median(forwardCPU.sorted()))
    }

    /// CPU seconds (user + system, all threads) used by this process so far.
    static func processCPUSeconds() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
    }

    private static func seconds(_ body: () throws -> Void) rethrows -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        try body()
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }

    /// Operands for replaying a forward pass's `sgemm` calls, filled with random values.
    ///
    /// B operands that are weights (`nn.Linear`: transposed, dense rows) get a region of their
    /// own per call, as in the model, where every weight matrix is read once per forward pass
    /// from memory; the others (attention keys and values, just computed in the model) share
    /// one hot region, as do all A and C operands. So the replay's caches are as warm as the model's,
    /// or warmer: its time is a lower bound for the products.
    private final class GEMMReplay {
        let shapes: [GEMMShape]
        let a: [Float], b: [Float]
        var c: [Float]
        /// Offset into `b` of each call's B operand, for the sequence it was built for.
        let bOffsets: [Int]

        init(shapes: [GEMMShape], sequence: [Int]) {
            self.shapes = shapes
            var generator = RandomWeights.Generator(seed: 7)
            func sizeB(_ s: GEMMShape) -> Int { (s.transposeB ? s.n : s.k) * s.ldb }
            func isWeight(_ s: GEMMShape) -> Bool { s.transposeB && s.ldb == s.k }
            let sizeA = shapes.map { ($0.transposeA ? $0.k : $0.m) * $0.lda }.max() ?? 1
            let shared = shapes.filter { !isWeight($0) }.map(sizeB).max() ?? 0
            var offsets: [Int] = []
            var next = shared
            for index in sequence {
                let size = sizeB(shapes[index])
                if !isWeight(shapes[index]) {
                    offsets.append(0)
                } else {
                    offsets.append(next)
                    next += size
                }
            }
            bOffsets = offsets
            a = generator.uniform(count: sizeA, halfWidth: 1)
            b = generator.uniform(count: max(next, 1), halfWidth: 1)
            c = [Float](repeating: 0, count: shapes.map { $0.m * $0.ldc }.max() ?? 1)
        }

        /// Replays `sequence` (the one given to `init`, or calls of a single shape with
        /// `distinctB == false`).
        func run(_ sequence: [Int], distinctB: Bool = true) {
            a.withUnsafeBufferPointer { pa in
                b.withUnsafeBufferPointer { pb in
                    c.withUnsafeMutableBufferPointer { pc in
                        guard let pa = pa.baseAddress, let pb = pb.baseAddress, let pc = pc.baseAddress else { return }
                        for (call, index) in sequence.enumerated() {
                            let s = shapes[index]
                            sgemm(transposeA: s.transposeA, transposeB: s.transposeB, m: s.m, n: s.n, k: s.k,
                                  a: pa, lda: s.lda, b: pb + (distinctB ? bOffsets[call] : 0), ldb: s.ldb,
                                  c: pc, ldc: s.ldc)
                        }
                    }
                }
            }
        }

        /// Median seconds per call of shape `index` alone, over five samples of ≥ 20 ms each.
        func timeAlone(_ index: Int) -> Double {
            var samples: [Double] = []
            var repetitions = 1
            run([index], distinctB: false)
            while samples.count < 5 {
                let batch = [Int](repeating: index, count: repetitions)
                let elapsed = ModelBenchmark.seconds { run(batch, distinctB: false) }
                if elapsed < 0.02 && samples.isEmpty && repetitions < 1 << 16 {
                    repetitions *= 4
                    continue
                }
                samples.append(elapsed / Double(repetitions))
            }
            return ModelBenchmark.median(samples.sorted())
        }
    }

    /// Peak resident set size of this process in bytes (getrusage).
    package static func peakResidentBytes() -> Int {
        var usage = rusage()
        #if os(Linux)
        getrusage(RUSAGE_SELF.rawValue, &usage)
        #else
        getrusage(RUSAGE_SELF, &usage)
        #endif
        #if os(Linux)
        return usage.ru_maxrss * 1024  // kilobytes on Linux
        #else
        return usage.ru_maxrss  // bytes on macOS
        #endif
    }

    /// Current resident set size in bytes (Linux /proc; 0 elsewhere).
    package static func currentResidentBytes() -> Int {
        guard let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = statm.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    static func median(_ sorted: [Double]) -> Double {
        guard !sorted.isEmpty else { return 0 }
        let mid = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
    }
}
