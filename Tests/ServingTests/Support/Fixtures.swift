import Foundation

/// Paths of committed test fixtures, found from this file up to the repository root.
enum Fixtures {
    static let root: URL = {
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/" {
            url.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url }
        }
        return URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
    }()

    static var tinyModel: String { root.appendingPathComponent("Tests/Fixtures/models/tiny-f32").path }

    static func image(_ relative: String) -> [UInt8] {
        let path = root.appendingPathComponent("Tests/Fixtures/images/\(relative)").path
        return (FileManager.default.contents(atPath: path)).map { [UInt8]($0) } ?? []
    }
}
