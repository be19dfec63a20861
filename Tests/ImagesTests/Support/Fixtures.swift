import Foundation
import Testing
@testable import Images

/// Paths and goldens shared by the image tests. Everything comes from files the
/// Python reference (tools/reference/image_goldens.py) generated and committed.
enum Fixtures {
    static let repositoryRoot: URL = {
        var url = URL(fileURLWithPath: #filePath)
        while url.pathComponents.count > 1 {
            url.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) {
                return url
            }
        }
        return URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
    }()

    static let corpus = repositoryRoot.appendingPathComponent("Tests/Fixtures/images")
    static let goldens = repositoryRoot.appendingPathComponent("Tests/Fixtures/goldens/images")

    static func corpusBytes(_ relative: String) throws -> [UInt8] {
        try bytes(at: corpus.appendingPathComponent(relative))
    }

    static func goldenBytes(_ relative: String) throws -> [UInt8] {
        try bytes(at: goldens.appendingPathComponent(relative))
    }

    static func bytes(at url: URL) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: url))
    }

    static let manifest: Manifest = {
        do {
            let data = try Data(contentsOf: goldens.appendingPathComponent("manifest.json"))
            return try JSONDecoder().decode(Manifest.self, from: data)
        } catch {
            return Manifest(mean: [], std: [], max_pixels: 0, sizes: [], good: [], bad: [], resize_cases: [])
        }
    }()
}

/// Layout of Tests/Fixtures/goldens/images/manifest.json.
struct Manifest: Decodable {
    struct Golden: Decodable {
        let crc32: UInt32
        let file: String?
    }

    struct Good: Decodable, CustomTestStringConvertible {
        let file: String
        let pillow_mode: String
        let width: Int
        let height: Int
        let decoded: Golden
        let resized: [String: Golden]
        let tensors: [String: String]
        var testDescription: String { file }
    }

    struct Bad: Decodable, CustomTestStringConvertible {
        let file: String
        let error: String
        let pillow: String
        var testDescription: String { file }
    }

    struct ResizeCase: Decodable, CustomTestStringConvertible {
        let source: [Int]
        let target: [Int]
        let crc32: UInt32
        var testDescription: String { "\(source[0])x\(source[1]) -> \(target[0])x\(target[1])" }
    }

    let mean: [Float]
    let std: [Float]
    let max_pixels: Int
    let sizes: [Int]
    let good: [Good]
    let bad: [Bad]
    let resize_cases: [ResizeCase]
}

/// CRC-32 (zlib polynomial), to compare against the manifest.
enum CRC32 {
    private static let table: [UInt32] = (0..<256).map { n -> UInt32 in
        var c = UInt32(n)
        for _ in 0..<8 { c = (c & 1) != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func checksum(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes { crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
        return ~crc
    }
}

/// Minimal reader for the float32 `.npy` goldens numpy writes.
enum NPY {
    struct Array { let shape: [Int]; let values: [Float] }

    static func readFloat32(_ bytes: [UInt8]) -> Array? {
        guard bytes.count > 10, bytes[0] == 0x93, bytes[6] == 1 else { return nil }
        let headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
        guard bytes.count >= 10 + headerLength else { return nil }
        let header = String(decoding: bytes[10..<(10 + headerLength)], as: UTF8.self)
        guard header.contains("'<f4'"), header.contains("'fortran_order': False"),
              let open = header.range(of: "'shape': ("),
              let close = header[open.upperBound...].firstIndex(of: ")") else { return nil }
        let shape = header[open.upperBound..<close].split(separator: ",")
            .compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        let start = 10 + headerLength
        let count = (bytes.count - start) / 4
        var values = [Float](repeating: 0, count: count)
        for i in 0..<count {
            let o = start + 4 * i
            let bits = UInt32(bytes[o]) | UInt32(bytes[o + 1]) << 8 | UInt32(bytes[o + 2]) << 16 | UInt32(bytes[o + 3]) << 24
            values[i] = Float(bitPattern: bits)
        }
        return Array(shape: shape, values: values)
    }
}

/// The synthetic picture of image_goldens.py's `pattern`, bit for bit.
enum Pattern {
    static func image(width: Int, height: Int) throws -> RGBImage {
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        pixels.withUnsafeMutableBufferPointer { out in
            var i = 0
            for y in 0..<height {
                let ty = UInt32(truncatingIfNeeded: y) &* 2_246_822_519
                for x in 0..<width {
                    let tx = UInt32(truncatingIfNeeded: x) &* 2_654_435_761 &+ ty
                    for c in 0..<3 {
                        var t = tx &+ UInt32(c) &* 3_266_489_917
                        t ^= t >> 15
                        t = t &* 668_265_263
                        t ^= t >> 13
                        out[i] = UInt8(truncatingIfNeeded: x &+ 2 &* y &+ 50 &* c &+ Int(t & 63))
                        i += 1
                    }
                }
            }
        }
        return try RGBImage(width: width, height: height, pixels: pixels)
    }
}

/// Deterministic generator for the fuzz tests (SplitMix64).
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension ImageError {
    /// The manifest's name for this case.
    var kind: String {
        switch self {
        case .empty: return "empty"
        case .unsupportedFormat: return "unsupportedFormat"
        case .truncated: return "truncated"
        case .corrupt: return "corrupt"
        case .tooLarge: return "tooLarge"
        case .invalidDimensions: return "invalidDimensions"
        case .outOfMemory: return "outOfMemory"
        case .invalidArgument: return "invalidArgument"
        }
    }
}
