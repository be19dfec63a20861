import Testing
@testable import Serving

private let limits = WireLimits.forModel(imageSize: 8, maxTextLength: 16, maxOutputs: 32, maxBatch: 4)

private func roundTrip(_ message: WireMessage) throws -> WireMessage {
    let frame = WireProtocol.encode(message)
    let header = Array(frame.prefix(WireProtocol.headerSize))
    let (type, length) = try WireProtocol.decodeHeader(header, limits: limits)
    #expect(length == frame.count - WireProtocol.headerSize)
    return try WireProtocol.decodePayload(type: type, Array(frame.dropFirst(WireProtocol.headerSize)), limits: limits)
}

private let payload = InferencePayload(pixels: (0..<192).map { Float($0) * 0.5 - 3 }, tokenIds: [101, 2023, 102],
                                       returnEmbedding: true)
private let result = InferenceResult(logits: [0.25, -1.5], scores: [0.85, 0.15], label: 0, gateImage: 0.6,
                                     gateText: 0.4, embedding: [1, 2, 3])

@Suite struct WireProtocolTests {
    @Test(arguments: [
        WireMessage.hello(protocolVersion: 1, workerIndex: 3),
        .ready(WorkerIdentity(pid: 42, modelName: "tiny-ünïcode", imageSize: 8, maxTextLength: 16, labelCount: 2,
                              embeddingSize: 32)),
        .loadFailed("no such file: model.safetensors"),
        .batch(id: 7, items: [payload, InferencePayload(pixels: [], tokenIds: [], returnEmbedding: false)]),
        .batch(id: 8, items: [InferencePayload(image: .resizedRGB((0..<192).map { UInt8($0) }), tokenIds: [101, 102],
                                               returnEmbedding: false), payload,
                              InferencePayload(image: .resizedRGB([]), tokenIds: [], returnEmbedding: true)]),
        .results(id: 7, inferenceTime: .nanoseconds(123_456), items: [result, result]),
        .batchFailed(id: 9, message: "shape mismatch"),
        .shutdown,
    ])
    func everyMessageSurvivesARoundTrip(_ message: WireMessage) throws {
        #expect(try roundTrip(message) == message)
    }

    @Test func headersAreCheckedBeforeAnyPayloadIsRead() {
        var frame = WireProtocol.encode(.shutdown)
        frame[0] ^= 0xff
        #expect(throws: WireError.self) { try WireProtocol.decodeHeader(Array(frame.prefix(12)), limits: limits) }
        // Length beyond the limit for this model.
        var big = ByteWriter()
        big.u32(WireProtocol.magic); big.u16(4); big.u16(0); big.u32(UInt32(limits.maxFrameBytes + 1))
        #expect(throws: WireError.frameTooLarge(limits.maxFrameBytes + 1, limit: limits.maxFrameBytes)) {
            try WireProtocol.decodeHeader(big.bytes, limits: limits)
        }
    }

    @Test func countsBeyondTheLimitsAreRefused() {
        let tooMany = WireMessage.batch(id: 1, items: Array(repeating: payload, count: 5))
        let frame = WireProtocol.encode(tooMany)
        #expect(throws: WireError.countTooLarge("batch", count: 5, limit: 4)) {
            try WireProtocol.decodePayload(type: 4, Array(frame.dropFirst(12)), limits: limits)
        }
        let bigImage = WireMessage.batch(id: 1, items: [InferencePayload(pixels: Array(repeating: 0, count: 193),
                                                                         tokenIds: [], returnEmbedding: false)])
        #expect(throws: WireError.countTooLarge("pixels", count: 193, limit: 192)) {
            try WireProtocol.decodePayload(type: 4, Array(WireProtocol.encode(bigImage).dropFirst(12)), limits: limits)
        }
    }

    @Test func resizedImagesTakeAQuarterOfTheBytesAndKeepTheirLimit() throws {
        let rgb = WireMessage.batch(id: 1, items: [InferencePayload(image: .resizedRGB(Array(repeating: 9, count: 192)),
                                                                    tokenIds: [], returnEmbedding: false)])
        let floats = WireMessage.batch(id: 1, items: [InferencePayload(pixels: Array(repeating: 9, count: 192),
                                                                       tokenIds: [], returnEmbedding: false)])
        #expect(WireProtocol.encode(floats).count - WireProtocol.encode(rgb).count == 3 * 192)
        let tooBig = WireMessage.batch(id: 1, items: [InferencePayload(image: .resizedRGB(Array(repeating: 0, count: 193)),
                                                                       tokenIds: [], returnEmbedding: false)])
        #expect(throws: WireError.countTooLarge("pixels", count: 193, limit: 192)) {
            try WireProtocol.decodePayload(type: 4, Array(WireProtocol.encode(tooBig).dropFirst(12)), limits: limits)
        }
        // A flag bit this version does not know is refused, not guessed at.
        var frame = Array(WireProtocol.encode(rgb).dropFirst(12))
        frame[12] |= 0x80  // the first item's flags byte, after the batch id and count
        #expect(throws: WireError.unknownFlags(0x82)) { try WireProtocol.decodePayload(type: 4, frame, limits: limits) }
    }

    @Test func truncatedAndPaddedPayloadsAreRefused() throws {
        let frame = Array(WireProtocol.encode(.batch(id: 1, items: [payload])).dropFirst(12))
        for cut in [1, 9, 13, 100, frame.count - 1] {
            #expect(throws: WireError.self) { try WireProtocol.decodePayload(type: 4, Array(frame.prefix(cut)), limits: limits) }
        }
        #expect(throws: WireError.trailingBytes(1)) { try WireProtocol.decodePayload(type: 4, frame + [0], limits: limits) }
        #expect(throws: WireError.unknownType(99)) { try WireProtocol.decodePayload(type: 99, [], limits: limits) }
    }

    @Test func invalidUTF8InAStringIsRefused() {
        var writer = ByteWriter()
        writer.u32(2)
        writer.u8(0xc3)
        writer.u8(0x28)
        #expect(throws: WireError.invalidUTF8("message")) {
            try WireProtocol.decodePayload(type: 3, writer.bytes, limits: limits)
        }
    }
}
