import Foundation
import Testing
@testable import Serving

@Suite struct Base64Tests {
    @Test func agreesWithFoundationOnRandomData() throws {
        var generator = SystemRandomNumberGenerator()
        for length in [0, 1, 2, 3, 4, 5, 100, 1001] {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let encoded = Data(bytes).base64EncodedString()
            #expect(try Base64.decode(encoded) == bytes)
            // Without padding, and wrapped at 76 columns as `base64` prints it.
            #expect(try Base64.decode(encoded.replacingOccurrences(of: "=", with: "")) == bytes)
            let wrapped = Data(bytes).base64EncodedString(options: [.lineLength76Characters, .endLineWithLineFeed])
            #expect(try Base64.decode(wrapped) == bytes)
        }
    }

    @Test func acceptsDataURLs() throws {
        #expect(try Base64.decode("data:image/png;base64,AAEC") == [0, 1, 2])
        #expect(throws: Base64Error.self) { try Base64.decode("data:image/png,AAEC") }
    }

    @Test(arguments: ["A", "AB=C", "ABC*", "AB===", "====", "ABCDE", "AB=", "ABC=="])
    func refusesInvalidText(_ text: String) {
        #expect(throws: Base64Error.self) { try Base64.decode(text) }
    }
}
