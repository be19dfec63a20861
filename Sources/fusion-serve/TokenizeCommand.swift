import ArgumentParser
import Foundation
import Model
import Tokenizer

/// `fusion-serve tokenize`: JSON Lines of strings on stdin → one JSON array of token ids per
/// line on stdout (`[CLS] … [SEP]`, truncated to the model's `max_text_length`, no padding).
struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Tokenize JSON-string lines from stdin into JSON arrays of token ids.",
        discussion: """
            Each input line must be one JSON string, e.g. "A dog on a beach." Each output line \
            is the ids BertTokenizerFast gives it: [101,1037,3899,2006,1037,3509,1012,102]. \
            The first bad line stops the run with a message naming its line number.
            """)

    @Option(help: "Model directory: reads vocab.txt and preprocess.do_lower_case / max_text_length from config.json (default: the embedded default model).")
    var model: String?

    @Option(help: "A vocab.txt to use instead of --model (do_lower_case defaults to true, max length to 512).")
    var vocab: String?

    @Option(help: "Override the maximum number of ids per line, [CLS] and [SEP] included.")
    var maxLength: Int?

    @Flag(inversion: .prefixedNo, help: "Override do_lower_case (lower-case and strip accents).")
    var doLowerCase: Bool?

    func validate() throws {
        guard model == nil || vocab == nil else {
            throw ValidationError("give --model DIR or --vocab FILE, not both")
        }
    }

    func run() throws {
        let setup: TokenizerSetup
        do {
            setup = try TokenizerSetup(model: model, vocab: vocab, maxLength: maxLength, doLowerCase: doLowerCase)
        } catch {
            TokenizeOutput.fail("tokenize: \(error)")
        }
        var output = TokenizeOutput()
        var reader = JSONLinesReader(file: StandardStreams.input, maxLineBytes: 64 << 20)
        var lineNumber = 0
        while true {
            let line: [UInt8]?
            do {
                line = try reader.next()
            } catch {
                output.flush()
                TokenizeOutput.fail("tokenize: line \(lineNumber + 1): \(error)")
            }
            guard let line else { break }
            lineNumber += 1
            guard let text = Self.decodeJSONString(line) else {
                output.flush()
                TokenizeOutput.fail("tokenize: line \(lineNumber): not a JSON string")
            }
            let ids = setup.tokenizer.encode(text, maxLength: setup.maxLength)
            output.write("[" + ids.map(String.init).joined(separator: ",") + "]\n")
        }
        output.flush()
    }

    /// The string a JSON line holds, or nil if the line is anything else.
    static func decodeJSONString(_ line: [UInt8]) -> String? {
        var bytes = line[...]
        if bytes.last == UInt8(ascii: "\r") { bytes = bytes.dropLast() }
        return try? JSONDecoder().decode(String.self, from: Data(bytes))
    }
}

/// The tokenizer and maximum length a command uses, from a model directory or a vocab file.
struct TokenizerSetup {
    let tokenizer: BertTokenizer
    let maxLength: Int

    struct SetupError: Error, CustomStringConvertible {
        let description: String
    }

    init(model: String?, vocab: String?, maxLength: Int?, doLowerCase: Bool?) throws {
        var lower = doLowerCase ?? true
        var length = maxLength ?? 512
        let vocabFile: String
        if vocab == nil {
            let directory = try DefaultModel.resolve(model ?? DefaultModel.directory)
            let config = try ModelConfig.load(path: (directory as NSString).appendingPathComponent("config.json"))
            lower = doLowerCase ?? config.preprocess.doLowerCase
            length = maxLength ?? config.preprocess.maxTextLength
            vocabFile = (directory as NSString).appendingPathComponent("vocab.txt")
        } else {
            vocabFile = vocab ?? "vocab.txt"
        }
        guard length >= 2 else {
            throw SetupError(description: "maximum length \(length) leaves no room for [CLS] and [SEP]")
        }
        tokenizer = try BertTokenizer(vocabFile: vocabFile, doLowerCase: lower)
        self.maxLength = length
    }
}

/// Reads `\n`-terminated lines from a C stream, each at most `maxLineBytes` long.
struct JSONLinesReader {
    struct LineTooLong: Error, CustomStringConvertible {
        let limit: Int
        var description: String { "line longer than \(limit) bytes" }
    }

    let file: UnsafeMutablePointer<FILE>
    let maxLineBytes: Int
    private var buffer: [UInt8] = []
    private var start = 0
    private var atEnd = false

    init(file: UnsafeMutablePointer<FILE>, maxLineBytes: Int) {
        self.file = file
        self.maxLineBytes = maxLineBytes
    }

    /// The next line without its `\n`, or nil at the end of input.
    mutating func next() throws -> [UInt8]? {
        var scanFrom = start
        while true {
            if let newline = buffer[scanFrom...].firstIndex(of: 0x0A) {
                let line = Array(buffer[start..<newline])
                start = newline + 1
                return line
            }
            if buffer.count - start > maxLineBytes { throw LineTooLong(limit: maxLineBytes) }
            if atEnd {
                guard start < buffer.count else { return nil }
                let line = Array(buffer[start...])
                start = buffer.count
                return line
            }
            if start > 0 {
                buffer.removeSubrange(0..<start)
                start = 0
            }
            scanFrom = buffer.count
            var chunk = [UInt8](repeating: 0, count: 1 << 16)
            let n = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, file) }
            buffer.append(contentsOf: chunk[0..<n])
            if n < chunk.count { atEnd = true }
        }
    }
}

/// Buffered stdout and one-line failures on stderr.
struct TokenizeOutput {
    private var pending: [UInt8] = []

    mutating func write(_ text: String) {
        pending.append(contentsOf: text.utf8)
        if pending.count >= 1 << 16 { flush() }
    }

    mutating func flush() {
        pending.withUnsafeBytes { _ = fwrite($0.baseAddress, 1, $0.count, StandardStreams.output) }
        fflush(StandardStreams.output)
        pending.removeAll(keepingCapacity: true)
    }

    /// Prints `fusion-serve <message>` on stderr and exits with status 1.
    static func fail(_ message: String) -> Never {
        fputs("fusion-serve \(message)\n", StandardStreams.error)
        Foundation.exit(1)
    }
}
