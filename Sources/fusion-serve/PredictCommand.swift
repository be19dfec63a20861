import ArgumentParser
import Foundation
import Images
import JSON
import Model
import Tokenizer

/// `fusion-serve predict`: JSON Lines requests on stdin, one JSON result per line on stdout.
///
/// Each input line is `{"image": PATH, "text": STRING}`; `"input_ids": [ints]` may replace
/// `"text"` (ids with [CLS] … [SEP]). Images are JPEG/PNG files, or `.npy` float32 `[3, S, S]`
/// tensors (already normalised). Lines are run in batches of `--max-batch` and answered in input order;
/// a bad line gets `{"error": "..."}` in its place and the exit status becomes 1.
struct PredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Run a model on JSON Lines from stdin ({\"image\": PATH, \"text\": STRING} per line).")

    @Option(help: "Model directory (config.json, *.safetensors, vocab.txt); default: the embedded default model.")
    var model: String = DefaultModel.directory

    @Flag(help: "Include the fused embedding in each output.")
    var embedding = false

    @Option(help: "Requests per forward pass.")
    var maxBatch: Int = 8

    @Option(help: precisionHelp) var precision: Precision = .fp32
    @Option(help: backendHelp) var backend: Backend?

    @Option(help: "Threads for matrix products.")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    /// Longest input line accepted (an inline request is small; images are paths).
    static let maxLineBytes = 1 << 20

    func validate() throws {
        guard (1...FusionModel.maxBatchSize).contains(maxBatch) else {
            throw ValidationError("--max-batch must be in 1...\(FusionModel.maxBatchSize)")
        }
        guard (1...256).contains(threads) else { throw ValidationError("--threads must be in 1...256") }
    }

    func run() throws {
        FusionModel.setThreads(threads)
        let fusion: FusionModel
        let model: String
        do {
            model = try DefaultModel.resolve(self.model)
            fusion = try FusionModel.load(directory: model, precision: precision, backend: backend)
        } catch {
            FileHandle.standardError.write(Data("fusion-serve predict: \(error)\n".utf8))
            throw ExitCode(2)
        }
        let inputs: InputDecoder
        do {
            inputs = try InputDecoder(model: model, config: fusion.config)
        } catch {
            FileHandle.standardError.write(Data("fusion-serve predict: \(error)\n".utf8))
            throw ExitCode(2)
        }
        let labels = fusion.config.labels
        var pending: [(line: Int, result: Result<ModelInput, PredictLineError>)] = []
        var failed = false

        func flush() {
            let valid = pending.compactMap { try? $0.result.get() }
            var outputs: [ModelOutput] = []
            var batchError: String?
            if !valid.isEmpty {
                do { outputs = try fusion.forward(valid) } catch { batchError = "\(error)" }
            }
            var next = 0
            var text = ""
            for item in pending {
                switch item.result {
                case .success:
                    if let batchError {
                        text += errorLine(item.line, batchError)
                        failed = true
                    } else {
                        text += outputs[next].json(labels: labels, includeEmbedding: embedding) + "\n"
                    }
                    next += 1
                case let .failure(error):
                    text += errorLine(item.line, error.message)
                    failed = true
                }
            }
            FileHandle.standardOutput.write(Data(text.utf8))
            pending.removeAll(keepingCapacity: true)
        }

        var reader = LineReader(fd: 0, maxLineBytes: Self.maxLineBytes)
        var lineNumber = 0
        while let line = reader.next() {
            lineNumber += 1
            switch line {
            case let .tooLong(bytes):
                pending.append((lineNumber, .failure(PredictLineError("line is longer than \(bytes) bytes"))))
            case let .line(bytes):
                if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }  // blank
                let result: Result<ModelInput, PredictLineError>
                do { result = .success(try inputs.decode(line: bytes)) } catch { result = .failure(error) }
                pending.append((lineNumber, result))
            }
            if pending.count == maxBatch { flush() }
        }
        if !pending.isEmpty { flush() }
        if failed { throw ExitCode(1) }
    }

    private func errorLine(_ line: Int, _ message: String) -> String {
        "{\"line\":\(line),\"error\":\(JSONText.string(message))}\n"
    }
}

/// A request line that cannot be turned into a model input.
struct PredictLineError: Error {
    let message: String
    init(_ message: String) { self.message = message }
}

/// Turns one JSON request line into a `ModelInput`.
struct InputDecoder: Sendable {
    let config: ModelConfig
    /// Text → token ids (the model's WordPiece vocabulary).
    let tokenize: @Sendable (String) throws -> [Int32]
    /// Encoded image file bytes (JPEG/PNG) → normalised `[3, S, S]` pixels.
    let decodeImage: @Sendable ([UInt8]) throws -> [Float]

