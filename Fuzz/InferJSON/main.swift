#if canImport(Glibc)
import Glibc
#endif
import CFuzzerDriver
import JSON
import Serving

/// libFuzzer entry: the JSON `/infer` body (`JSONParser`, field checks, base64 image).
///
/// Any input must give an `InferRequest` or an `APIError` (a 4xx), never a crash; an accepted
/// request respects the documented field limits.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzInferJSON(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let body = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    do {
        let request = try InferRequest.parse(body: body, contentType: "application/json; charset=utf-8")
        precondition(request.image.count <= body.count, "image longer than the body")
        precondition(request.id.map { !$0.isEmpty && $0.utf8.count <= InferRequest.maxIDLength } ?? true,
                     "id outside 1...\(InferRequest.maxIDLength) bytes")
        precondition(request.timeoutMilliseconds.map { $0 > 0 } ?? true, "non-positive timeout accepted")
    } catch {
        precondition((400..<500).contains(error.status.code), "status \(error.status.code) for a bad body")
    }
    _ = try? JSONParser.parse(body)
    return 0
}

// SwiftPM gives the executable its own `main` (this file's top-level code), so it hands the
// command line to libFuzzer's driver (Fuzz/CFuzzerDriver) rather than linking libFuzzer's.
var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv, fuzzInferJSON))
