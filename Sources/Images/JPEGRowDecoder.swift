import CImageCodecs

/// Decodes a JPEG a few rows at a time and hands each RGB8 row to a consumer, so the
/// preprocessor can resize while decoding without ever holding the full image.
/// Pixels are the same as `ImageDecoder.decode` (both run the same C stream).
enum JPEGRowDecoder {
    /// Rows decoded per call into the C decoder (libjpeg's largest useful batch).
    static let batchRows = 16

    /// Checks the header against `maxPixels`, then calls `consume(row, y)` for every
    /// row top to bottom (`width * 3` bytes each).
    static func decodeRows(_ bytes: [UInt8], header: ImageDecoder.Header, maxPixels: Int,
                           consume: (UnsafePointer<UInt8>, Int) -> Void) throws {
        try bytes.withUnsafeBufferPointer { input in
            var info = cic_info()
            var stream: OpaquePointer?
            defer { cic_jpeg_stream_close(stream) }
            try check(cic_jpeg_stream_open(input.baseAddress, input.count,
                                           ImageDecoder.jpegMemoryLimit(maxPixels: maxPixels),
                                           Int32(ImageDecoder.maxJPEGScans), &stream, &info), info)
            guard Int(info.width) == header.width, Int(info.height) == header.height else {
                throw ImageError.corrupt("JPEG: header changed between reads")
            }
            try check(cic_jpeg_stream_start(stream, &info), info)
            let rowBytes = header.width * 3
            var buffer = [UInt8](repeating: 0, count: batchRows * rowBytes)
            var y = 0
            try buffer.withUnsafeMutableBufferPointer { rows in
                while y < header.height {
                    var got: UInt32 = 0
                    try check(cic_jpeg_stream_read(stream, rows.baseAddress, rows.count, UInt32(batchRows),
                                                   &got, &info), info)
                    guard got > 0 else { throw ImageError.corrupt("JPEG: decoder returned no rows") }
                    for i in 0..<Int(got) {
                        consume(UnsafePointer(rows.baseAddress! + i * rowBytes), y + i)
                    }
                    y += Int(got)
                }
            }
            try check(cic_jpeg_stream_finish(stream, &info), info)
        }
    }

    private static func check(_ status: Int32, _ info: cic_info) throws {
        if status != Int32(CIC_OK.rawValue) {
            throw ImageDecoder.error(status: status, info: info, format: .jpeg)
        }
    }
}
