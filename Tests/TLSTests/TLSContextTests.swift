import Foundation
import Testing
import TLS

/// Certificates made at test time with the `openssl` CLI (no private key is committed).
enum TestCertificates {
    /// A directory with `cert.pem`/`key.pem` (CN=localhost, SAN localhost and 127.0.0.1),
    /// `other-key.pem` (a key that matches nothing), `ca.pem`/`ca-key.pem` and a client pair
    /// `client.pem`/`client-key.pem` signed by that CA.
    static func make() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tls-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        func openssl(_ arguments: [String]) throws {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
            process.arguments = arguments
            process.currentDirectoryURL = URL(fileURLWithPath: dir)
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            process.waitUntilExit()
            guard process.terminationStatus == 0 else { throw TLSError("openssl \(arguments.joined(separator: " ")) failed") }
        }
        try openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
                     "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                     "-keyout", "key.pem", "-out", "cert.pem"])
        try openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "other-key.pem"])
        try openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
                     "-subj", "/CN=test client CA", "-keyout", "ca-key.pem", "-out", "ca.pem"])
        try openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                     "-subj", "/CN=test client", "-keyout", "client-key.pem", "-out", "client.csr"])
        try openssl(["x509", "-req", "-in", "client.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem", "-CAcreateserial",
                     "-days", "2", "-out", "client.pem"])
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
