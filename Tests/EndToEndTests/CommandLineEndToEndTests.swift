import Foundation
import Testing

/// Runs `fusion-serve ARGS` with `input` on stdin; returns (stdout, stderr, status). A command
/// still running after `timeout` seconds is killed (status: SIGKILL's), so a hang fails the test.
func runCommand(_ arguments: [String], input: String = "",
                timeout: TimeInterval = 600) throws -> (out: String, err: String, status: Int32) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: Paths.binary)
    process.arguments = arguments
    let stdin = Pipe(), out = Pipe(), err = Pipe()
    process.standardInput = stdin
    process.standardOutput = out
    process.standardError = err
    try process.run()
    ChildCleanup.track(process.processIdentifier)
    let watchdog = killAfter(timeout, process)
    defer { watchdog.cancel(); ChildCleanup.untrack(process.processIdentifier) }
    stdin.fileHandleForWriting.write(Data(input.utf8))
    try stdin.fileHandleForWriting.close()
    // Read both pipes concurrently so a chatty child cannot fill one and block.
    final class Box: @unchecked Sendable { var data = Data() }  // written once, read after wait()
    let errBox = Box()
    let group = DispatchGroup()
    DispatchQueue.global().async(group: group) { errBox.data = err.fileHandleForReading.readDataToEndOfFile() }
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    group.wait()
    let errData = errBox.data
    process.waitUntilExit()
    return (String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self), process.terminationStatus)
}

@Suite("Command line")
struct CommandLineEndToEndTests {
    let model = Paths.tinyModel

    @Test func predictAnswersJPEGAndTextInInputOrder() throws {
        let good = Paths.fixture("images/good")
        let files = try FileManager.default.contentsOfDirectory(atPath: good).filter { $0.hasSuffix(".jpg") || $0.hasSuffix(".png") }.sorted()
        try #require(files.count >= 3)
        let lines = files.prefix(10).enumerated().map { i, name in
            "{\"image\": \"\(good)/\(name)\", \"text\": \"caption number \(i)\"}"
        }
        let all = try runCommand(["predict", "--model", model, "--max-batch", "4"], input: lines.joined(separator: "\n") + "\n")
        #expect(all.status == 0, "\(all.err)")
        let outputs = all.out.split(separator: "\n").map(String.init)
        #expect(outputs.count == lines.count)
        // Batching must not change any answer: each line alone gives the same label and gate.
        for (line, batched) in zip(lines, outputs).prefix(3) {
            let alone = try runCommand(["predict", "--model", model, "--max-batch", "1"], input: line + "\n")
            let a = try #require(try JSONSerialization.jsonObject(with: Data(alone.out.utf8)) as? [String: Any])
            let b = try #require(try JSONSerialization.jsonObject(with: Data(batched.utf8)) as? [String: Any])
            #expect(a["label"] as? String == b["label"] as? String)
            let ga = try #require(a["gate"] as? [String: Double]), gb = try #require(b["gate"] as? [String: Double])
            #expect(abs((ga["image"] ?? 0) - (gb["image"] ?? 1)) < 1e-5)
        }
    }

    @Test func predictReportsABadLineAndExitsNonZero() throws {
        let result = try runCommand(["predict", "--model", model], input: "{\"image\": \"/nonexistent.png\", \"text\": \"x\"}\n")
        #expect(result.status != 0)
        #expect(result.out.contains("\"error\""))
        #expect(result.out.contains("nonexistent.png"))
    }

    @Test func predictRefusesAHostileModelDirectoryInOneLine() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fs-bad-model-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.copyItem(atPath: model + "/config.json", toPath: dir.path + "/config.json")
        try FileManager.default.copyItem(atPath: model + "/vocab.txt", toPath: dir.path + "/vocab.txt")
        // A safetensors header claiming far more bytes than the file has.
        var bytes: [UInt8] = [0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0]
        bytes += Array("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}".utf8)
        try Data(bytes).write(to: dir.appendingPathComponent("model.safetensors"))
        let result = try runCommand(["predict", "--model", dir.path], input: "")
        #expect(result.status != 0)
        let lines = result.err.split(separator: "\n")
        #expect(lines.count == 1, "\(result.err)")
        #expect(result.err.contains("model.safetensors"))
    }

    @Test func tokenizeMatchesTheGoldenIds() throws {
        // The golden file was made by the Python `tokenizers` library with the full vocabulary.
        let vocab = Paths.fixture("vocab/bert-base-uncased/vocab.txt")
        let golden = try String(contentsOfFile: Paths.fixture("goldens/tokenizer/uncased.jsonl"), encoding: .utf8)
        var texts: [String] = [], expected: [[Int]] = []
        for line in golden.split(separator: "\n").prefix(200) {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            guard let text = object["text"] as? String, let ids = object["ids"] as? [Int],
                  (object["max_length"] as? Int) == 512 || object["max_length"] == nil else { continue }
            texts.append(text)
            expected.append(ids)
        }
        try #require(texts.count >= 50)
        let input = try texts.map { String(decoding: try JSONSerialization.data(withJSONObject: $0, options: .fragmentsAllowed), as: UTF8.self) }
        let result = try runCommand(["tokenize", "--vocab", vocab, "--max-length", "512"], input: input.joined(separator: "\n") + "\n")
        #expect(result.status == 0, "\(result.err)")
        let got = result.out.split(separator: "\n").map { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [Int]) ?? []
        }
        #expect(got == expected)
    }

    @Test func preprocessWritesTheTensorAndTheResizedImage() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fs-pre-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let image = try #require(try FileManager.default.contentsOfDirectory(atPath: Paths.fixture("images/good"))
            .sorted().first { $0.hasSuffix(".jpg") })
        let npy = dir.appendingPathComponent("x.npy").path, png = dir.appendingPathComponent("x.png").path
        let result = try runCommand(["preprocess", "--model", model, Paths.fixture("images/good/" + image),
                                     "--output", npy, "--resized", png])
        #expect(result.status == 0, "\(result.err)")
        let tensor = try #require(FileManager.default.contents(atPath: npy))
        // NPY header + 3·32·32 float32 values for the tiny model's 32-pixel input.
        #expect(tensor.count > 3 * 32 * 32 * 4)
        #expect(tensor.prefix(6) == Data([0x93] + Array("NUMPY".utf8)))
        let resized = try #require(FileManager.default.contents(atPath: png))
        #expect(resized.prefix(4) == Data([0x89, 0x50, 0x4E, 0x47]))
    }

    @Test func preprocessRefusesACorruptImageWithOneLine() throws {
        let bad = try #require(try FileManager.default.contentsOfDirectory(atPath: Paths.fixture("images/bad")).sorted().first)
        let result = try runCommand(["preprocess", "--model", model, Paths.fixture("images/bad/" + bad), "--output", "/tmp/never.npy"])
        #expect(result.status != 0)
        #expect(result.err.split(separator: "\n").count == 1, "\(result.err)")
    }
}
