import ArgumentParser
import Foundation
import Images
import Model

/// `fusion-serve preprocess`: one image through the model's input pipeline, written as the
/// normalised float32 `[3, S, S]` tensor (`.npy`) and optionally the resized RGB8 image (`.png`).
/// Used to check parity with the PyTorch pipeline (`numpy.load` + compare).
struct PreprocessCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "preprocess",
        abstract: "Decode, resize and normalise one image exactly as the model's training pipeline did.")

    @Option(help: "Model directory (its config.json gives image_size, mean and std).")
    var model: String = DefaultModel.directory

    @Argument(help: "A JPEG or PNG file.")
    var image: String

    @Option(help: "Where to write the float32 [3, S, S] tensor (NumPy .npy).")
    var output: String

    @Option(help: "Also write the resized S×S RGB image here (PNG).")
    var resized: String?

    @Option(help: "Refuse images with more pixels than this (decompression-bomb guard).")
    var maxPixels: Int = ImageDecoder.defaultMaxPixels

    func validate() throws {
        guard maxPixels > 0 else { throw ValidationError("--max-pixels must be positive") }
    }

    func run() throws {
        do {
            let config = try ModelConfig.load(path: try DefaultModel.resolve(model) + "/config.json")
            let preprocessor = ImagePreprocessor(size: config.imageEncoder.imageSize,
                                                 mean: config.preprocess.mean, std: config.preprocess.std,
                                                 maxPixels: maxPixels)
            let bytes = try CLIFiles.read(image)
            let square = try preprocessor.resized(from: bytes)
            let tensor = try preprocessor.tensor(from: square)
            let size = config.imageEncoder.imageSize
            try CLIFiles.write(try NPYWriter.float32(tensor, shape: [3, size, size]), to: output)
            if let resized {
                try CLIFiles.write(try PNGEncoder.encode(square), to: resized)
            }
        } catch {
            CLIFiles.fail("preprocess", "\(image): \(error)")
        }
    }
}

/// Small file helpers shared by the command-line tools: whole-file reads and writes with
/// errors that name the path, and the one-line failure convention (message on stderr, exit 1).
enum CLIFiles {
    struct FileError: Error, CustomStringConvertible {
        let description: String
    }

    /// Largest input file a command reads whole (a bigger "image" is a mistake, not a photo).
    static let maxReadBytes = 512 << 20

    static func read(_ path: String) throws -> [UInt8] {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw FileError(description: "cannot open \(path)")
        }
        defer { try? handle.close() }
        let data = try handle.read(upToCount: maxReadBytes + 1) ?? Data()
        guard data.count <= maxReadBytes else {
            throw FileError(description: "\(path) is larger than \(maxReadBytes) bytes")
        }
        return [UInt8](data)
    }

    static func write(_ bytes: [UInt8], to path: String) throws {
        guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else {
            throw FileError(description: "cannot write \(path)")
        }
    }

    /// Prints `fusion-serve <command>: <message>` on stderr and exits with status 1.
    static func fail(_ command: String, _ message: String) -> Never {
        FileHandle.standardError.write(Data("fusion-serve \(command): \(message)\n".utf8))
        Foundation.exit(1)
    }
}
