import Foundation
import Testing

/// Locates committed fixtures from this file's path (no SwiftPM resources needed).
enum Fixtures {
    static let repoRoot: URL = {
        var url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while url.path != "/" {
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url }
            url.deleteLastPathComponent()
        }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }()

    static func model(_ name: String) -> String {
        repoRoot.appendingPathComponent("Tests/Fixtures/models/\(name)").path
    }

    static func golden(_ name: String) -> URL {
        repoRoot.appendingPathComponent("Tests/Fixtures/goldens/model/\(name).json")
    }

    /// A fresh empty directory under the system temp folder.
    static func temporaryDirectory(_ label: String = "model") throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(label)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url.path
    }

    /// A copy of a fixture model directory that a test may modify.
    static func copyOfModel(_ name: String) throws -> String {
        let target = try temporaryDirectory(name)
        for file in try FileManager.default.contentsOfDirectory(atPath: model(name)) {
            try FileManager.default.copyItem(atPath: model(name) + "/" + file, toPath: target + "/" + file)
        }
        return target
    }
}

/// One golden case computed alone by the PyTorch reference.
struct GoldenCase {
    var pixels: [Float]
    var inputIds: [Int32]
    var logits: [Float]
    var scores: [Float]
    var gate: [Float]
    var embedding: [Float]
    var label: Int

    static func load(_ name: String) throws -> [GoldenCase] {
        let data = try Data(contentsOf: Fixtures.golden(name))
        guard let root = try JSONSerialization.jsonObject(with: data) as? [String: Any],
              let cases = root["cases"] as? [[String: Any]] else {
            throw GoldenError.malformed(name)
        }
        func floats(_ value: Any?) throws -> [Float] {
            guard let numbers = value as? [NSNumber] else { throw GoldenError.malformed(name) }
            return numbers.map { $0.floatValue }
        }
        return try cases.map { c in
            guard let ids = c["input_ids"] as? [NSNumber], let label = c["label"] as? NSNumber else {
                throw GoldenError.malformed(name)
            }
            return GoldenCase(pixels: try floats(c["pixels"]), inputIds: ids.map { $0.int32Value },
                              logits: try floats(c["logits"]), scores: try floats(c["scores"]),
                              gate: try floats(c["gate"]), embedding: try floats(c["embedding"]),
                              label: label.intValue)
        }
    }
}

enum GoldenError: Error { case malformed(String) }

/// Largest |a[i] - b[i]|; infinity when the lengths differ.
func maxAbsDiff(_ a: [Float], _ b: [Float]) -> Float {
    guard a.count == b.count else { return .infinity }
    return zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
}
