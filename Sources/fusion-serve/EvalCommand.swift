import ArgumentParser
import Dispatch
import Foundation
import JSON
import Model
import Locking

/// `fusion-serve eval`: accuracy of a model on labelled JSON Lines, through the same input
/// pipeline (JPEG/PNG decode, Pillow-exact resize, WordPiece) and forward pass the service uses.
///
/// Each line is `{"image": PATH, "text": STRING, "label": NAME or INDEX}`; relative image paths
/// are resolved against the data file's folder.
struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Measure accuracy on labelled JSON Lines ({\"image\", \"text\", \"label\"} per line).")

    @Option(help: "Model directory; default: the embedded default model.")
    var model: String = DefaultModel.directory

    @Argument(help: "JSON Lines file of labelled pairs.")
    var data: String

    @Option(help: "Requests per forward pass.")
    var maxBatch: Int = 8

    @Option(help: "Threads for matrix products and preprocessing.")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    @Option(help: precisionHelp) var precision: Precision = .fp32
    @Option(help: backendHelp) var backend: Backend?

    @Option(help: "Exit with status 3 if accuracy is below this fraction (0–1).")
    var minAccuracy: Double?

    @Flag(help: "Print the summary as one JSON object.")
    var json = false

    /// Largest data file accepted (an eval set is lines of paths and captions).
    static let maxDataBytes = 256 << 20

    func validate() throws {
        guard (1...FusionModel.maxBatchSize).contains(maxBatch) else {
            throw ValidationError("--max-batch must be in 1...\(FusionModel.maxBatchSize)")
        }
        guard (1...256).contains(threads) else { throw ValidationError("--threads must be in 1...256") }
        if let minAccuracy, !(0...1).contains(minAccuracy) {
            throw ValidationError("--min-accuracy must be in 0...1")
        }
    }

    /// One labelled line.
    private struct Example: Decodable {
        var image: String
        var text: String
        var label: LabelValue
    }

    /// A label given by name (`"match"`) or by index (`1`).
    private enum LabelValue: Decodable {
        case name(String), index(Int)
        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let index = try? container.decode(Int.self) { self = .index(index) } else {
                self = .name(try container.decode(String.self))
            }
        }
    }

    func run() throws {
        FusionModel.setThreads(threads)
        let directory: String
        let fusion: FusionModel
        let inputs: InputDecoder
        let examples: [(image: String, text: String, label: Int)]
        do {
            directory = try DefaultModel.resolve(model)
            fusion = try FusionModel.load(directory: directory, precision: precision, backend: backend)
            inputs = try InputDecoder(model: directory, config: fusion.config)
            examples = try loadExamples(labels: fusion.config.labels)
        } catch {
            CLIFiles.fail("eval", "\(error)")
        }
        let labels = fusion.config.labels
        var confusion = [[Int]](repeating: [Int](repeating: 0, count: labels.count), count: labels.count)
        var correct = 0
        let progress = ProgressBar(total: examples.count)
        let start = DispatchTime.now().uptimeNanoseconds
        var index = 0
        while index < examples.count {
            let batch = Array(examples[index..<min(index + maxBatch, examples.count)])
            // Decode the batch's images in parallel; the forward pass then uses every core too.
            let slots = Locked([Result<ModelInput, PredictLineError>](repeating: .failure(PredictLineError("")),
                                                                     count: batch.count))
            DispatchQueue.concurrentPerform(iterations: batch.count) { i in
                let result = Result { () throws(PredictLineError) in
                    try inputs.input(imagePath: batch[i].image, text: batch[i].text)
                }
                slots.withLock { $0[i] = result }
            }
            let decoded = slots.withLock { $0 }
            var modelInputs: [ModelInput] = []
            for (offset, result) in decoded.enumerated() {
                switch result {
                case let .success(input): modelInputs.append(input)
                case let .failure(error): CLIFiles.fail("eval", "line \(index + offset + 1): \(error.message)")
                }
            }
            let outputs: [ModelOutput]
            do { outputs = try fusion.forward(modelInputs) } catch { CLIFiles.fail("eval", "\(error)") }
            for (example, output) in zip(batch, outputs) {
                confusion[example.label][output.label] += 1
                if output.label == example.label { correct += 1 }
            }
            index += batch.count
            progress.update(index)
        }
        progress.finish()
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let accuracy = examples.isEmpty ? 0 : Double(correct) / Double(examples.count)
        print(summary(labels: labels, confusion: confusion, correct: correct, total: examples.count,
                      accuracy: accuracy, seconds: seconds))
        if let minAccuracy, accuracy < minAccuracy {
            FileHandle.standardError.write(Data("fusion-serve eval: accuracy \(accuracy) is below --min-accuracy \(minAccuracy)\n".utf8))
            throw ExitCode(3)
        }
    }

    private func loadExamples(labels: [String]) throws -> [(image: String, text: String, label: Int)] {
        let bytes = try CLIFiles.read(data)
        guard bytes.count <= Self.maxDataBytes else {
            throw CLIFiles.FileError(description: "\(data) is larger than \(Self.maxDataBytes) bytes")
        }
        let folder = (data as NSString).deletingLastPathComponent
        var examples: [(image: String, text: String, label: Int)] = []
        for (number, line) in bytes.split(separator: 0x0A, omittingEmptySubsequences: false).enumerated() {
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
            let example: Example
            do {
                example = try JSONDecoder().decode(Example.self, from: Data(line))
            } catch {
                throw CLIFiles.FileError(description: "\(data):\(number + 1): expected {\"image\": PATH, \"text\": STRING, \"label\": NAME or INDEX}")
            }
            let label: Int
            switch example.label {
            case let .index(value) where labels.indices.contains(value): label = value
            case let .name(name) where labels.contains(name): label = labels.firstIndex(of: name) ?? 0
            default:
                throw CLIFiles.FileError(description: "\(data):\(number + 1): label must be one of \(labels) or an index into it")
            }
            let path = example.image.hasPrefix("/") || folder.isEmpty
                ? example.image : (folder as NSString).appendingPathComponent(example.image)
            examples.append((path, example.text, label))
        }
        return examples
    }

    private func summary(labels: [String], confusion: [[Int]], correct: Int, total: Int,
                         accuracy: Double, seconds: Double) -> String {
        let rate = seconds > 0 ? Double(total) / seconds : 0
        if json {
            let rows = confusion.map { "[" + $0.map(String.init).joined(separator: ",") + "]" }.joined(separator: ",")
            let names = labels.map { JSONText.string($0) }.joined(separator: ",")
            return "{\"examples\":\(total),\"correct\":\(correct),\"accuracy\":\(accuracy),"
                + "\"labels\":[\(names)],\"confusion\":[\(rows)],\"seconds\":\(seconds),\"pairs_per_second\":\(rate)}"
        }
        let width = max(12, (labels.map(\.count).max() ?? 0) + 2)
        func pad(_ text: String) -> String { text.count >= width ? text : text + String(repeating: " ", count: width - text.count) }
        var lines = [String(format: "accuracy %.4f (%d/%d)", accuracy, correct, total),
                     "confusion (rows: true label, columns: predicted):",
                     pad("") + labels.map(pad).joined()]
        for (label, row) in zip(labels, confusion) {
            lines.append(pad(label) + row.map { pad(String($0)) }.joined())
        }
        lines.append(String(format: "throughput %.1f pairs/s (%.2f s, decode + tokenize + forward, max batch %d, %d threads)",
                            rate, seconds, maxBatch, threads))
        return lines.joined(separator: "\n")
    }
}

extension InputDecoder {
    /// The model input for an image file and a caption.
    func input(imagePath: String, text: String) throws(PredictLineError) -> ModelInput {
        ModelInput(pixels: try image(imagePath), inputIds: try tokens(text: text, ids: nil))
    }
}

/// A one-line progress bar on stderr, drawn only when stderr is a terminal.
final class ProgressBar {
    private let total: Int
    private let enabled: Bool
    private var lastDrawn = -1

    init(total: Int) {
        self.total = total
        enabled = isatty(2) != 0 && total > 0
    }

    func update(_ done: Int) {
        guard enabled else { return }
        let percent = done * 100 / total
        guard percent != lastDrawn else { return }
        lastDrawn = percent
        let filled = percent * 30 / 100
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: 30 - filled)
        FileHandle.standardError.write(Data("\r[\(bar)] \(done)/\(total)".utf8))
    }

    func finish() {
        if enabled { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
