import Foundation
import Locking
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// 4000 × 4000 RGB (16 MP, just under the default --max-image-pixels) in 64 KB: a horizontal
/// gradient with PNG's Sub filter, made with Python's zlib at level 9. Decoding and resizing
/// it costs about a third of a second of CPU; sending it costs nothing.
private let huge = Paths.bytes("images/large/png_rgb_4000x4000.png")
private let small = Paths.bytes("images/good/jpeg_rgb_444_300x200.jpg")

/// The same PNG with its header claiming `width` × `height` (IHDR's CRC fixed up).
private func declaring(_ png: [UInt8], width: UInt32, height: UInt32) -> [UInt8] {
    var bytes = png
    let size = withUnsafeBytes(of: width.bigEndian) { Array($0) } + withUnsafeBytes(of: height.bigEndian) { Array($0) }
    bytes.replaceSubrange(16..<24, with: size)
    let crc = LargePNG.crc32(Array(bytes[12..<29]))
    bytes.replaceSubrange(29..<33, with: withUnsafeBytes(of: crc.bigEndian) { Array($0) })
    return bytes
}

/// Milliseconds of each of `count` sequential small /infer requests on one connection.
private func smallRequestTimes(port: UInt16, count: Int) throws -> [Double] {
    let client = try HTTPClient(port: port, timeoutSeconds: 60)
    let body = HTTPClient.inferJSON(image: small, text: "a small picture")
    var times: [Double] = []
    for _ in 0..<count {
        let started = Date()
        try client.send(HTTPClient.requestBytes(method: "POST", path: "/infer", body: body, contentType: "application/json"))
        let response = try #require(try client.readResponse())
        #expect(response.status == 200, "\(response.text)")
        times.append(Date().timeIntervalSince(started) * 1000)
    }
    return times
}

private func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }

/// `clients` threads sending the huge PNG back to back until stopped.
private final class HugeImageLoad: Sendable {
    private let state = Locked<(stopped: Bool, statuses: [Int])>((false, []))
    private let group = DispatchGroup()

    init(port: UInt16, clients: Int) {
        let body = HTTPClient.inferJSON(image: huge, text: "a huge picture")
        for _ in 0..<clients {
            group.enter()
            Thread { [self] in
                defer { group.leave() }
                while !stopped {
                    let status = (try? HTTPClient.request(port: port, method: "POST", path: "/infer", body: body,
                                                          contentType: "application/json"))?.status ?? 0
                    state.withLock { $0.statuses.append(status) }
                }
            }.start()
        }
    }

    var stopped: Bool { state.withLock { $0.stopped } }

    func finish() -> [Int] {
        state.withLock { $0.stopped = true }
        group.wait()
        return state.withLock { $0.statuses }
    }
}

extension EndToEnd {
    @Suite struct Fairness {
        @Test func clientsSendingHugeImagesDoNotStarveASmallOne() throws {
            // Issue 13 item 5: four clients sending huge images moved a normal client's median
            // from 8 ms to 655 ms, because every preprocessing thread was decoding one. Large
            // images now decode one at a time, at low priority, in their own lane.
            let server = try ServerProcess(workers: 1)
            let unloaded = median(try smallRequestTimes(port: server.port, count: 15))
            let load = HugeImageLoad(port: server.port, clients: 4)
            usleep(500_000)   // the huge requests are in
            let loaded = try smallRequestTimes(port: server.port, count: 15)
            let statuses = load.finish()
            let bound = 4 * unloaded + 150
            print("fairness: small-request median \(median(loaded)) ms under 4 huge-image clients, \(unloaded) ms alone; huge answers \(statuses.count) (\(statuses.filter { $0 == 503 }.count) throttled 503)")
            #expect(median(loaded) < bound,
                    "small-request median \(median(loaded)) ms under huge-image load vs \(unloaded) ms alone (bound \(bound) ms): \(loaded)")
            #expect(statuses.contains(200), "huge images are still served: \(statuses)")
            #expect(Set(statuses).isSubset(of: [200, 503]), "only served or throttled: \(Set(statuses))")
            #expect(try server.metric("fusion_images_throttled_total") ?? 0 >= 1)
        }

        @Test func imagesOverThePixelGuardAreRefusedBeforeDecodingAndCounted() throws {
            let server = try ServerProcess(workers: 1)
            let forged = declaring(huge, width: 5000, height: 5000)   // 25 MP > the 16 MiP default
            let started = Date()
            let refused = try HTTPClient.request(port: server.port, method: "POST", path: "/infer",
                                                 body: HTTPClient.inferJSON(image: forged, text: "too big"),
                                                 contentType: "application/json")
            #expect(refused.status == 422)
            #expect(refused.errorCode == "422 image_too_large", "\(refused.text)")
            #expect(Date().timeIntervalSince(started) < 5)
            #expect(try server.metric(#"fusion_images_rejected_total{reason="too_large"}"#) == 1)
            // The real 16 MP image is under the guard: served (through the large-image lane).
            let served = try HTTPClient.request(port: server.port, method: "POST", path: "/infer",
                                                body: HTTPClient.inferJSON(image: huge, text: "big but allowed"),
                                                contentType: "application/json")
            #expect(served.status == 200, "\(served.text)")
            #expect(try server.metric("fusion_images_throttled_total") == 1)
            // A lower guard is configurable.
            let strict = try ServerProcess(["--max-image-pixels", "1000000"], workers: 1)
            let strictAnswer = try HTTPClient.request(port: strict.port, method: "POST", path: "/infer",
                                                      body: HTTPClient.inferJSON(image: huge, text: "over 1 MP"),
                                                      contentType: "application/json")
            #expect(strictAnswer.errorCode == "422 image_too_large")
        }
    }
}
