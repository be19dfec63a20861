import Foundation
import Testing
@testable import Model

/// The Swift forward pass against the PyTorch reference's goldens (tools/reference/):
/// each case alone and all cases together in one right-padded batch.
struct GoldenTests {
    private func check(_ output: ModelOutput, _ expected: GoldenCase, _ context: String,
                       sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(maxAbsDiff(output.logits, expected.logits) <= 1e-4, "logits \(context)", sourceLocation: sourceLocation)
        #expect(maxAbsDiff(output.scores, expected.scores) <= 1e-4, "scores \(context)", sourceLocation: sourceLocation)
        #expect(maxAbsDiff(output.embedding, expected.embedding) <= 1e-4, "embedding \(context)", sourceLocation: sourceLocation)
        let gate = output.gate.map { [$0.image, $0.text] } ?? []
        #expect(maxAbsDiff(gate, expected.gate) <= 1e-5, "gate \(context): \(gate) vs \(expected.gate)", sourceLocation: sourceLocation)
        #expect(output.label == expected.label, "label \(context)", sourceLocation: sourceLocation)
    }

    private func run(directory: String, golden: String, backend: Backend? = nil) throws {
        let model = try FusionModel.load(directory: directory, backend: backend)
        let cases = try GoldenCase.load(golden)
        #expect(cases.count >= 2)
        let inputs = cases.map { ModelInput(pixels: $0.pixels, inputIds: $0.inputIds) }
        for (i, input) in inputs.enumerated() {
            let output = try model.forward([input])
            try #require(output.count == 1)
            check(output[0], cases[i], "\(golden) case \(i) alone")
        }
        let batched = try model.forward(inputs)
        try #require(batched.count == cases.count)
        for (i, output) in batched.enumerated() {
            check(output, cases[i], "\(golden) case \(i) in a batch of \(cases.count)")
        }
        // Reversed order changes every request's neighbours and padding position.
        let reversed = try model.forward(inputs.reversed())
        for (i, output) in reversed.reversed().enumerated() {
            check(output, cases[i], "\(golden) case \(i) in the reversed batch")
        }
    }

    @Test(arguments: ["tiny-f32", "tiny-f16", "tiny-bf16-split"], Backend.allCases)
    func tinyModels(name: String, backend: Backend) throws {
        try run(directory: Fixtures.model(name), golden: name, backend: backend)
    }

    /// A real pretrained MiniLM BERT as text encoder, loaded through `weights` with a prefix.
    @Test func realMiniLMTextEncoder() throws {
        let cache = Fixtures.repoRoot.appendingPathComponent(".cache/minilm")
        let weights = cache.appendingPathComponent("model.safetensors").path
        let vocab = cache.appendingPathComponent("vocab.txt").path
        guard FileManager.default.fileExists(atPath: weights), FileManager.default.fileExists(atPath: vocab) else {
            Issue.record("MiniLM weights are missing from \(cache.path): run tools/fetch-minilm.sh")
            return
        }
        let fixture = Fixtures.model("minilm-fusion")
        let directory = try Fixtures.temporaryDirectory("minilm-fusion")
        let files = FileManager.default
        try files.createSymbolicLink(atPath: directory + "/config.json", withDestinationPath: fixture + "/config.json")
        try files.createSymbolicLink(atPath: directory + "/model.safetensors", withDestinationPath: fixture + "/model.safetensors")
        try files.createSymbolicLink(atPath: directory + "/minilm.safetensors", withDestinationPath: weights)
        try files.createSymbolicLink(atPath: directory + "/vocab.txt", withDestinationPath: vocab)
        for backend in Backend.allCases {
            try run(directory: directory, golden: "minilm-fusion", backend: backend)
        }
    }
}

extension GoldenTests {
    /// Each golden says what made it: `goldens/model/meta.json` names the generator and the
    /// library versions of every golden file in the folder, and no file goes unlisted.
    @Test func everyGoldenRecordsItsGeneratorAndVersions() throws {
        struct Meta: Decodable {
            struct Entry: Decodable { var golden: String; var torch: String; var python: String }
            var generator: String
            var models: [String: Entry]
        }
        let folder = Fixtures.repoRoot.appendingPathComponent("Tests/Fixtures/goldens/model")
        let meta = try JSONDecoder().decode(Meta.self, from: Data(contentsOf: folder.appendingPathComponent("meta.json")))
        #expect(FileManager.default.fileExists(atPath: Fixtures.repoRoot.appendingPathComponent(meta.generator).path),
                "generator \(meta.generator)")
        let goldens = try FileManager.default.contentsOfDirectory(atPath: folder.path)
            .filter { $0.hasSuffix(".json") && $0 != "meta.json" }.sorted()
        #expect(goldens.count >= 4)
        #expect(meta.models.values.map(\.golden).sorted() == goldens)
        for (name, entry) in meta.models {
            #expect(entry.golden == "\(name).json")
            #expect(!entry.torch.isEmpty && !entry.python.isEmpty, "\(name)")
        }
    }
}
