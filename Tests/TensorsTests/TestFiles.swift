import Foundation

/// Temporary files for tests; each call gets a fresh path that is removed at process exit
/// only by the OS's temp cleaning, so names are unique per test run.
enum TestFiles {
    static func write(_ bytes: [UInt8], name: String = "t.safetensors") throws -> String {
        let dir = FileManager.default.temporaryDirectory
            .appendingPathComponent("tensors-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let url = dir.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url.path
    }

    /// A raw safetensors file: `length` overrides the 8-byte header length.
    static func raw(header: String, data: [UInt8] = [], length: UInt64? = nil) -> [UInt8] {
        let json = Array(header.utf8)
        let n = length ?? UInt64(json.count)
        var out: [UInt8] = (0..<8).map { UInt8(truncatingIfNeeded: n >> (8 * UInt64($0))) }
        out += json
        out += data
        return out
    }
}
