import Foundation
import Testing

/// The committed default model through the whole Swift pipeline (issue 5): JPEG/PNG decode,
/// Pillow-exact resize, WordPiece, forward pass, on 500 held-out pairs it never saw
/// (`Tests/Fixtures/eval`, dataset seed 3; training used seed 1).
@Suite("Default model")
struct DefaultModelEndToEndTests {
    static let defaultModel = Paths.root.appendingPathComponent("models/default").path

    /// What `fusion-serve eval --json` prints.
    struct Summary: Decodable {
        var examples: Int
        var correct: Int
        var accuracy: Double
        var labels: [String]
        var confusion: [[Int]]
    }

    /// Issue 5's gate on these 500 pairs. The committed model measures 97.2% (486/500, the
    /// same as PyTorch on these files, docs/models.md); the answer is deterministic (same
    /// files, same weights), so a pipeline change that costs two right answers fails here.
    static let requiredAccuracy = 0.97

    @Test func heldOutAccuracyMeetsTheIssueGate() throws {
        let data = Paths.fixture("eval/eval.jsonl")
        let floor = Self.requiredAccuracy
        let result = try runCommand(["eval", "--model", Self.defaultModel, data, "--json", "--min-accuracy", "\(floor)"])
        let summary = try JSONDecoder().decode(Summary.self, from: Data(result.out.utf8))
        #expect(summary.examples == 500)
        #expect(summary.labels == ["no_match", "match"])
        #expect(summary.confusion.flatMap { $0 }.reduce(0, +) == 500)
        #expect(summary.confusion[0][0] + summary.confusion[1][1] == summary.correct)
        #expect(summary.accuracy >= floor, "held-out accuracy \(summary.accuracy) (\(summary.correct)/500)")
        // The exit status is what CI scripts see: 0 at or above --min-accuracy.
        #expect(result.status == 0, "\(result.err)")
    }

