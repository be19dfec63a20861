import Foundation
import Testing
import TLS

/// Certificates made at test time by `Tests/Fixtures/tls/make-certs.sh` (the `openssl` CLI;
/// no private key is committed).
enum TestCertificates {
    static func make() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tls-\(UUID().uuidString)").path
        var script = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { script.deleteLastPathComponent() }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [script.appendingPathComponent("Tests/Fixtures/tls/make-certs.sh").path, dir]
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw TLSError("make-certs.sh failed") }
        return dir
    }
}

struct TLSContextTests {
    @Test func loadsAMatchingPairAndReadsTheExpiry() throws {
        let dir = try TestCertificates.make()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let context = try TLSContext(certificatePath: dir + "/cert.pem", keyPath: dir + "/key.pem")
        let expiry = try #require(context.notAfterUnixSeconds)
        let inTwoDays = Int64(Date().timeIntervalSince1970) + 2 * 86_400
        #expect(abs(expiry - inTwoDays) < 3600)
    }

    @Test func aKeyThatDoesNotMatchIsRefusedNamingBothFiles() throws {
        let dir = try TestCertificates.make()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect {
            _ = try TLSContext(certificatePath: dir + "/cert.pem", keyPath: dir + "/other-key.pem")
        } throws: { error in
            let text = "\(error)"
            return text.contains("does not match") && text.contains("other-key.pem") && text.contains("cert.pem")
        }
    }

    @Test func aMissingFileIsNamed() throws {
        #expect {
            _ = try TLSContext(certificatePath: "/nonexistent/cert.pem", keyPath: "/nonexistent/key.pem")
        } throws: { error in
            "\(error)".contains("/nonexistent/cert.pem") && "\(error)".contains("cannot be read")
        }
    }

    @Test func aFileThatIsNotPEMIsRefused() throws {
        let dir = try TestCertificates.make()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "not a certificate".write(toFile: dir + "/junk.pem", atomically: true, encoding: .utf8)
        #expect {
            _ = try TLSContext(certificatePath: dir + "/junk.pem", keyPath: dir + "/key.pem")
        } throws: { error in "\(error)".contains("junk.pem") && "\(error)".contains("not a PEM certificate") }
    }

    @Test func holderKeepsTheOldContextWhenAReloadFails() throws {
        let dir = try TestCertificates.make()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let holder = TLSContextHolder(try TLSContext(certificatePath: dir + "/cert.pem", keyPath: dir + "/key.pem"))
        let before = holder.current
        try FileManager.default.removeItem(atPath: dir + "/key.pem")
        #expect(throws: TLSError.self) { try holder.reload() }
        #expect(holder.current === before)
    }

    @Test func sha256MatchesTheStandardVector() {
        // FIPS 180-2 example: SHA-256("abc").
        let hex = sha256(Array("abc".utf8)).map { String(format: "%02x", $0) }.joined()
        #expect(hex == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }
}
