#if canImport(Glibc)
import Glibc
#endif
import CFuzzerDriver
import Tokenizer

/// The shipped BERT vocabulary (`FUZZ_VOCAB` overrides the path), loaded once.
private let bert: BertTokenizer = {
    let path = (getenv("FUZZ_VOCAB").map { String(cString: $0) })
        ?? "/" + #filePath.split(separator: "/").dropLast(3).joined(separator: "/")
            + "/Tests/Fixtures/vocab/bert-base-uncased/vocab.txt"
    do {
        return try BertTokenizer(vocabFile: path, doLowerCase: true)
    } catch {
        fatalError("cannot load the fuzzing vocabulary \(path): \(error)")
    }
}()

/// libFuzzer entry: the BERT tokenizer (normalisation, splitting, WordPiece) and `vocab.txt`
/// parsing.
///
/// The input is tokenized as text (bytes decoded as UTF-8 with repair, as the server does
/// with JSON strings) with the real vocabulary, at a length taken from the first byte; the
/// ids must be `[CLS] … [SEP]`, within the length and the vocabulary. The same bytes are
/// also parsed as a `vocab.txt`, which must give a tokenizer or a typed error.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTokenizer(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    let maxLength = bytes.first.map { 2 + Int($0) % 128 } ?? 128
    let text = String(decoding: bytes, as: UTF8.self)
    for (tokenizer, length) in [(bert, 128), (bert, maxLength)] {
        let ids = tokenizer.encode(text, maxLength: length)
        precondition(ids.count >= 2 && ids.count <= length, "\(ids.count) ids for maxLength \(length)")
        precondition(ids.first == tokenizer.clsId && ids.last == tokenizer.sepId, "not [CLS] … [SEP]")
        precondition(ids.allSatisfy { $0 >= 0 && Int($0) < tokenizer.vocabularySize }, "id outside the vocabulary")
    }
    if let own = try? BertTokenizer(vocabularyBytes: bytes, doLowerCase: bytes.count % 2 == 0) {
        let ids = own.encode(text, maxLength: 64)
        precondition(ids.count <= 64 && ids.allSatisfy { Int($0) < own.vocabularySize }, "bad ids from a fuzzed vocabulary")
    }
    return 0
}

// SwiftPM gives the executable its own `main` (this file's top-level code), so it hands the
// command line to libFuzzer's driver (Fuzz/CFuzzerDriver) rather than linking libFuzzer's.
var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv, fuzzTokenizer))