    /// Builds the input pipeline from the model directory: its `vocab.txt` and `preprocess`
    /// settings, exactly as the service does.
    init(model: String, config: ModelConfig, maxPixels: Int = ImageDecoder.defaultMaxPixels) throws {
        self.config = config
        let tokenizer = try BertTokenizer(vocabFile: model + "/vocab.txt",
                                          doLowerCase: config.preprocess.doLowerCase)
        let maxLength = config.preprocess.maxTextLength
        tokenize = { tokenizer.encode($0, maxLength: maxLength) }
        let preprocessor = ImagePreprocessor(size: config.imageEncoder.imageSize,
                                             mean: config.preprocess.mean, std: config.preprocess.std,
                                             maxPixels: maxPixels)
        decodeImage = { try preprocessor.tensor(from: $0) }
    }

    /// The fields of a request line; other fields are ignored.
    private struct Request: Decodable {
        var image: String?
        var text: String?
        var inputIds: [Int32]?

        enum CodingKeys: String, CodingKey {
            case image, text
            case inputIds = "input_ids"
        }
    }

    func decode(line: [UInt8]) throws(PredictLineError) -> ModelInput {
        let request: Request
        do {
            request = try JSONDecoder().decode(Request.self, from: Data(line))
        } catch let DecodingError.typeMismatch(_, context) {
            let field = context.codingPath.first?.stringValue ?? "line"
            throw PredictLineError(field == "line" ? "a line must be a JSON object" : "\"\(field)\" has the wrong type")
        } catch {
            throw PredictLineError("not a valid JSON object")
        }
        let pixels = try image(request.image)
        let ids = try tokens(text: request.text, ids: request.inputIds)
        return ModelInput(pixels: pixels, inputIds: ids)
    }

    func image(_ value: String?) throws(PredictLineError) -> [Float] {
        guard let path = value, !path.isEmpty else { throw PredictLineError("\"image\" must be a file path") }
        let size = config.imageEncoder.imageSize
        if path.lowercased().hasSuffix(".npy") {
            let array: NPYArray
            do {
                array = try NPYFile.readFloat32(path: path)
            } catch {
                throw PredictLineError(error.description)
            }
            guard array.shape == [3, size, size] else {
                throw PredictLineError("\(path): shape \(array.shape), the model needs [3, \(size), \(size)]")
            }
            return array.values
        }
        let bytes: [UInt8]
        do {
            bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        } catch {
            throw PredictLineError("\(path): cannot read: \((error as NSError).localizedDescription)")
        }
        do {
            return try decodeImage(bytes)
        } catch {
            throw PredictLineError("\(path): \(error)")
        }
    }

    func tokens(text: String?, ids: [Int32]?) throws(PredictLineError) -> [Int32] {
        switch (text, ids) {
        case (nil, nil):
            throw PredictLineError("a line needs \"text\" (or \"input_ids\")")
        case (.some, .some):
            throw PredictLineError("give either \"text\" or \"input_ids\", not both")
        case let (nil, ids?):
            let maxLength = config.preprocess.maxTextLength, vocab = config.textEncoder.vocabSize
            guard !ids.isEmpty, ids.count <= maxLength else {
                throw PredictLineError("\"input_ids\" has \(ids.count) ids, must have 1...\(maxLength) (max_text_length)")
            }
            guard ids.allSatisfy({ $0 >= 0 && Int($0) < vocab }) else {
                throw PredictLineError("\"input_ids\" must be integers in 0..<\(vocab)")
            }
            return ids
        case let (text?, nil):
            do {
                return try tokenize(text)
            } catch {
                throw PredictLineError("\(error)")
            }
        }
    }
}

/// Reads lines from a file descriptor with a bounded buffer: an over-long line is reported
/// (and skipped to its end) instead of growing memory without limit.
struct LineReader {
    enum Item {
        case line([UInt8])
        case tooLong(Int)
    }

    private let fd: Int32
    private let maxLineBytes: Int
    private var buffer: [UInt8] = []
    private var start = 0
    private var eof = false
    private var discarding = false

    init(fd: Int32, maxLineBytes: Int) {
        self.fd = fd
        self.maxLineBytes = maxLineBytes
    }

    mutating func next() -> Item? {
        while true {
            if let newline = buffer[start...].firstIndex(of: 0x0A) {
                let line = Array(buffer[start..<newline])
                start = newline + 1
                if discarding {
                    discarding = false
                    return .tooLong(maxLineBytes)
                }
                return .line(line)
            }
            if buffer.count - start > maxLineBytes {
                discarding = true
                buffer.removeAll(keepingCapacity: true)
                start = 0
            }
            if eof {
                guard start < buffer.count || discarding else { return nil }
                let line = Array(buffer[start...])
                buffer.removeAll()
                start = 0
                if discarding {
                    discarding = false
                    return .tooLong(maxLineBytes)
                }
                return .line(line)
            }
            if start > 0 {
                buffer.removeFirst(start)
                start = 0
            }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count > 0 {
                buffer += chunk[0..<count]
            } else if count == 0 || errno != EINTR {
                eof = true
            }
        }
    }
}
