#if canImport(Glibc)
import Glibc
#endif
import CFuzzerDriver
import HTTP
import Serving

/// libFuzzer entry: `multipart/form-data` bodies, through `MultipartFormData` and through
/// `InferRequest.parse` (the `/infer` form path).
///
/// Input: `Content-Type` value, a NUL byte, then the body. Without a NUL the whole input is
/// the body and the boundary is `XyZ` (the seeds' boundary). Any result must be a value or a
/// typed error, within the part limits.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzMultipart(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let input = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    let contentType: String
    let body: [UInt8]
    if let nul = input.firstIndex(of: 0) {
        contentType = String(decoding: input[..<nul], as: UTF8.self)
        body = Array(input[(nul + 1)...])
    } else {
        contentType = "multipart/form-data; boundary=XyZ"
        body = input
    }
    let limits = MultipartLimits()
    if let parts = try? MultipartFormData.parse(body, contentType: contentType, limits: limits) {
        precondition(parts.count <= limits.maxParts, "\(parts.count) parts, over the limit")
        precondition(parts.allSatisfy { $0.body.count <= body.count }, "a part longer than the body")
    }
    if let request = try? InferRequest.parse(body: body, contentType: contentType) {
        precondition(request.image.count <= body.count, "image longer than the body")
        precondition(request.id.map { $0.utf8.count <= InferRequest.maxIDLength } ?? true, "id over the limit")
    }
    return 0
}

// SwiftPM gives the executable its own `main` (this file's top-level code), so it hands the
// command line to libFuzzer's driver (Fuzz/CFuzzerDriver) rather than linking libFuzzer's.
var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv, fuzzMultipart))
