#if canImport(Glibc)
import Glibc
#endif
import CFuzzerDriver
import Images

/// libFuzzer entry: PNG (libpng through the `CImageCodecs` shim: bit depths 1–16, palettes, tRNS, interlacing).
///
/// Inputs that do not start with the signature are skipped (returning -1 keeps them out of
/// the corpus) so every execution reaches this decoder. A decode gives an `RGBImage` whose
/// size matches `ImageDecoder.header(of:)`, or a typed `ImageError`. The pixel cap keeps
/// one input at 1 megapixel (3 MB of pixels, a cheap execution), far below libFuzzer's RSS limit.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPNG(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    guard bytes.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) else { return -1 }
    do {
        let image = try ImageDecoder.decode(bytes, maxPixels: 1_000_000)
        let header = try ImageDecoder.header(of: bytes)
        precondition(header.format == .png, "sniffed as \(header.format)")
        precondition(image.width == header.width && image.height == header.height, "size differs from the header")
        precondition(image.pixels.count == image.width * image.height * 3, "pixel buffer of the wrong size")
    } catch {
        precondition(error is ImageError, "untyped error \(error)")
    }
    return 0
}

// SwiftPM gives the executable its own `main` (this file's top-level code), so it hands the
// command line to libFuzzer's driver (Fuzz/CFuzzerDriver) rather than linking libFuzzer's.
var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv, fuzzPNG))
