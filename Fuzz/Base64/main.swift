#if canImport(Glibc)
import Glibc
#endif
import CFuzzerDriver
import Serving

/// libFuzzer entry: the strict base64 decoder of image fields.
///
/// Two checks per input: decoding the input as text never crashes (value or `Base64Error`),
/// and the input's bytes, encoded by the independent RFC 4648 encoder below, decode back to
/// the same bytes, with and without padding, and with line breaks every 76 characters.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzBase64(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    if let decoded = try? Base64.decode(String(decoding: bytes, as: UTF8.self)) {
        precondition(decoded.count <= bytes.count, "decoded more bytes than characters")
    }
    let padded = encode(bytes)
    let unpadded = String(padded.prefix { $0 != "=" })
    var wrapped = ""
    for (i, character) in padded.enumerated() {
        if i > 0 && i % 76 == 0 { wrapped += "\r\n" }
        wrapped.append(character)
    }
    for text in [padded, unpadded, wrapped, "data:image/png;base64," + padded] {
        guard let decoded = try? Base64.decode(text) else { fatalError("valid base64 refused: \(text)") }
        precondition(decoded == bytes, "round trip changed the bytes: \(text)")
    }
    return 0
}

private let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")

/// Plain RFC 4648 §4 encoding with padding (deliberately unlike the decoder's code).
private func encode(_ bytes: [UInt8]) -> String {
    var out = ""
    var i = 0
    while i < bytes.count {
        let b0 = Int(bytes[i])
        let b1 = i + 1 < bytes.count ? Int(bytes[i + 1]) : 0
        let b2 = i + 2 < bytes.count ? Int(bytes[i + 2]) : 0
        out.append(alphabet[b0 >> 2])
        out.append(alphabet[((b0 & 3) << 4) | (b1 >> 4)])
        out.append(i + 1 < bytes.count ? alphabet[((b1 & 15) << 2) | (b2 >> 6)] : "=")
        out.append(i + 2 < bytes.count ? alphabet[b2 & 63] : "=")
        i += 3
    }
    return out
}

// SwiftPM gives the executable its own `main` (this file's top-level code), so it hands the
// command line to libFuzzer's driver (Fuzz/CFuzzerDriver) rather than linking libFuzzer's.
var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv, fuzzBase64))
