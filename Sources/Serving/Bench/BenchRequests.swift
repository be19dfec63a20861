import JSON

/// The request bytes `fusion-serve bench` sends over and over.
public enum BenchRequests {
    /// `POST /v2/models/{model}/infer` with `items` copies of (`image`, `text`) as binary
    /// tensor data (BYTES, length-prefixed), asking for `logits` and `label` as binary outputs —
    /// what Triton's perf_analyzer sends with `-i http` and binary data.
    public static func openInference(host: String, model: String, image: [UInt8], text: String, items: Int) -> [UInt8] {
        let n = max(1, items)
        var imageData: [UInt8] = []
        var textData: [UInt8] = []
        imageData.reserveCapacity(n * (image.count + 4))
        for _ in 0..<n {
            appendElement(image, to: &imageData)
            appendElement(Array(text.utf8), to: &textData)
        }
        let json = JSONText.object([
            ("inputs", "[" + [
                tensor("image", n, imageData.count),
                tensor("text", n, textData.count),
            ].joined(separator: ",") + "]"),
            ("outputs", "[" + ["logits", "label"].map {
                JSONText.object([("name", JSONText.string($0)), ("parameters", #"{"binary_data":true}"#)])
            }.joined(separator: ",") + "]"),
        ])
        let body = Array(json.utf8) + imageData + textData
        let path = "/v2/models/\(percentEncoded(model))/infer"
        let head = "POST \(path) HTTP/1.1\r\nHost: \(host)\r\nContent-Type: application/octet-stream\r\n"
            + "Inference-Header-Content-Length: \(json.utf8.count)\r\nContent-Length: \(body.count)\r\n\r\n"
        return Array(head.utf8) + body
    }

    private static func tensor(_ name: String, _ n: Int, _ size: Int) -> String {
        JSONText.object([("name", JSONText.string(name)), ("datatype", #""BYTES""#), ("shape", "[\(n)]"),
                         ("parameters", JSONText.object([("binary_data_size", "\(size)")]))])
    }

    private static func appendElement(_ bytes: [UInt8], to out: inout [UInt8]) {
        withUnsafeBytes(of: UInt32(truncatingIfNeeded: bytes.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: bytes)
    }

    /// Unreserved characters as they are, everything else `%XX` (a model name in a path).
    static func percentEncoded(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                out += "%" + (byte < 16 ? "0" : "") + String(byte, radix: 16, uppercase: true)
            }
        }
        return out
    }
}
