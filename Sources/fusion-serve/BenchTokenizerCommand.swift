import ArgumentParser
import Foundation
import Tokenizer

/// `fusion-serve bench-tokenizer`: single-thread tokenizer throughput on a JSON Lines corpus,
/// the same corpus `tools/reference/bench_tokenizer.py` feeds to Hugging Face `tokenizers`.
struct BenchTokenizerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-tokenizer",
        abstract: "Measure tokenizer throughput (one thread) on a JSON Lines corpus.",
        discussion: """
            Corpus lines are JSON strings or objects with a "text" field (and optionally \
            "kind"), e.g. Tests/Fixtures/goldens/tokenizer/uncased.jsonl. Each round encodes \
            every string --passes times; the median round is reported.
            """)

    @Option(help: "Model directory (vocab.txt + config.json).")
    var model: String?

    @Option(help: "A vocab.txt to use instead of --model.")
    var vocab: String?

    @Option(help: "JSON Lines corpus.")
    var corpus: String

    @Option(help: "Only lines whose \"kind\" is one of these (comma-separated).")
    var kinds: String?

    @Option(help: "Maximum ids per string, [CLS] and [SEP] included.")
    var maxLength: Int = 512

    @Flag(inversion: .prefixedNo, help: "Override do_lower_case.")
    var doLowerCase: Bool?

    @Option(help: "Passes over the corpus per round.")
    var passes: Int = 5

    @Option(help: "Timed rounds (the median is reported).")
    var rounds: Int = 7

    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    func validate() throws {
        guard (model == nil) != (vocab == nil) else {
            throw ValidationError("give exactly one of --model DIR or --vocab FILE")
        }
        guard (1...10_000).contains(passes), (1...1_000).contains(rounds) else {
            throw ValidationError("--passes must be 1...10000 and --rounds 1...1000")
        }
    }

    struct CorpusLine: Decodable {
        let text: String
        let kind: String?
    }

    func run() throws {
        let setup: TokenizerSetup
        do {
            setup = try TokenizerSetup(model: model, vocab: vocab, maxLength: maxLength, doLowerCase: doLowerCase)
        } catch {
            TokenizeOutput.fail("bench-tokenizer: \(error)")
        }
        let texts = loadCorpus()
        let tokenizer = setup.tokenizer
        let bytes = texts.reduce(0) { $0 + $1.utf8.count }

        // One untimed pass: builds the shared Unicode table and counts the ids.
        var tokens = 0
        for text in texts { tokens += tokenizer.encode(text, maxLength: setup.maxLength).count }

        var seconds: [Double] = []
        var sink = 0
        for _ in 0..<rounds {
            let start = DispatchTime.now().uptimeNanoseconds
            for _ in 0..<passes {
                for text in texts { sink &+= tokenizer.encode(text, maxLength: setup.maxLength).count }
            }
            seconds.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        if sink != tokens * rounds * passes { TokenizeOutput.fail("bench-tokenizer: encoding is not deterministic") }
        seconds.sort()
        let median = seconds[seconds.count / 2]
        let strings = Double(texts.count * passes)
        let result: [String: Any] = [
            "implementation": "swift BertTokenizer",
            "strings": texts.count, "bytes": bytes, "tokens": tokens,
            "passes": passes, "rounds": rounds, "max_length": setup.maxLength,
            "median_seconds": median,
            "strings_per_second": strings / median,
            "tokens_per_second": Double(tokens * passes) / median,
        ]
        if json {
            let data = try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        } else {
            print("corpus: \(texts.count) strings, \(bytes) bytes, \(tokens) ids per pass, max_length \(setup.maxLength)")
            print(String(format: "swift BertTokenizer: median %.4f s per %d passes → %.0f strings/s, %.0f tokens/s",
                         median, passes, strings / median, Double(tokens * passes) / median))
        }
    }

    private func loadCorpus() -> [String] {
        guard let data = FileManager.default.contents(atPath: corpus) else {
            TokenizeOutput.fail("bench-tokenizer: cannot read \(corpus)")
        }
        let wanted = kinds.map { Set($0.split(separator: ",").map(String.init)) }
        var texts: [String] = []
        for (index, line) in data.split(separator: UInt8(ascii: "\n")).enumerated() {
            let bytes = Array(line)
            if let text = TokenizeCommand.decodeJSONString(bytes) {
                if wanted == nil { texts.append(text) }
                continue
            }
            guard let entry = try? JSONDecoder().decode(CorpusLine.self, from: Data(bytes)) else {
                TokenizeOutput.fail("bench-tokenizer: \(corpus) line \(index + 1): not a JSON string or object with \"text\"")
            }
            if let wanted, !wanted.contains(entry.kind ?? "") { continue }
            texts.append(entry.text)
        }
        guard !texts.isEmpty else { TokenizeOutput.fail("bench-tokenizer: no strings selected from \(corpus)") }
        return texts
    }
}
