import CFuzzerDriver
import Foundation
import Model

/// libFuzzer entry: a model directory's `config.json` (JSON decoding plus validation).
///
/// Any input gives a validated `ModelConfig` or a typed `ModelError`. An accepted config must
/// survive a round trip: encoded with `JSONEncoder` and decoded again it is equal and valid.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzModelConfig(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = data.map { Data(bytes: $0, count: size) } ?? Data()
    guard let config = try? ModelConfig.decode(bytes) else { return 0 }
    do {
        let again = try ModelConfig.decode(JSONEncoder().encode(config))
        precondition(again == config, "round trip changed the config")
    } catch {
        fatalError("an accepted config does not round-trip: \(error)")
    }
    return 0
}

// SwiftPM gives the executable its own `main` (this file's top-level code), so it hands the
// command line to libFuzzer's driver (Fuzz/CFuzzerDriver) rather than linking libFuzzer's.
var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv, fuzzModelConfig))
