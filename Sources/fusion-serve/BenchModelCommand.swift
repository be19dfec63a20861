import ArgumentParser
import Foundation
import Model

/// `fusion-serve bench-model`: the model runtime benchmark of issue 2 (see docs/benchmarks.md).
struct BenchModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-model",
        abstract: "Time the seed-size model (random weights) against cblas_sgemm on its own GEMM shapes.")

    @Option(help: "Threads for matrix products (OpenBLAS).")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    @Option(help: "Timed forward passes per batch size (the median is reported).")
    var runs: Int = 7

    @Option(name: .customLong("text-length"), help: "Tokens per text, [CLS] and [SEP] included.")
    var textLength: Int = 32

    @Option(help: "Comma-separated batch sizes.")
    var batches: String = "1,8"

    @Flag(name: .customLong("gemm-detail"), help: "Print every GEMM shape with its standalone speed.")
    var gemmDetail = false

    func validate() throws {
        guard (1...256).contains(threads) else { throw ValidationError("--threads must be in 1...256") }
        guard (1...1000).contains(runs) else { throw ValidationError("--runs must be in 1...1000") }
        guard (2...512).contains(textLength) else { throw ValidationError("--text-length must be in 2...512") }
        guard parsedBatches() != nil else { throw ValidationError("--batches must be a comma-separated list of sizes in 1...64") }
    }

    private func parsedBatches() -> [Int]? {
        let sizes = batches.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !sizes.isEmpty, sizes.count == batches.split(separator: ",").count,
              sizes.allSatisfy({ (1...64).contains($0) }) else { return nil }
        return sizes
    }

    func run() throws {
        FusionModel.setThreads(threads)
        let config = ModelBenchmark.seedConfig
        let rssBefore = ModelBenchmark.currentResidentBytes()
        let start = Date()
        let model = try FusionModel(config: config, tensors: RandomWeights.make(config: config))
        let weightBytes = model.weightBytes
        print("seed-size model: ViT-B/16 224 + BERT-base (12 layers each), fusion 768/8 heads, gate 256")
        print(String(format: "weights: %.1f M parameters, %.1f MiB (random, generated in %.1f s); threads %d; T = %d; median of %d runs",
                     Double(weightBytes / 4) / 1e6, mib(weightBytes), Date().timeIntervalSince(start), threads, textLength, runs))
        let sizes = parsedBatches() ?? []
        let peak = try ModelBenchmark.warmUp(model: model, batches: sizes, textLength: textLength)
        print(String(format: "peak RSS after one forward pass per batch size: %.1f MiB = weights %.1f MiB + %.1f MiB other (before loading: %.1f MiB)",
                     mib(peak), mib(weightBytes), mib(peak - weightBytes), mib(rssBefore)))
        for batch in sizes {
            let r = try ModelBenchmark.measure(model: model, batch: batch, textLength: textLength, runs: runs, detail: gemmDetail)
            let f = r.forwardTimes, g = r.gemmTimes
            print("")
            print(String(format: "B=%d: forward %.1f ms/batch (min %.1f, max %.1f), %.1f ms/request; CPU time %.1f ms/batch",
                         batch, r.median * 1e3, (f.first ?? 0) * 1e3, (f.last ?? 0) * 1e3, r.median * 1e3 / Double(batch),
                         r.forwardCPUSeconds * 1e3))
            print(String(format: "  model FLOPs (reference formula) %.2f G -> %.1f GFLOP/s", r.modelFlops / 1e9, r.modelGFLOPS))
            print(String(format: "  executed GEMM FLOPs %.2f G -> %.1f GFLOP/s", r.executedFlops / 1e9, r.executedGFLOPS))
            print(String(format: "  cblas_sgemm alone, same %d calls (%d shapes) in the same order: %.1f ms (min %.1f, max %.1f), %.1f GFLOP/s",
                         r.gemmCalls, r.distinctShapes,
                         r.gemmMedian * 1e3, (g.first ?? 0) * 1e3, (g.last ?? 0) * 1e3, r.gemmGFLOPS))
            print(String(format: "  forward / GEMM-bound throughput: %.1f%% (medians; best runs %.1f%%)",
                         r.gemmRatio * 100, (g.first ?? 0) / max(f.first ?? 1, 1e-9) * 100))
            print(String(format: "  same on process CPU time: %.1f%%; share of forward wall time inside sgemm: %.1f%%",
                         r.cpuRatio * 100, r.gemmShare * 100))
            for s in r.shapes.sorted(by: { Double($0.callsPerForward) * $0.secondsPerCall > Double($1.callsPerForward) * $1.secondsPerCall }) {
                print(String(format: "    %@ x%d: %.3f ms/call, %.1f GFLOP/s", s.shape.description, s.callsPerForward,
                             s.secondsPerCall * 1e3, s.gflops))
            }
        }
    }

    private func mib(_ bytes: Int) -> Double { Double(bytes) / 1_048_576 }
}
