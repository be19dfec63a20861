import Testing
@testable import Images

/// Resized pixels are byte-identical to Pillow's `resize((S, S), Image.BILINEAR)`.
@Suite struct ImageResizerTests {
    @Test(arguments: Fixtures.manifest.good)
    func resizesLikePillow(_ entry: Manifest.Good) throws {
        let image = try ImageDecoder.decode(try Fixtures.corpusBytes(entry.file))
        for size in Fixtures.manifest.sizes {
            let golden = try #require(entry.resized[String(size)])
            let resized = ImageResizer.resizeBilinear(image, width: size, height: size)
            #expect(resized.width == size && resized.height == size)
            #expect(CRC32.checksum(resized.pixels) == golden.crc32, "\(entry.file) at \(size)x\(size)")
            if let file = golden.file {
                let expected = try ImageDecoder.decode(try Fixtures.goldenBytes(file))
                let diff = zip(resized.pixels, expected.pixels).enumerated().first { $0.element.0 != $0.element.1 }
                #expect(diff == nil, "first differing byte of \(entry.file) at \(size): \(String(describing: diff))")
            }
        }
    }

    @Test(arguments: Fixtures.manifest.resize_cases)
    func syntheticSizePairsMatchPillow(_ testCase: Manifest.ResizeCase) throws {
        let source = try Pattern.image(width: testCase.source[0], height: testCase.source[1])
        let resized = ImageResizer.resizeBilinear(source, width: testCase.target[0], height: testCase.target[1])
        #expect(resized.width == testCase.target[0] && resized.height == testCase.target[1])
        #expect(CRC32.checksum(resized.pixels) == testCase.crc32)
    }

    @Test func sameSizeIsIdentity() throws {
        let image = try Pattern.image(width: 13, height: 7)
        #expect(ImageResizer.resizeBilinear(image, width: 13, height: 7) == image)
    }

    @Test func nonPositiveSizesAreClampedToOne() throws {
        let image = try Pattern.image(width: 5, height: 4)
        let resized = ImageResizer.resizeBilinear(image, width: 0, height: -3)
        #expect(resized.width == 1 && resized.height == 1 && resized.pixels.count == 3)
    }

    @Test func uniformImageStaysUniform() throws {
        let image = try RGBImage(width: 37, height: 23, pixels: [UInt8](repeating: 200, count: 37 * 23 * 3))
        for (w, h) in [(224, 224), (5, 3), (37, 1), (1, 23), (100, 7)] {
            let resized = ImageResizer.resizeBilinear(image, width: w, height: h)
            #expect(resized.pixels.allSatisfy { $0 == 200 }, "\(w)x\(h)")
        }
    }
}

