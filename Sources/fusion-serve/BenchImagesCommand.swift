import ArgumentParser
import Foundation
import Images

/// `fusion-serve bench-images FILE...`: one-thread timings of the image pipeline
/// (decode, resize, normalise), medians per file. tools/reference/bench_images.py runs
/// it next to Pillow + torchvision on the same files.
struct BenchImagesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-images",
        abstract: "Time JPEG/PNG decode + resize + normalise (one thread, medians).")

    @Argument(help: "JPEG or PNG files to time.")
    var files: [String]

    @Option(help: "Output side length S.")
    var size = 224

    @Option(help: "Timed repetitions per stage and file.")
    var iterations = 30

    @Flag(help: "Print one JSON object per file instead of a table.")
    var json = false

    func run() throws {
        let preprocessor = ImagePreprocessor(size: size, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225])
        if !json {
            print("file\tsize\tdecode_ms\tresize_ms\ttotal_ms")
        }
        for file in files {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw ValidationError("cannot read \(file)")
            }
            let result = try ImageBenchmark.run(bytes: [UInt8](data), preprocessor: preprocessor, iterations: iterations)
            if json {
                print("{\"file\": \"\(file)\", \"width\": \(result.width), \"height\": \(result.height), "
                    + "\"decode_ms\": \(result.decodeMilliseconds), \"resize_ms\": \(result.resizeMilliseconds), "
                    + "\"total_ms\": \(result.totalMilliseconds), \"iterations\": \(result.iterations)}")
            } else {
                print(String(format: "%@\t%dx%d\t%.3f\t%.3f\t%.3f", file, result.width, result.height,
                             result.decodeMilliseconds, result.resizeMilliseconds, result.totalMilliseconds))
            }
        }
    }
}
