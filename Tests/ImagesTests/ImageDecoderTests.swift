import Testing
@testable import Images

/// Decoding equals Pillow's `Image.open(f).convert("RGB")` for every corpus file, and
/// every bad file fails with the error kind the manifest expects.
@Suite struct ImageDecoderTests {
    @Test func manifestIsLoaded() {
        #expect(Fixtures.manifest.good.count >= 40)
        #expect(Fixtures.manifest.bad.count >= 20)
    }

    @Test(arguments: Fixtures.manifest.good)
    func decodesLikePillow(_ entry: Manifest.Good) throws {
        let image = try ImageDecoder.decode(try Fixtures.corpusBytes(entry.file))
        #expect(image.width == entry.width)
        #expect(image.height == entry.height)
        #expect(image.pixels.count == entry.width * entry.height * 3)
        #expect(CRC32.checksum(image.pixels) == entry.decoded.crc32, "CRC of decoded \(entry.file) (Pillow mode \(entry.pillow_mode))")
        if let file = entry.decoded.file {
            let golden = try ImageDecoder.decode(try Fixtures.goldenBytes(file))
            #expect(CRC32.checksum(golden.pixels) == entry.decoded.crc32, "golden PNG \(file) reads back")
            let mismatch = zip(image.pixels, golden.pixels).enumerated().first { $0.element.0 != $0.element.1 }
            #expect(mismatch == nil, "first differing byte of \(entry.file): \(String(describing: mismatch))")
        }
    }

    @Test(arguments: Fixtures.manifest.good)
    func headerMatchesDecodedSize(_ entry: Manifest.Good) throws {
        let header = try ImageDecoder.header(of: try Fixtures.corpusBytes(entry.file))
        #expect(header.width == entry.width && header.height == entry.height)
        #expect(header.format == (entry.file.hasSuffix(".png") ? .png : .jpeg))
    }

    @Test(arguments: Fixtures.manifest.bad)
    func refusesBadFile(_ entry: Manifest.Bad) throws {
        let bytes = try Fixtures.corpusBytes(entry.file)
        do {
            let image = try ImageDecoder.decode(bytes, maxPixels: Fixtures.manifest.max_pixels)
            Issue.record("\(entry.file) decoded to \(image.width)x\(image.height); expected \(entry.error) (Pillow: \(entry.pillow))")
        } catch let error as ImageError {
            #expect(error.kind == entry.error, "\(entry.file): \(error)")
            #expect(!error.description.isEmpty)
        }
    }

    @Test func bombIsRefusedWithItsDimensions() throws {
        let bytes = try Fixtures.corpusBytes("bad/bomb_60000x60000.png")
        #expect(throws: ImageError.tooLarge(width: 60000, height: 60000, limit: 50_000_000)) {
            try ImageDecoder.decode(bytes)
        }
    }

    @Test func pixelLimitIsConfigurable() throws {
        let bytes = try Fixtures.corpusBytes("good/jpeg_rgb_420_225x223.jpg")
        #expect(throws: ImageError.tooLarge(width: 225, height: 223, limit: 225 * 223 - 1)) {
            try ImageDecoder.decode(bytes, maxPixels: 225 * 223 - 1)
        }
        #expect(try ImageDecoder.decode(bytes, maxPixels: 225 * 223).width == 225)
        #expect(throws: ImageError.self) { try ImageDecoder.decode(bytes, maxPixels: 0) }
    }

    @Test func emptyAndOtherFormatsAreTyped() {
        #expect(throws: ImageError.empty) { try ImageDecoder.decode([]) }
        #expect(throws: ImageError.unsupportedFormat("GIF")) { try ImageDecoder.decode(Array("GIF89a....".utf8)) }
        #expect(throws: ImageError.unsupportedFormat("unknown")) { try ImageDecoder.decode([1, 2, 3, 4, 5]) }
    }

    @Test func missingEndOfImageMarkerIsTruncated() throws {
        // libjpeg reads ahead for the last MCUs, so without EOI the data runs out
        // before the last scanline; Pillow then raises "image file is truncated".
        let bytes = try Fixtures.corpusBytes("good/jpeg_rgb_420_225x223.jpg")
        #expect(bytes.suffix(2) == [0xFF, 0xD9])
        do {
            _ = try ImageDecoder.decode(Array(bytes.dropLast(2)))
            Issue.record("a JPEG without EOI decoded")
        } catch let error as ImageError {
            #expect(error.kind == "truncated", "\(error)")
        }
    }

    @Test func bytesAfterEndOfImageAreIgnored() throws {
        let bytes = try Fixtures.corpusBytes("good/jpeg_rgb_420_225x223.jpg")
        let full = try ImageDecoder.decode(bytes)
        #expect(try ImageDecoder.decode(bytes + Array("trailing garbage".utf8)) == full)
    }

    @Test func missingIENDIsAccepted() throws {
        // Pillow never reads past the image data of a PNG.
        let bytes = try Fixtures.corpusBytes("good/png_rgb_225x223.png")
        let full = try ImageDecoder.decode(bytes)
        let cut = try ImageDecoder.decode(Array(bytes.dropLast(12)))
        #expect(cut == full)
    }

    @Test func progressiveScanFloodIsRefused() throws {
        // Repeat the last scan of a progressive JPEG until it has more scans than the
        // guard allows; libjpeg would only warn about the bogus progression.
        let bytes = try Fixtures.corpusBytes("good/jpeg_progressive_320x240.jpg")
        var lastScan = 0
        for i in 0..<(bytes.count - 1) where bytes[i] == 0xFF && bytes[i + 1] == 0xDA { lastScan = i }
        #expect(lastScan > 0)
        let scan = Array(bytes[lastScan..<(bytes.count - 2)])
        var flood = Array(bytes[..<lastScan])
        for _ in 0...ImageDecoder.maxJPEGScans { flood += scan }
        flood += [0xFF, 0xD9]
        do {
            _ = try ImageDecoder.decode(flood)
            Issue.record("a JPEG with more than \(ImageDecoder.maxJPEGScans) scans decoded")
        } catch let error as ImageError {
            #expect(error.kind == "corrupt" && error.description.contains("scans"), "\(error)")
        }
    }
}
