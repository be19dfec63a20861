import Foundation
import Testing
@testable import Model

struct ModelConfigTests {
    private static let minimal = """
    {"name": "m", "labels": ["x", "y"],
     "image_encoder": {"image_size": 32, "patch_size": 8, "hidden_size": 32, "num_layers": 2, "num_heads": 4, "intermediate_size": 64},
     "text_encoder": {"vocab_size": 120, "hidden_size": 48, "num_layers": 2, "num_heads": 4, "intermediate_size": 96, "max_position_embeddings": 64},
     "fusion": {"hidden_size": 40, "num_heads": 8, "gate_hidden": 16}}
    """

    private func decode(_ text: String) throws -> ModelConfig {
        try ModelConfig.decode(Data(text.utf8))
    }

    @Test func optionalFieldsGetTheirDefaults() throws {
        let config = try decode(Self.minimal)
        #expect(config.imageEncoder.type == "vit")
        #expect(config.textEncoder.type == "bert")
        #expect(config.imageEncoder.layerNormEps == 1e-12)
        #expect(config.textEncoder.layerNormEps == 1e-12)
        #expect(config.preprocess == PreprocessConfig())
        #expect(config.preprocess.maxTextLength == 64)
        #expect(config.weights == [WeightFile(file: "model.safetensors", prefix: "")])
        #expect(config.imageEncoder.tokenCount == 17)
    }

    @Test func fixtureConfigsDecode() throws {
        for name in ["tiny-f32", "tiny-f16", "tiny-bf16-split", "minilm-fusion"] {
            let config = try ModelConfig.load(path: Fixtures.model(name) + "/config.json")
            #expect(config.name == name)
        }
        let split = try ModelConfig.load(path: Fixtures.model("tiny-bf16-split") + "/config.json")
        #expect(split.weights == [WeightFile(file: "model.safetensors"), WeightFile(file: "text_encoder.safetensors", prefix: "text_encoder.")])
    }

    @Test func encodesAndDecodesRoundTrip() throws {
        let config = TinyConfig.make()
        let data = try JSONEncoder().encode(config)
        #expect(try ModelConfig.decode(data) == config)
    }

    @Test(arguments: [
        ("\"labels\": [\"x\", \"y\"]", "\"labels\": []", "labels must not be empty"),
        ("\"labels\": [\"x\", \"y\"]", "\"labels\": [\"x\", \"x\"]", "label \"x\" appears twice"),
        ("\"labels\": [\"x\", \"y\"]", "\"labels\": [\"x\", \"\"]", "empty string"),
        ("\"name\": \"m\"", "\"name\": \"\"", "name must not be empty"),
        ("\"patch_size\": 8", "\"patch_size\": 7", "must be divisible by image_encoder.patch_size (7)"),
        ("\"patch_size\": 8", "\"patch_size\": 0", "image_encoder.patch_size is 0"),
        ("\"image_size\": 32", "\"image_size\": 100000", "image_encoder.image_size is 100000"),
        ("\"num_heads\": 4, \"intermediate_size\": 64", "\"num_heads\": 5, \"intermediate_size\": 64", "image_encoder.num_heads (5) must divide image_encoder.hidden_size (32)"),
        ("\"num_heads\": 4, \"intermediate_size\": 96", "\"num_heads\": 7, \"intermediate_size\": 96", "text_encoder.num_heads (7) must divide"),
        ("\"num_heads\": 8, \"gate_hidden\"", "\"num_heads\": 3, \"gate_hidden\"", "fusion.num_heads (3) must divide fusion.hidden_size (40)"),
        ("\"gate_hidden\": 16", "\"gate_hidden\": -1", "fusion.gate_hidden is -1"),
        ("\"vocab_size\": 120", "\"vocab_size\": 0", "text_encoder.vocab_size is 0"),
        ("\"hidden_size\": 32", "\"hidden_size\": 1000000", "image_encoder.hidden_size is 1000000"),
        ("\"num_layers\": 2, \"num_heads\": 4, \"intermediate_size\": 64", "\"num_layers\": -2, \"num_heads\": 4, \"intermediate_size\": 64", "image_encoder.num_layers is -2"),
        ("\"max_position_embeddings\": 64", "\"max_position_embeddings\": 32", "preprocess.max_text_length (64) exceeds text_encoder.max_position_embeddings (32)"),
        ("\"image_size\": 32", "\"type\": \"resnet\", \"image_size\": 32", "only \"vit\" is supported"),
        ("\"vocab_size\": 120", "\"type\": \"gpt\", \"vocab_size\": 120", "only \"bert\" is supported"),
        ("\"image_size\": 32", "\"layer_norm_eps\": 0, \"image_size\": 32", "image_encoder.layer_norm_eps is 0.0"),
        ("\"labels\"", "\"preprocess\": {\"mean\": [0.5, 0.5]}, \"labels\"", "preprocess.mean must have 3 values"),
        ("\"labels\"", "\"preprocess\": {\"std\": [0.5, 0, 0.5]}, \"labels\"", "preprocess.std values must be positive"),
        ("\"labels\"", "\"preprocess\": {\"max_text_length\": 1}, \"labels\"", "must be at least 2"),
        ("\"labels\"", "\"weights\": [], \"labels\"", "weights must list at least one file"),
        ("\"labels\"", "\"weights\": [{\"file\": \"../../etc/passwd\"}], \"labels\"", "must be a relative path inside the model directory"),
        ("\"labels\"", "\"weights\": [{\"file\": \"/etc/passwd\"}], \"labels\"", "must be a relative path"),
        ("\"labels\"", "\"weights\": [{\"file\": \"a//b\"}], \"labels\"", "must be a relative path"),
    ])
    func validationNamesTheField(original: String, replacement: String, fragment: String) throws {
        let text = Self.minimal.replacingOccurrences(of: original, with: replacement)
        #expect(text != Self.minimal, "replacement did not apply")
        do {
            _ = try decode(text)
            Issue.record("accepted: \(replacement)")
        } catch let error as ModelError {
            #expect(error.description.contains(fragment), "\(error.description)")
        }
    }

