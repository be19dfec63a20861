import Foundation
import Testing
@testable import Tokenizer

@Suite struct TextSplitterTests {
    /// Normalised + pre-tokenised words of runs of code points covering every scalar with
    /// non-trivial handling (and a sample of the rest), against `tokenizers`' own
    /// `pre_tokenize_str(normalize_str(text))`, for both casings.
    @Test(arguments: [true, false])
    func codePointWordsMatchTokenizers(lowercase: Bool) throws {
        let tokenizer = try Fixtures.tokenizer(lowercase: lowercase)
        let lines = try Fixtures.lines("goldens/tokenizer/codepoints.jsonl")
        #expect(lines.count > 500)
        var failures = 0
        for (index, line) in lines.enumerated() {
            let golden = try JSONDecoder().decode(WordsGolden.self, from: line)
            let expected = lowercase ? golden.uncased : golden.cased
            let got = tokenizer.preTokenize(golden.text)
            if got != expected {
                failures += 1
                if failures <= 10 {
                    Issue.record("""
                        codepoints.jsonl:\(index + 1) lowercase \(lowercase)
                          scalars:  \(scalarDump(golden.text))
                          expected: \(expected.map(scalarDump))
                          got:      \(got.map(scalarDump))
                        """)
                }
            }
        }
        #expect(failures == 0)
    }

    /// Every scalar, in runs of 24, and 20,000 random mixes of marks and letters. The 16 MB
    /// file is not committed: `make test-tokenizer-exhaustive` writes it under `.cache/`
    /// (ignored by git, with `tools/reference/tokenizer_goldens.py exhaustive`) and runs this
    /// test with `FUSION_TOKENIZER_EXHAUSTIVE=1`, which makes a missing file a failure. Without
    /// the variable the test runs wherever the file exists and is reported skipped otherwise.
    static let exhaustivePath = Fixtures.root.appendingPathComponent(".cache/tokenizer/exhaustive.jsonl").path
    static let exhaustiveRequired = ProcessInfo.processInfo.environment["FUSION_TOKENIZER_EXHAUSTIVE"] == "1"

    @Test(.enabled(if: exhaustiveRequired || FileManager.default.fileExists(atPath: exhaustivePath),
                   "no .cache/tokenizer/exhaustive.jsonl: run `make test-tokenizer-exhaustive`"),
          arguments: [true, false])
    func exhaustiveCodePointWordsMatchTokenizers(lowercase: Bool) throws {
        let tokenizer = try Fixtures.tokenizer(lowercase: lowercase)
        let data = try Data(contentsOf: URL(fileURLWithPath: Self.exhaustivePath))
        var failures = 0
        for line in data.split(separator: UInt8(ascii: "\n")) {
            let golden = try JSONDecoder().decode(WordsGolden.self, from: Data(line))
            let expected = lowercase ? golden.uncased : golden.cased
            let got = tokenizer.preTokenize(golden.text)
            if got != expected {
                failures += 1
                if failures <= 10 {
                    Issue.record("scalars \(scalarDump(golden.text)): expected \(expected.map(scalarDump)), got \(got.map(scalarDump))")
                }
            }
        }
        #expect(failures == 0)
    }

    /// Overlong words keep only a prefix of their bytes but their full scalar count, so
    /// WordPiece still sees that they are over the limit.
    @Test func overlongWordsAreCountedNotStored() {
        struct Recorder: WordSink {
            var words: [(bytes: Int, scalars: Int)] = []
            mutating func word(_ bytes: UnsafeBufferPointer<UInt8>, scalars: Int) -> Bool {
                words.append((bytes.count, scalars))
                return true
            }
            mutating func special(_ id: Int32) -> Bool { true }
        }
        let text = Array((String(repeating: "é", count: 300) + " x").utf8)
        let words = text.withUnsafeBufferPointer { text in
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: WordBuffer.byteCapacity) { word in
                withUnsafeTemporaryAllocation(of: UInt32.self, capacity: WordBuffer.runCapacity) { run in
                    var splitter = TextSplitter(table: .shared, lowercase: false, specials: [],
                                                word: word, run: run, sink: Recorder())
                    splitter.split(text)
                    return splitter.sink.words
                }
            }
        }
        #expect(words.count == 2)
        #expect(words[0].scalars == 300)
        #expect(words[0].bytes <= WordBuffer.byteCapacity)
        #expect(words[1].scalars == 1 && words[1].bytes == 1)
    }

    /// A sink that says stop is not called again.
    @Test func stopsWhenTheSinkSaysSo() {
        struct StopAfterTwo: WordSink {
            var calls = 0
            mutating func word(_ bytes: UnsafeBufferPointer<UInt8>, scalars: Int) -> Bool {
                calls += 1
                return calls < 2
            }
            mutating func special(_ id: Int32) -> Bool {
                calls += 1
                return calls < 2
            }
        }
        let text = Array("one two three four [CLS] five".utf8)
        let calls = text.withUnsafeBufferPointer { text in
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: WordBuffer.byteCapacity) { word in
                withUnsafeTemporaryAllocation(of: UInt32.self, capacity: WordBuffer.runCapacity) { run in
                    var splitter = TextSplitter(table: .shared, lowercase: true,
                                                specials: [SpecialToken(bytes: Array("[CLS]".utf8), id: 7)],
                                                word: word, run: run, sink: StopAfterTwo())
                    splitter.split(text)
                    return splitter.sink.calls
                }
            }
        }
        #expect(calls == 2)
    }

    /// Malformed UTF-8 (impossible in a Swift String, possible in a raw buffer) is skipped
    /// byte by byte without reading past the end.
    @Test func malformedBytesAreSkipped() {
        let inputs: [[UInt8]] = [[0xFF], [0xC3], [0xE2, 0x82], [0xF0, 0x9F, 0x98], [0x61, 0x80, 0x62],
                                 [0xC3, 0x41], [0xF4, 0x90, 0x80, 0x80], [0xED, 0xA0, 0x80]]
        for bytes in inputs {
            let words = bytes.withUnsafeBufferPointer { text in
                withUnsafeTemporaryAllocation(of: UInt8.self, capacity: WordBuffer.byteCapacity) { word in
                    withUnsafeTemporaryAllocation(of: UInt32.self, capacity: WordBuffer.runCapacity) { run in
                        var splitter = TextSplitter(table: .shared, lowercase: true, specials: [],
                                                    word: word, run: run, sink: WordCollector())
                        splitter.split(text)
                        return splitter.sink.words
                    }
                }
            }
            let ascii = bytes.filter { $0 < 0x80 }.map { String(UnicodeScalar($0)).lowercased() }
            #expect(words.joined() == ascii.joined(), "\(bytes)")
        }
    }
}