    @Test func evalExitsWithStatus3BelowMinAccuracy() throws {
        // The same pairs with every label flipped: a model that is right on them is wrong on
        // these, and the threshold must fail loudly with its own exit status.
        let data = Paths.fixture("eval/eval.jsonl")
        let lines = try String(contentsOfFile: data, encoding: .utf8).split(separator: "\n").prefix(24)
        let folder = (data as NSString).deletingLastPathComponent
        let flipped = lines.map { line -> String in
            line.replacingOccurrences(of: "\"images/", with: "\"\(folder)/images/")
                .replacingOccurrences(of: "\"label\": \"match\"", with: "\"label\": \"@\"")
                .replacingOccurrences(of: "\"label\": \"no_match\"", with: "\"label\": \"match\"")
                .replacingOccurrences(of: "\"label\": \"@\"", with: "\"label\": \"no_match\"")
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("eval-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("flipped.jsonl").path
        try (flipped.joined(separator: "\n") + "\n").write(toFile: file, atomically: true, encoding: .utf8)
        let result = try runCommand(["eval", "--model", Self.defaultModel, file, "--json", "--min-accuracy", "0.5"])
        #expect(result.status == 3, "\(result.out) \(result.err)")
        #expect(result.err.contains("below --min-accuracy"))
        let summary = try JSONDecoder().decode(Summary.self, from: Data(result.out.utf8))
        #expect(summary.examples == 24)
        #expect(summary.accuracy < 0.5)
    }

    /// One pair's answer from `tools/reference/eval_torch.py --outputs`.
    struct TorchOutput: Decodable {
        var image: String
        var text: String
        var label: String
        var logits: [Double]
    }

    /// The 500 held-out lines, PyTorch's answers for them, and the lines with absolute image
    /// paths as `predict` reads them.
    static func heldOutPairs() throws -> (lines: [Substring], torch: [TorchOutput], input: String) {
        let goldens = Paths.fixture("goldens/default-model/eval-torch-outputs.json")
        let torch = try JSONDecoder().decode([TorchOutput].self, from: Data(contentsOf: URL(fileURLWithPath: goldens)))
        let data = Paths.fixture("eval/eval.jsonl")
        let folder = (data as NSString).deletingLastPathComponent
        let lines = try String(contentsOfFile: data, encoding: .utf8).split(separator: "\n")
        try #require(lines.count == torch.count, "goldens are stale: regenerate them (tools/reference/README.md)")
        let input = lines.map { $0.replacingOccurrences(of: "\"images/", with: "\"\(folder)/images/") }
            .joined(separator: "\n") + "\n"
        return (lines, torch, input)
    }

    /// The strongest parity check there is: every held-out pair, from its encoded file, through
    /// the Swift decode + resize + WordPiece + forward, against PyTorch's answer through
    /// Pillow + torchvision + `tokenizers` + the reference model, on the same files.
    @Test func swiftPipelineAgreesWithPyTorchOnEveryHeldOutPair() throws {
        let (lines, torch, input) = try Self.heldOutPairs()
        let result = try runCommand(["predict", "--model", Self.defaultModel], input: input)
        #expect(result.status == 0, "\(result.err)")
        let outputs = result.out.split(separator: "\n")
        try #require(outputs.count == torch.count)
        var worst = 0.0
        var disagreements: [String] = []
        for (line, (output, want)) in zip(lines, zip(outputs, torch)) {
            #expect(line.contains(want.text.replacingOccurrences(of: "\"", with: "\\\"")), "goldens are out of order")
            let got = try #require(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any])
            let logits = try #require(got["logits"] as? [Double])
            try #require(logits.count == want.logits.count)
            let diff = zip(logits, want.logits).map { abs($0 - $1) }.max() ?? 0
            worst = max(worst, diff)
            let margin = abs(want.logits[1] - want.logits[0])
            // A label may only differ where PyTorch itself is on the fence.
            if got["label"] as? String != want.label, margin > 1e-3 {
                disagreements.append("\(want.image) \"\(want.text)\": Swift \(got["label"] ?? "?"), PyTorch \(want.label)")
            }
        }
        #expect(disagreements.isEmpty, "\(disagreements.prefix(5))")
        // Measured worst over the 500 pairs: 1.5e-5 (2.0e-5 when issue 19 was filed): float32
        // summation order, OpenBLAS vs PyTorch. 2e-4 leaves ten times that; the old 2e-3 would
        // have let a kernel a hundred times worse pass.
        #expect(worst < 2e-4, "largest logit difference \(worst)")
    }

    /// Issue 14's rule for `--precision int8` on the held-out pairs: accuracy within 0.5 point
    /// of fp32 and the same label as fp32 on at least 99% of pairs. fp32 here is PyTorch's
    /// answer (the goldens), which the Swift fp32 path matches to 2e-4 (the test above).
    /// Measured: 486/500 in both, 500/500 labels agree, max |Δlogit| 0.27 (docs/models.md).
    @Test func int8KeepsTheHeldOutAccuracyAndLabels() throws {
        try checkHeldOutRule(precision: "int8")
    }

    /// The same rule for `--precision bf16`, on a CPU that can run it (elsewhere `serve`
    /// refuses bf16: `InferEndToEndTests.bf16ServesOnlyWhereTheCPUHasIt`).
    @Test(.enabled(if: cpuFlags.contains("avx512_bf16"), "this CPU has no avx512_bf16: bf16 is refused here, not measured"))
    func bf16KeepsTheHeldOutAccuracyAndLabels() throws {
        try checkHeldOutRule(precision: "bf16")
    }

    /// Issue 14's rule for a reduced precision against fp32 (PyTorch's goldens) on the 500 pairs.
    private func checkHeldOutRule(precision: String) throws {
        let (lines, torch, input) = try Self.heldOutPairs()
        let result = try runCommand(["predict", "--model", Self.defaultModel, "--precision", precision], input: input)
        #expect(result.status == 0, "\(result.err)")
        let outputs = result.out.split(separator: "\n")
        try #require(outputs.count == torch.count)
        var sameLabel = 0, reducedCorrect = 0, fp32Correct = 0
        var worst = 0.0
        for (line, (output, want)) in zip(lines, zip(outputs, torch)) {
            let got = try #require(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any])
            let logits = try #require(got["logits"] as? [Double])
            worst = max(worst, zip(logits, want.logits).map { abs($0 - $1) }.max() ?? 0)
            let label = got["label"] as? String
            if label == want.label { sameLabel += 1 }
            let truth = line.contains("\"label\": \"match\"") ? "match" : "no_match"
            if label == truth { reducedCorrect += 1 }
            if want.label == truth { fp32Correct += 1 }
        }
        print("\(precision) vs fp32 on \(torch.count) held-out pairs: same label \(sameLabel), accuracy \(reducedCorrect) vs \(fp32Correct), max |Δlogit| \(worst)")
        #expect(Double(sameLabel) >= 0.99 * Double(torch.count), "same label on \(sameLabel)/\(torch.count)")
        #expect(abs(reducedCorrect - fp32Correct) * 1000 <= 5 * torch.count, "accuracy \(reducedCorrect) vs \(fp32Correct)")
        #expect(worst > 0, "\(precision) gave fp32's exact logits: the \(precision) path did not run")
    }

    /// The PyTorch outputs say what made them (command and library versions).
    @Test func torchOutputsRecordTheirGenerator() throws {
        let meta = Paths.fixture("goldens/default-model/eval-torch-outputs.meta.json")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: meta))) as? [String: Any])
        #expect(json["generator"] as? String == "tools/reference/eval_torch.py")
        #expect((json["command"] as? String)?.contains("--outputs Tests/Fixtures/goldens/default-model/eval-torch-outputs.json") == true)
        for key in ["torch", "torchvision", "pillow", "transformers", "python"] {
            #expect(!((json[key] as? String) ?? "").isEmpty, "\(key)")
        }
    }

    /// The README's example, as the README runs it: the default model served, real curl,
    /// multipart. The image is a blue triangle (docs/examples/blue-triangle.jpg), so the
    /// answers are facts about the picture, not about any run.
    @Test func readmeCurlExampleGivesTheDocumentedAnswers() throws {
        let server = try ServerProcess(workers: 1, model: Self.defaultModel)
        defer { server.stop() }
        let image = Paths.root.appendingPathComponent("docs/examples/blue-triangle.jpg").path
        let url = "http://127.0.0.1:\(server.port)/infer"
        for (text, want) in [("a blue triangle", "match"), ("a red circle", "no_match")] {
            let result = try runCurl(["-sS", url, "-F", "image=@\(image)", "-F", "text=\(text)"])
            #expect(result.status == 0, "curl: \(result.err)")
            let body = try #require(try JSONSerialization.jsonObject(with: Data(result.out.utf8)) as? [String: Any])
            #expect(body["model"] as? String == "shapes-match")
            #expect(body["label"] as? String == want, "\"\(text)\": \(result.out)")
        }
    }
}
