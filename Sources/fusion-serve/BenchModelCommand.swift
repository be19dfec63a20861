import ArgumentParser
import Foundation
import Model

/// `fusion-serve bench-model`: the model runtime benchmark of issue 2 (see docs/benchmarks.md).
struct BenchModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-model",
        abstract: "Time a model's forward pass against cblas_sgemm on its own GEMM shapes.",
        discussion: """
            Times the seed-size model (ViT-B/16 + BERT-base, random weights) by default, or the \
            model directory given with --model. With --write-model it writes the seed-size \
            random-weight model as a model directory `serve --model` accepts, and times nothing, \
            so served throughput can be compared with model-only throughput (docs/benchmarks.md).
            """)

    @Option(help: "Model directory to time instead of the seed-size random-weight model.")
    var model: String?

    @Option(help: "Write the seed-size random-weight model (config.json, F32 model.safetensors, vocab.txt) into this new or empty directory, then exit.")
    var writeModel: String?

    @Option(help: "The vocab.txt --write-model copies (default: the default model's).")
    var vocab: String?

    @Option(help: "Threads for matrix products (OpenBLAS).")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    @Option(help: precisionHelp) var precision: Precision = .fp32
    @Option(help: backendHelp) var backend: Backend?

    @Option(help: "Timed forward passes per batch size (the median is reported).")
    var runs: Int = 7

    @Option(help: "Tokens per text, [CLS] and [SEP] included.")
    var textLength: Int = 32

    @Option(help: "Comma-separated batch sizes.")
    var batches: String = "1,8"

    @Flag(help: "Print every GEMM shape with its standalone speed.")
    var gemmDetail = false

    func validate() throws {
        if model != nil, writeModel != nil { throw ValidationError("--model and --write-model exclude each other") }
        if vocab != nil, writeModel == nil { throw ValidationError("--vocab is only used with --write-model") }
        for (flag, value) in [("--model", model), ("--write-model", writeModel), ("--vocab", vocab)] {
            if let value, value.isEmpty { throw ValidationError("\(flag) must not be empty") }
        }
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
        if let writeModel {
            try writeSeedModel(to: writeModel)
            return
        }
        FusionModel.setThreads(threads)
        let rssBefore = ModelBenchmark.currentResidentBytes()
        let start = Date()
        let model: FusionModel
        let origin: String
        if let directory = self.model {
            model = try FusionModel.load(directory: directory, precision: precision, backend: backend)
            origin = "loaded from \(directory)"
        } else {
            let config = ModelBenchmark.seedConfig
            model = try FusionModel(config: config, tensors: RandomWeights.make(config: config), precision: precision, backend: backend)
            origin = "random"
        }
        let maxLength = model.config.textEncoder.maxPositionEmbeddings
        guard textLength <= maxLength else {
            throw BenchModelError.textTooLong(length: textLength, maximum: maxLength, model: model.config.name)
        }
        let weightBytes = model.weightBytes
        print("\(self.model == nil ? "seed-size model" : "model \"\(model.config.name)\""): \(Self.describe(model.config))")
        print(String(format: "weights: %.1f M parameters, %.1f MiB (%@ in %.1f s); threads %d; T = %d; median of %d runs",
                     Double(weightBytes / 4) / 1e6, mib(weightBytes), origin, Date().timeIntervalSince(start), threads, textLength, runs))
        let sizes = parsedBatches() ?? []
        let peak = try ModelBenchmark.warmUp(model: model, batches: sizes, textLength: textLength)
        print(String(format: "peak RSS after one forward pass per batch size: %.1f MiB = weights %.1f MiB + %.1f MiB other (before loading: %.1f MiB)",
                     mib(peak), mib(weightBytes), mib(peak - weightBytes), mib(rssBefore)))
        for batch in sizes {
            let r = try ModelBenchmark.measure(model: model, batch: batch, textLength: textLength, runs: runs, detail: gemmDetail)
            let f = r.forwardTimes, g = r.gemmTimes
            print("")
            print(String(format: "B=%d: forward %.1f ms/batch (min %.1f, max %.1f), %.1f ms/request, %.2f requests/s; CPU time %.1f ms/batch",
                         batch, r.median * 1e3, (f.first ?? 0) * 1e3, (f.last ?? 0) * 1e3, r.median * 1e3 / Double(batch),
                         Double(batch) / max(r.median, 1e-12), r.forwardCPUSeconds * 1e3))
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

    /// Writes the seed-size model with the weights `bench-model` times by default (same seed).
    private func writeSeedModel(to directory: String) throws {
        let config = ModelBenchmark.seedConfig
        let vocabFile = try vocab ?? (DefaultModel.resolve(DefaultModel.directory) + "/vocab.txt")
        let start = Date()
        try ModelDirectoryWriter.write(config: config, tensors: RandomWeights.make(config: config),
                                       vocabFile: vocabFile, to: directory)
        print("seed-size model: \(Self.describe(config))")
        print(String(format: "wrote %@ (config.json, %@, vocab.txt from %@) in %.1f s",
                     directory, ModelDirectoryWriter.weightFileName, vocabFile, Date().timeIntervalSince(start)))
    }

    /// One line of architecture sizes.
    private static func describe(_ c: ModelConfig) -> String {
        let i = c.imageEncoder, t = c.textEncoder, f = c.fusion
        return "ViT \(i.imageSize)/\(i.patchSize) hidden \(i.hiddenSize) x \(i.numLayers) layers, "
            + "BERT hidden \(t.hiddenSize) x \(t.numLayers) layers (vocab \(t.vocabSize)), "
            + "fusion \(f.hiddenSize)/\(f.numHeads) heads, gate \(f.gateHidden), \(c.labels.count) labels"
    }
}

/// A `bench-model` request the chosen model cannot run.
enum BenchModelError: Error, CustomStringConvertible {
    /// `--text-length` exceeds the model's `text_encoder.max_position_embeddings`.
    case textTooLong(length: Int, maximum: Int, model: String)

    var description: String {
        switch self {
        case let .textTooLong(length, maximum, model):
            return "--text-length \(length) exceeds model \"\(model)\"'s max_position_embeddings (\(maximum))"
        }
    }
}
