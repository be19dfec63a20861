import Testing
@testable import Images

@Suite struct JPEGRowDecoderTests {
    static let jpegs = Fixtures.manifest.good.filter { $0.file.hasSuffix(".jpg") }

    @Test(arguments: jpegs)
    func rowsEqualWholeImageDecode(_ entry: Manifest.Good) throws {
        let bytes = try Fixtures.corpusBytes(entry.file)
        let header = try ImageDecoder.header(of: bytes)
        var pixels: [UInt8] = []
        var nextRow = 0
        try JPEGRowDecoder.decodeRows(bytes, header: header, maxPixels: 50_000_000) { row, y in
            #expect(y == nextRow)
            nextRow += 1
            pixels.append(contentsOf: UnsafeBufferPointer(start: row, count: header.width * 3))
        }
        #expect(nextRow == header.height)
        #expect(CRC32.checksum(pixels) == entry.decoded.crc32, "\(entry.file)")
    }
}
