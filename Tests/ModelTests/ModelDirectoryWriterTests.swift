import Foundation
import Testing
@testable import Model

struct ModelDirectoryWriterTests {
    /// The tiny fixture's configuration, with `weights` pointing somewhere else so the test
    /// proves the writer names its own file.
    private func config() throws -> ModelConfig {
        var config = try ModelConfig.load(path: Fixtures.model("tiny-f32") + "/config.json")
        config.weights = [WeightFile(file: "elsewhere.safetensors", prefix: "x.")]
        return config
    }

    private var vocab: String { Fixtures.model("tiny-f32") + "/vocab.txt" }

    @Test func writtenDirectoryLoadsAndComputesWhatTheInMemoryModelComputes() throws {
        let config = try config()
        let tensors = RandomWeights.make(config: config, seed: 11)
        let directory = try Fixtures.temporaryDirectory("written") + "/model"
        defer { try? FileManager.default.removeItem(atPath: (directory as NSString).deletingLastPathComponent) }

        try ModelDirectoryWriter.write(config: config, tensors: tensors, vocabFile: vocab, to: directory)

        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
                == ["config.json", "model.safetensors", "vocab.txt"])
        var expectedConfig = config
        expectedConfig.weights = ModelConfig.defaultWeights
        #expect(try ModelConfig.load(path: directory + "/config.json") == expectedConfig)
        #expect(FileManager.default.contentsEqual(atPath: directory + "/vocab.txt", andPath: vocab))

        let loaded = try FusionModel.load(directory: directory)
        let original = try FusionModel(config: config, tensors: tensors)
        let batch = ModelBenchmark.inputs(config: config, batch: 3, textLength: 7, seed: 4)
        let fromFile = try loaded.forward(batch)
        let fromMemory = try original.forward(batch)
        // F32 is stored bit for bit, so the outputs are identical, not merely close.
        #expect(fromFile.map(\.logits) == fromMemory.map(\.logits))
        #expect(fromFile.map(\.embedding) == fromMemory.map(\.embedding))
        #expect(fromFile.map(\.label) == fromMemory.map(\.label))
    }

    @Test func refusesANonEmptyDirectoryAndLeavesItAlone() throws {
        let directory = try Fixtures.temporaryDirectory("occupied")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let marker = directory + "/config.json"
        try Data("keep".utf8).write(to: URL(fileURLWithPath: marker))
        let config = try config()

        let error = #expect(throws: ModelError.self) {
            try ModelDirectoryWriter.write(config: config, tensors: RandomWeights.make(config: config),
                                           vocabFile: vocab, to: directory)
        }
        guard case let .io(path, reason) = error else { Issue.record("unexpected \(String(describing: error))"); return }
        #expect(path == directory && reason.contains("not empty"))
        #expect(try String(contentsOfFile: marker, encoding: .utf8) == "keep")
    }

    @Test func refusesAVocabularyLargerThanTheEmbedding() throws {
        var config = try config()
        config.textEncoder.vocabSize = 100  // the fixture vocabulary has 120 tokens
        let directory = try Fixtures.temporaryDirectory("vocab") + "/model"
        defer { try? FileManager.default.removeItem(atPath: (directory as NSString).deletingLastPathComponent) }

        let error = #expect(throws: ModelError.self) {
            try ModelDirectoryWriter.write(config: config, tensors: RandomWeights.make(config: config),
                                           vocabFile: vocab, to: directory)
        }
        guard case let .io(path, reason) = error else { Issue.record("unexpected \(String(describing: error))"); return }
        #expect(path == vocab && reason.contains("120 tokens"))
        #expect(!FileManager.default.fileExists(atPath: directory))
    }

    @Test func refusesTensorsThatDoNotMatchTheConfiguration() throws {
        let config = try config()
        var tensors = RandomWeights.make(config: config)
        tensors["head.weight"] = nil
        let directory = try Fixtures.temporaryDirectory("missing") + "/model"
        defer { try? FileManager.default.removeItem(atPath: (directory as NSString).deletingLastPathComponent) }

        let error = #expect(throws: ModelError.self) {
            try ModelDirectoryWriter.write(config: config, tensors: tensors, vocabFile: vocab, to: directory)
        }
        guard case let .missingTensor(name, _) = error else { Issue.record("unexpected \(String(describing: error))"); return }
        #expect(name == "head.weight")
        #expect(!FileManager.default.fileExists(atPath: directory))
    }
}
