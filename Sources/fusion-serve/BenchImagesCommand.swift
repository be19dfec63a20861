import ArgumentParser
import Foundation
import Images

/// `fusion-serve bench-images FILE...`: one-thread timings of the image pipeline
/// (decode, resize, normalise): thread CPU time, minimum and median per file. tools/reference/bench_images.py runs
/// it next to Pillow + torchvision on the same files.
struct BenchImagesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-images",
        abstract: "Time JPEG/PNG decode + resize + normalise (one thread, min and median).")

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
            print("file\tsize\tdecode_ms(min/median)\tresize_ms(min/median)\ttotal_ms(min/median)")
        }
        for file in files {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw ValidationError("cannot read \(file)")
            }
            let result = try ImageBenchmark.run(bytes: [UInt8](data), preprocessor: preprocessor, iterations: iterations)
            if json {
                var fields = ["\"width\": \(result.width)", "\"height\": \(result.height)",
                              "\"iterations\": \(result.iterations)"]
                for (name, timing) in [("decode", result.decode), ("resize", result.resize), ("total", result.total)] {
                    fields.append("\"\(name)_min_ms\": \(timing.minimum)")
                    fields.append("\"\(name)_median_ms\": \(timing.median)")
                }
                print("{" + fields.joined(separator: ", ") + "}")
            } else {
                let cells = [result.decode, result.resize, result.total]
                    .map { String(format: "%.3f/%.3f", $0.minimum, $0.median) }
                print("\(file)\t\(result.width)x\(result.height)\t" + cells.joined(separator: "\t"))
            }
        }
    }
}
