import Foundation
import Testing
@testable import Model
import Kernels

struct FusionModelTests {
    private let config = TinyConfig.make()

    private func model() throws -> FusionModel {
        try FusionModel(config: config, tensors: RandomWeights.make(config: config, seed: 42))
    }

    private func inputs(_ lengths: [Int], seed: UInt64 = 1) -> [ModelInput] {
        var generator = RandomWeights.Generator(seed: seed)
        let pixels = 3 * config.imageEncoder.imageSize * config.imageEncoder.imageSize
        return lengths.map { length in
            let ids = (0..<length).map { _ in Int32(generator.next() % UInt64(config.textEncoder.vocabSize)) }
            return ModelInput(pixels: generator.uniform(count: pixels, halfWidth: 2), inputIds: ids)
        }
    }

    @Test func resultsDoNotDependOnTheBatch() throws {
        let model = try model()
        let batch = inputs([2, 9, 5, 16, 3, 1, 12, 7])
        let alone = try batch.map { try model.forward([$0])[0] }
        let together = try model.forward(batch)
        let shuffled = try model.forward([batch[3], batch[0], batch[5]])
        for (i, j) in [(3, 0), (0, 1), (5, 2)] {
            #expect(maxAbsDiff(alone[i].logits, shuffled[j].logits) <= 1e-5)
        }
        for (a, b) in zip(alone, together) {
            #expect(maxAbsDiff(a.logits, b.logits) <= 1e-5)
            #expect(maxAbsDiff(a.embedding, b.embedding) <= 1e-5)
            #expect(abs((a.gate?.image ?? 0) - (b.gate?.image ?? 1)) <= 1e-5)
            #expect(a.label == b.label)
        }
    }

    /// int8 quantizes each activation row on its own, so a request's answer still cannot
    /// depend on what it is batched with; and it stays close to fp32.
    @Test func int8IsBatchIndependentAndTracksFP32() throws {
        try expectBatchIndependentNearFP32(.int8)
    }

    /// bf16 needs AVX512_BF16: without it the model refuses to load with the reason (no silent
    /// fallback); with it, answers are batch independent and stay near fp32 without being fp32's.
    @Test func bf16RunsOnlyWithAVX512BF16AndTracksFP32() throws {
        guard BFloat16.cpuHasAVX512BF16 else {
            #expect(throws: ModelError.self) { try FusionModel.check(.bf16) }
            do {
                _ = try FusionModel(config: config, tensors: RandomWeights.make(config: config, seed: 42), precision: .bf16)
                Issue.record("bf16 loaded on a CPU without AVX512_BF16")
            } catch {
                #expect("\(error)".contains("precision bf16 cannot run here") && "\(error)".contains("AVX512_BF16"), "\(error)")
            }
            print("bf16: this CPU has no AVX512_BF16; checked the refusal (the bf16 forward runs on CPUs with it)")
            return
        }
        try expectBatchIndependentNearFP32(.bf16)
    }

    /// The model in `precision` answers each request the same alone or batched, within 5% of
    /// fp32's logit scale, and not exactly as fp32 does (which would mean the mode did not run).
    private func expectBatchIndependentNearFP32(_ precision: Precision) throws {
        let fp32 = try model()
        let reduced = try FusionModel(config: config, tensors: RandomWeights.make(config: config, seed: 42), precision: precision)
        #expect(fp32.precision == .fp32 && reduced.precision == precision)
        let batch = inputs([2, 9, 5, 16, 3, 1, 12, 7])
        let alone = try batch.map { try reduced.forward([$0])[0] }
        let together = try reduced.forward(batch)
        let reference = try fp32.forward(batch)
        var worst: Float = 0
        for ((a, b), f) in zip(zip(alone, together), reference) {
            #expect(maxAbsDiff(a.logits, b.logits) <= 1e-5)
            let scale = max(1, f.logits.map(abs).max() ?? 0)
            worst = max(worst, maxAbsDiff(b.logits, f.logits) / scale)
            #expect(abs(b.scores.reduce(0, +) - 1) < 1e-5)
        }
        #expect(worst < 0.05, "\(precision) logits differ from fp32 by \(worst) of their scale")
        #expect(worst > 0, "\(precision) gave fp32's exact logits: the \(precision) path did not run")
    }

