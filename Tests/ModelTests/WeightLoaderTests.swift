import Foundation
import Testing
@testable import Model
import Tensors

struct WeightLoaderTests {
    /// Writes `config` and its random weights (optionally altered) to a new directory.
    private func directory(config: ModelConfig = TinyConfig.make(),
                           alter: (inout [(name: String, shape: [Int], values: [Float])]) -> Void = { _ in },
                           extra: (inout SafetensorsWriter) -> Void = { _ in }) throws -> String {
        let dir = try Fixtures.temporaryDirectory()
        var tensors = WeightDeclaration(config: config).entries.map { entry in
            (name: entry.name, shape: entry.shape, values: [Float](repeating: 0.01, count: entry.shape.reduce(1, *)))
        }
        alter(&tensors)
        var writer = SafetensorsWriter()
        for t in tensors { writer.add(t.name, shape: t.shape, values: t.values) }
        extra(&writer)
        try Data(writer.serialize()).write(to: URL(fileURLWithPath: dir + "/model.safetensors"))
        try JSONEncoder().encode(config).write(to: URL(fileURLWithPath: dir + "/config.json"))
        return dir
    }

    private func expectLoadError(_ dir: String, _ fragment: String, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try FusionModel.load(directory: dir)
            Issue.record("loaded an invalid model", sourceLocation: sourceLocation)
        } catch {
            #expect("\(error)".contains(fragment), "\(error)", sourceLocation: sourceLocation)
        }
    }

    @Test func loadsAndIgnoresUnusedTensors() throws {
        let dir = try directory(extra: { writer in
            writer.add("text_encoder.pooler.dense.weight", shape: [2], values: [1, 2])
            writer.add("text_encoder.embeddings.position_ids", dtype: .i64, shape: [1], bytes: [UInt8](repeating: 0, count: 8))
        })
        let model = try FusionModel.load(directory: dir)
        #expect(model.config == TinyConfig.make())
        #expect(model.weightBytes == WeightDeclaration(config: model.config).parameterCount * 4)
    }

    @Test func missingTensorIsNamed() throws {
        let dir = try directory { $0.removeAll { $0.name == "text_encoder.encoder.layer.1.output.dense.bias" } }
        expectLoadError(dir, "tensor \"text_encoder.encoder.layer.1.output.dense.bias\" is missing")
    }

    @Test func misShapedTensorIsNamed() throws {
        let dir = try directory { tensors in
            let i = tensors.firstIndex { $0.name == "head.weight" }!
            tensors[i] = (name: "head.weight", shape: [2, 16], values: [Float](repeating: 0, count: 32))
        }
        expectLoadError(dir, "tensor \"head.weight\" has shape [2, 16], the configuration needs [3, 16]")
    }

    @Test func nonFloatDeclaredTensorIsNamed() throws {
        let dir = try directory(alter: { $0.removeAll { $0.name == "gate.2.bias" } }) { writer in
            writer.add("gate.2.bias", dtype: .i32, shape: [2], bytes: [UInt8](repeating: 0, count: 8))
        }
        expectLoadError(dir, "tensor \"gate.2.bias\" has dtype I32")
    }

    @Test func prefixesMapFilesAndDuplicatesAreErrors() throws {
        var config = TinyConfig.make()
        config.weights = [WeightFile(file: "model.safetensors"), WeightFile(file: "text.safetensors", prefix: "text_encoder.")]
        let dir = try directory(config: config) { $0.removeAll { $0.name.hasPrefix("text_encoder.") } }
        var text = SafetensorsWriter()
        for entry in WeightDeclaration(config: config).entries where entry.name.hasPrefix("text_encoder.") {
            text.add(String(entry.name.dropFirst("text_encoder.".count)), shape: entry.shape,
                     values: [Float](repeating: 0.5, count: entry.shape.reduce(1, *)), dtype: .bf16)
        }
        try Data(text.serialize()).write(to: URL(fileURLWithPath: dir + "/text.safetensors"))
        let model = try FusionModel.load(directory: dir)
        #expect(model.config.weights.count == 2)

        // The same tensor once more through a second entry for the same file.
        config.weights.append(WeightFile(file: "text.safetensors", prefix: "text_encoder."))
        try JSONEncoder().encode(config).write(to: URL(fileURLWithPath: dir + "/config.json"))
        expectLoadError(dir, "is provided by both")
    }

    @Test func hostileOrMissingFilesAreReported() throws {
        let dir = try directory()
        try Data([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F]).write(to: URL(fileURLWithPath: dir + "/model.safetensors"))
        expectLoadError(dir, "model.safetensors: safetensors header length")
        try FileManager.default.removeItem(atPath: dir + "/model.safetensors")
        expectLoadError(dir, "model.safetensors: cannot open")
        expectLoadError(dir + "/nope", "model directory does not exist")
        expectLoadError(dir + "/config.json", "not a directory")
    }
}