    @Test(arguments: [
        ("{", "not valid JSON"),
        ("[]", "top level must be a JSON object"),
        (#"{"name": "m"}"#, "missing field labels"),
        (minimal.replacingOccurrences(of: "\"patch_size\": 8", with: "\"patch_size\": \"8\""), "field image_encoder.patch_size must be an integer"),
        (minimal.replacingOccurrences(of: "\"patch_size\": 8,", with: ""), "missing field image_encoder.patch_size"),
        (minimal.replacingOccurrences(of: "\"labels\": [\"x\", \"y\"]", with: "\"labels\": [\"x\", 3]"), "field labels[1] must be a string"),
        (minimal.replacingOccurrences(of: "\"patch_size\": 8", with: "\"patch_size\": null"), "image_encoder.patch_size"),
    ])
    func decodingErrorsNameTheField(text: String, fragment: String) {
        do {
            _ = try decode(text)
            Issue.record("accepted: \(text)")
        } catch let error as ModelError {
            #expect(error.description.hasPrefix("config.json: "))
            #expect(error.description.contains(fragment), "\(error.description)")
        } catch {
            Issue.record("untyped error \(error)")
        }
    }

    /// swift-corelibs-foundation does not say which field a fractional integer is in.
    @Test func fractionalIntegerIsRejected() {
        let text = Self.minimal.replacingOccurrences(of: "\"patch_size\": 8", with: "\"patch_size\": 8.5")
        do {
            _ = try decode(text)
            Issue.record("accepted 8.5 as an integer")
        } catch {
            #expect("\(error)".contains("patch_size") || "\(error)".contains("does not fit its field"), "\(error)")
        }
    }

    @Test func loadRejectsMissingAndHugeFiles() throws {
        let dir = try Fixtures.temporaryDirectory()
        #expect(throws: ModelError.self) { try ModelConfig.load(path: dir + "/config.json") }
        let huge = dir + "/huge.json"
        try Data(count: ModelConfig.maxFileSize + 1).write(to: URL(fileURLWithPath: huge))
        do {
            _ = try ModelConfig.load(path: huge)
            Issue.record("accepted a huge config")
        } catch {
            #expect("\(error)".contains("limit"))
        }
    }
}