    @Test func outputsAreConsistent() throws {
        let out = try model().forward(inputs([4]))[0]
        #expect(out.logits.count == 3)
        #expect(abs(out.scores.reduce(0, +) - 1) < 1e-6)
        #expect(out.label == out.scores.indices.max { out.scores[$0] < out.scores[$1] })
        let gate = try #require(out.gate)
        #expect(abs(gate.image + gate.text - 1) < 1e-6)
        #expect(out.embedding.count == config.fusion.hiddenSize)
    }

    @Test func workspaceGrowsAndShrinksCorrectly() throws {
        let model = try model()
        let small = inputs([3])
        let first = try model.forward(small)[0]
        _ = try model.forward(inputs([16, 16, 16, 16, 16, 16], seed: 9))
        let again = try model.forward(small)[0]
        #expect(first.logits == again.logits)
    }

    @Test func concurrentCallsAgree() async throws {
        let model = try model()
        let batch = inputs([5, 8])
        let expected = try model.forward(batch).map(\.logits)
        try await withThrowingTaskGroup(of: [[Float]].self) { group in
            for _ in 0..<6 { group.addTask { try model.forward(batch).map(\.logits) } }
            for try await result in group { #expect(result == expected) }
        }
    }

    @Test func invalidInputsNameTheRequest() throws {
        let model = try model()
        let good = inputs([3])[0]
        func expectError(_ batch: [ModelInput], _ fragment: String, sourceLocation: SourceLocation = #_sourceLocation) {
            do {
                _ = try model.forward(batch)
                Issue.record("accepted", sourceLocation: sourceLocation)
            } catch {
                #expect("\(error)".contains(fragment), "\(error)", sourceLocation: sourceLocation)
            }
        }
        expectError([], "empty batch")
        expectError([good, ModelInput(pixels: [1, 2], inputIds: [1])], "input 1: pixels has 2 values, expected 3×16×16 = 768")
        expectError([ModelInput(pixels: good.pixels, inputIds: [])], "input 0: input_ids is empty")
        expectError([ModelInput(pixels: good.pixels, inputIds: [Int32](repeating: 1, count: 21))], "21 tokens exceed max_position_embeddings (20)")
        expectError([good, good, ModelInput(pixels: good.pixels, inputIds: [1, 50])], "input 2: token id 50 is outside the vocabulary")
        expectError([ModelInput(pixels: good.pixels, inputIds: [-1])], "token id -1")
        expectError([ModelInput](repeating: good, count: FusionModel.maxBatchSize + 1), "exceeds")
    }

    @Test func inMemoryTensorsAreChecked() {
        var tensors = RandomWeights.make(config: config)
        tensors["head.bias"] = nil
        #expect(throws: ModelError.self) { try FusionModel(config: config, tensors: tensors) }
    }
    @Test func checkAcceptsWhatLoadAcceptsWithoutBuildingTheModel() throws {
        for name in ["tiny-f32", "tiny-f16", "tiny-bf16-split"] {
            let checked = try FusionModel.check(directory: Fixtures.model(name))
            #expect(checked == (try FusionModel.load(directory: Fixtures.model(name))).config, "\(name)")
        }
    }

    @Test func checkRefusesATruncatedOrMisShapedDirectoryNamingTheFile() throws {
        let directory = try Fixtures.copyOfModel("tiny-f32")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let weights = directory + "/model.safetensors"
        let bytes = try #require(FileManager.default.contents(atPath: weights))
        // Header intact, data cut short: only the layout check against the size can tell.
        let headerLength = Int(bytes.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        try Data(bytes.prefix(8 + headerLength + 100)).write(to: URL(fileURLWithPath: weights))
        #expect(throws: ModelError.self) { try FusionModel.load(directory: directory) }
        do {
            _ = try FusionModel.check(directory: directory)
            Issue.record("a truncated file passed the check")
        } catch {
            #expect(error.description.contains(weights), "\(error)")
        }

        // Valid weights for another shape: the tiny-f32 config with a wider fusion head.
        try Data(bytes).write(to: URL(fileURLWithPath: weights))
        let configPath = directory + "/config.json"
        let text = try String(contentsOfFile: configPath, encoding: .utf8)
        try text.replacingOccurrences(of: "\"gate_hidden\": 16", with: "\"gate_hidden\": 24")
            .write(toFile: configPath, atomically: true, encoding: .utf8)
        do {
            _ = try FusionModel.check(directory: directory)
            Issue.record("mis-shaped weights passed the check")
        } catch {
            guard case .wrongShape(_, let file, _, _) = error else { throw error }
            #expect(file == weights)
        }
    }
}

