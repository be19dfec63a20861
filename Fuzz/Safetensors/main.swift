#if canImport(Glibc)
import Glibc
#endif
import CFuzzerDriver
import Tensors

/// libFuzzer entry: the safetensors header (8-byte length, JSON header, tensor table).
///
/// The input is a whole file. `SafetensorsHeader.parse` must give a header or a typed
/// `SafetensorsError`, and a header it accepts must keep its documented guarantees, which
/// are what make later tensor reads safe: every byte range inside the data section, sized
/// by dtype and shape, ranges in order without gaps or overlaps.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafetensors(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let file = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    let header: SafetensorsHeader
    do {
        header = try SafetensorsHeader.parse(path: "fuzz.safetensors", fileSize: file.count) { range in
            precondition(range.lowerBound >= 0 && range.upperBound <= file.count, "read \(range) outside the file")
            return Array(file[range])
        }
    } catch {
        return 0
    }
    let dataSize = file.count - header.dataOffset
    precondition(header.dataOffset >= 8 && dataSize >= 0, "data section outside the file")
    var covered = 0
    for entry in header.entries.sorted(by: { $0.dataRange.lowerBound < $1.dataRange.lowerBound }) {
        precondition(entry.dataRange.lowerBound == covered, "gap or overlap at \(entry.name)")
        precondition(entry.dataRange.upperBound <= dataSize, "\(entry.name) leaves the data section")
        precondition(entry.dataRange.count == entry.count * entry.dtype.size, "\(entry.name) sized wrongly")
        covered = entry.dataRange.upperBound
    }
    precondition(covered == dataSize, "data section not covered")
    return 0
}

// SwiftPM gives the executable its own `main` (this file's top-level code), so it hands the
// command line to libFuzzer's driver (Fuzz/CFuzzerDriver) rather than linking libFuzzer's.
var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv, fuzzSafetensors))
