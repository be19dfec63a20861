import Foundation
import Tokenizer

/// Locates committed fixtures from this file's path (no package resources needed).
enum Fixtures {
    static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func path(_ relative: String) -> String {
        root.appendingPathComponent("Tests/Fixtures").appendingPathComponent(relative).path
    }

    static let vocabPath = path("vocab/bert-base-uncased/vocab.txt")

    static func lines(_ relative: String) throws -> [Data] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path(relative)))
        return data.split(separator: UInt8(ascii: "\n")).map { Data($0) }
    }

    static func tokenizer(lowercase: Bool) throws -> BertTokenizer {
        try BertTokenizer(vocabFile: vocabPath, doLowerCase: lowercase)
    }
}

/// One line of `goldens/tokenizer/{uncased,cased}.jsonl`.
struct IdGolden: Decodable {
    let kind: String
    let text: String
    let max_length: Int
    let ids: [Int32]
}

/// One line of `goldens/tokenizer/codepoints.jsonl`.
struct WordsGolden: Decodable {
    let text: String
    let uncased: [String]
    let cased: [String]
}

/// The scalars of a string as `U+XXXX` (failure messages must show invisible characters).
func scalarDump(_ text: String) -> String {
    text.unicodeScalars.map { "U+" + String($0.value, radix: 16, uppercase: true) }.joined(separator: " ")
}
