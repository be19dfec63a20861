import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Throw-away certificates from `Tests/Fixtures/tls/make-certs.sh` (see its header).
private func makeCertificates() throws -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("e2e-tls-\(UUID().uuidString)").path
    let result = try runTool("/bin/bash", [Paths.fixture("tls/make-certs.sh"), dir])
    guard result.status == 0 else { throw EndToEndError("make-certs.sh: \(result.err)") }
    return dir
}

/// A server on HTTPS with `dir`'s certificate, ready.
private func tlsServer(_ dir: String, _ extra: [String] = [], workers: Int = 1) throws -> ServerProcess {
    let server = try ServerProcess(["--tls-cert", dir + "/cert.pem", "--tls-key", dir + "/key.pem"] + extra,
                                   workers: workers, waitReady: false)
    let ready = waitUntil(timeout: 30, interval: 0.1) {
        (try? runCurl(["-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", dir + "/cert.pem",
                       "https://localhost:\(server.port)/healthz"]).out) == "200"
    }
    guard ready else { throw EndToEndError("HTTPS server not ready: \(server.log)") }
    return server
}

/// One `/metrics` sample over HTTPS.
private func tlsMetric(_ server: ServerProcess, _ dir: String, _ series: String, extra: [String] = []) throws -> Double? {
    let text = try runCurl(["-s", "--cacert", dir + "/cert.pem"] + extra + ["https://localhost:\(server.port)/metrics"]).out
    for line in text.split(separator: "\n") where line.hasPrefix(series + " ") {
        return Double(line.dropFirst(series.count + 1))
    }
    return nil
}

extension EndToEnd {
    @Suite struct TLS {
        @Test func curlOverHTTPSWithJSONAndMultipartWithContinue() throws {
            let dir = try makeCertificates()
            let server = try tlsServer(dir)
            defer { server.stop() }
            let base = "https://localhost:\(server.port)"
            let image = Paths.fixture("images/good/jpeg_rgb_444_300x200.jpg")
            let multipart = try runCurl(["-s", "--cacert", dir + "/cert.pem", "-w", "\n%{http_code} %{http_version}",
                                         "-H", "Expect: 100-continue", "-F", "image=@\(image)", "-F", "text=a red circle",
                                         base + "/infer"])
            #expect(multipart.out.hasSuffix("200 1.1"), "\(multipart.out) \(multipart.err)")
            #expect(multipart.out.contains("\"label\""))
            let json = HTTPClient.inferJSON(image: Paths.bytes("images/good/jpeg_rgb_444_300x200.jpg"), text: "a dog")
            let bodyFile = dir + "/body.json"
            try Data(json).write(to: URL(fileURLWithPath: bodyFile))
            let jsonAnswer = try runCurl(["-s", "--cacert", dir + "/cert.pem", "-w", "\n%{http_code}",
                                          "-H", "Content-Type: application/json", "--data-binary", "@" + bodyFile, base + "/infer"])
            #expect(jsonAnswer.out.hasSuffix("\n200"), "\(jsonAnswer.out)")
        }

        @Test func twoHundredKeepAliveRequestsOnOneTLSConnection() throws {
            let dir = try makeCertificates()
            let server = try tlsServer(dir)
            defer { server.stop() }
            let result = try runCurl(["-s", "-o", "/dev/null", "--cacert", dir + "/cert.pem",
                                      "-w", "%{http_code} %{num_connects}\n",
                                      "https://localhost:\(server.port)/livez?n=[1-200]"])
            let lines = result.out.split(separator: "\n")
            #expect(lines.count == 200)
            #expect(lines.allSatisfy { $0.hasPrefix("200 ") })
            // One handshake, then 199 requests on the same connection.
            #expect(lines.filter { $0.hasSuffix(" 1") }.count == 1, "connections: \(Set(lines))")
            #expect(try tlsMetric(server, dir, #"fusion_http_tls_handshakes_total{result="ok"}"#) ?? 0 >= 1)
        }

        @Test func pipelinedRequestsAndALPNOverOpenSSLClient() throws {
            let dir = try makeCertificates()
            let server = try tlsServer(dir)
            defer { server.stop() }
            let requests = "GET /livez HTTP/1.1\r\nHost: a\r\n\r\nGET /healthz HTTP/1.1\r\nHost: a\r\n\r\n"
                + "GET /livez HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
            let result = try runTool("/usr/bin/openssl", ["s_client", "-connect", "127.0.0.1:\(server.port)", "-alpn", "http/1.1",
                                                          "-CAfile", dir + "/cert.pem", "-servername", "localhost", "-ign_eof"],
                                     input: Array(requests.utf8), timeout: 30)
            #expect(result.out.components(separatedBy: "HTTP/1.1 200 OK").count - 1 == 3, "\(result.out)")
            #expect(result.out.contains("ALPN protocol: http/1.1"))
            #expect(result.out.contains("Verify return code: 0 (ok)"))
        }

        @Test func tls11IsRefusedAndPlainHTTPIsClosedCleanly() throws {
            let dir = try makeCertificates()
            let server = try tlsServer(dir)
            defer { server.stop() }
            // SECLEVEL=0 lets this client offer TLS 1.1, so the refusal is the server's.
            let old = try runTool("/usr/bin/openssl", ["s_client", "-connect", "127.0.0.1:\(server.port)", "-tls1_1",
                                                       "-cipher", "DEFAULT:@SECLEVEL=0"], input: [], timeout: 30)
            #expect(old.status != 0)
            #expect((old.out + old.err).contains("alert protocol version"), "\(old.out) \(old.err)")
            #expect(old.out.contains("Cipher is (NONE)"))
            let plain = try runCurl(["-s", "--max-time", "5", "-w", "%{http_code}", "http://127.0.0.1:\(server.port)/healthz"])
            #expect(plain.status != 28, "plain HTTP to the TLS port hung")
            #expect(plain.out == "000")
            #expect(try tlsMetric(server, dir, #"fusion_http_tls_handshakes_total{result="failed"}"#) ?? 0 >= 2)
            #expect(server.process.isRunning)
        }

        @Test func startErrorsNameTheProblem() throws {
            let dir = try makeCertificates()
            func serve(_ arguments: [String]) throws -> (String, Int32) {
                let result = try runTool(Paths.binary, ["serve", "--port", "0", "--model", Paths.tinyModel, "--workers", "1"] + arguments,
                                         timeout: 30)
                return (result.err + result.out, result.status)
            }
            let wrongKey = try serve(["--tls-cert", dir + "/cert.pem", "--tls-key", dir + "/other-key.pem"])
            #expect(wrongKey.1 != 0)
            #expect(wrongKey.0.contains("does not match the certificate"), "\(wrongKey.0)")
            let missing = try serve(["--tls-cert", dir + "/nope.pem", "--tls-key", dir + "/key.pem"])
            #expect(missing.1 != 0)
            #expect(missing.0.contains(dir + "/nope.pem") && missing.0.contains("cannot be read"), "\(missing.0)")
            let half = try serve(["--tls-cert", dir + "/cert.pem"])
            #expect(half.0.contains("needs both --tls-cert and --tls-key"), "\(half.0)")
            let noTokens = try serve(["--auth-token-file", dir + "/none"])
            #expect(noTokens.1 != 0)
            #expect(noTokens.0.contains("token file \(dir)/none"), "\(noTokens.0)")
        }

        @Test func silentAndHalfHandshakingClientsDoNotDelayANewOne() throws {
            let dir = try makeCertificates()
            let server = try tlsServer(dir)
            defer { server.stop() }
            var hoard: [HTTPClient] = []
            for _ in 0..<50 { hoard.append(try HTTPClient(port: server.port)) }
            // The first bytes of a ClientHello (record header + part of the handshake), then silence.
            let partialHello: [UInt8] = [0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03] + Array(repeating: 0x42, count: 32)
            for _ in 0..<20 {
                let client = try HTTPClient(port: server.port)
                try client.send(partialHello)
                hoard.append(client)
            }
            let started = Date()
            let result = try runCurl(["-s", "--max-time", "10", "-w", "%{http_code}", "-o", "/dev/null",
                                      "--cacert", dir + "/cert.pem", "https://localhost:\(server.port)/healthz"])
            #expect(result.out == "200")
            #expect(Date().timeIntervalSince(started) < 5)
            withExtendedLifetime(hoard) {}
        }

        @Test func sighupRotatesTheCertificateAndAKeptAliveConnectionSurvives() throws {
            let dir = try makeCertificates()
            let live = dir + "/live"
            try FileManager.default.createDirectory(atPath: live, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: dir + "/cert.pem", toPath: live + "/cert.pem")
            try FileManager.default.copyItem(atPath: dir + "/key.pem", toPath: live + "/key.pem")
            let server = try tlsServer(live)
            defer { server.stop() }
            // A Python client keeps one TLS connection across the rotation.
            let script = """
            import socket, ssl, sys, time, os
            ctx = ssl.create_default_context(cafile=sys.argv[2])
            s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1]))), server_hostname="localhost")
            def ask():
                s.sendall(b"GET /livez HTTP/1.1\\r\\nHost: a\\r\\n\\r\\n")
                data = b""
                while b"alive" not in data:
                    chunk = s.recv(4096)
                    if not chunk: return "closed"
                    data += chunk
                return data.split(b" ")[1].decode()
            print(ask(), flush=True)
            while not os.path.exists(sys.argv[3]): time.sleep(0.05)
            print(ask(), flush=True)
            """
            let marker = dir + "/rotated"
            let python = Process()
            python.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            python.arguments = ["python3", "-c", script, "\(server.port)", dir + "/cert.pem", marker]
            let out = Pipe()
            let errors = Pipe()
            python.standardOutput = out
            python.standardError = errors
            try python.run()
            ChildCleanup.track(python.processIdentifier)
            let watchdog = killAfter(30, python)
            defer { watchdog.cancel(); ChildCleanup.untrack(python.processIdentifier) }
            // Its first answer proves it is connected with the first pair.
            var first = Data()
            while !first.contains(UInt8(ascii: "\n")) {
                let chunk = out.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                first.append(chunk)
            }
            #expect(String(decoding: first, as: UTF8.self) == "200\n",
                    "python: \(String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self))")
            // Rotate: new files in place, SIGHUP.
            try FileManager.default.removeItem(atPath: live + "/cert.pem")
            try FileManager.default.removeItem(atPath: live + "/key.pem")
            try FileManager.default.copyItem(atPath: dir + "/cert2.pem", toPath: live + "/cert.pem")
            try FileManager.default.copyItem(atPath: dir + "/key2.pem", toPath: live + "/key.pem")
            server.signal(SIGHUP)
            #expect(waitUntil(timeout: 10) { server.log.contains("TLS certificate reloaded") })
            let url = "https://localhost:\(server.port)/livez"
            #expect(try runCurl(["-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", dir + "/cert2.pem", url]).out == "200")
            #expect(try runCurl(["-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", dir + "/cert.pem", url]).out == "000",
                    "new handshakes still use the old certificate")
            _ = FileManager.default.createFile(atPath: marker, contents: Data())
            let answers = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            python.waitUntilExit()
            #expect(answers == "200\n", "the connection made before the rotation, after it: \(answers)")
            // A failed reload keeps the pair in use.
            try "garbage".write(toFile: live + "/key.pem", atomically: true, encoding: .utf8)
            server.signal(SIGHUP)
            #expect(waitUntil(timeout: 10) { server.log.contains("TLS reload failed") })
            #expect(try runCurl(["-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", dir + "/cert2.pem", url]).out == "200")
        }

        @Test func mutualTLSRequiresAClientCertificate() throws {
            let dir = try makeCertificates()
            let server = try ServerProcess(["--tls-cert", dir + "/cert.pem", "--tls-key", dir + "/key.pem",
                                            "--tls-client-ca", dir + "/ca.pem"], workers: 1, waitReady: false)
            defer { server.stop() }
            let url = "https://localhost:\(server.port)/healthz"
            var withCert = ""
            _ = waitUntil(timeout: 30, interval: 0.1) {
                withCert = (try? runCurl(["-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", dir + "/cert.pem",
                                          "--cert", dir + "/client.pem", "--key", dir + "/client-key.pem", url]).out) ?? ""
                return withCert == "200"
            }
            #expect(withCert == "200")
            let without = try runCurl(["-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", dir + "/cert.pem", url])
            #expect(without.out == "000")
            #expect(without.status != 0)
        }

        @Test func bearerTokensGuardInferenceButNotProbes() throws {
            let dir = try makeCertificates()
            let secret = "tok-\(UUID().uuidString)"
            try "# who may call\n\(secret)\nsecond-token\n".write(toFile: dir + "/tokens", atomically: true, encoding: .utf8)
            let server = try tlsServer(dir, ["--auth-token-file", dir + "/tokens", "--log-level", "debug"])
            defer { server.stop() }
            let base = "https://localhost:\(server.port)"
            let image = Paths.fixture("images/good/jpeg_rgb_444_300x200.jpg")
            func infer(_ headers: [String]) throws -> (String, String) {
                let result = try runCurl(["-s", "-D", "-", "--cacert", dir + "/cert.pem"] + headers.flatMap { ["-H", $0] }
                                         + ["-F", "image=@\(image)", "-F", "text=a cat", base + "/infer"])
                let status = result.out.split(separator: " ").dropFirst().first.map(String.init) ?? ""
                return (status, result.out)
            }
            let missing = try infer([])
            #expect(missing.0 == "401")
            #expect(missing.1.contains("WWW-Authenticate: Bearer realm=\"fusion-serve\""))
            #expect(missing.1.contains("\"code\":\"unauthorized\""))
            let wrong = try infer(["Authorization: Bearer not-\(secret)"])
            #expect(wrong.0 == "401")
            #expect(wrong.1.contains("error=\"invalid_token\""))
            #expect(try infer(["Authorization: Bearer \(secret)"]).0 == "200")
            #expect(try infer(["Authorization: bearer second-token"]).0 == "200")
            for open in ["/livez", "/healthz", "/metrics"] {
                #expect(try runCurl(["-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", dir + "/cert.pem", base + open]).out == "200")
            }
            #expect(try runCurl(["-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", dir + "/cert.pem", base + "/v1/model"]).out == "401")
            #expect(!server.log.contains(secret), "the token reached the log")
            #expect(!server.log.contains("second-token"))
        }

        @Test func metricsCanRequireATokenToo() throws {
            let dir = try makeCertificates()
            try "t0ken\n".write(toFile: dir + "/tokens", atomically: true, encoding: .utf8)
            let server = try ServerProcess(["--auth-token-file", dir + "/tokens", "--auth-metrics"], workers: 1)
            defer { server.stop() }
            let url = "http://127.0.0.1:\(server.port)/metrics"
            #expect(try runCurl(["-s", "-o", "/dev/null", "-w", "%{http_code}", url]).out == "401")
            #expect(try runCurl(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Authorization: Bearer t0ken", url]).out == "200")
        }

        @Test func aThousandHandshakesLeaveMemoryAndDescriptorsFlat() throws {
            let dir = try makeCertificates()
            let server = try tlsServer(dir)
            defer { server.stop() }
            func handshakes(_ count: Int) throws {
                let result = try runCurl(["-s", "-o", "/dev/null", "-w", "%{http_code}\n", "--cacert", dir + "/cert.pem",
                                          "-H", "Connection: close", "https://localhost:\(server.port)/livez?n=[1-\(count)]"])
                #expect(result.out.split(separator: "\n").filter { $0 == "200" }.count == count)
            }
            try handshakes(100)
            let before = try ProcessFootprint(pid: server.process.processIdentifier)
            try handshakes(1000)
            usleep(300_000)
            let after = try ProcessFootprint(pid: server.process.processIdentifier)
            // Under AddressSanitizer freed memory sits in its quarantine (tools/ci/sanitizers.sh
            // caps it at 32 MiB) before reuse, so RSS grows by that much without any leak.
            let underASan = ProcessInfo.processInfo.environment["ASAN_OPTIONS"] != nil
            let bound = underASan ? 96 << 20 : 8 << 20
            #expect(after.residentBytes - before.residentBytes < bound, "RSS \(before) -> \(after)")
            #expect(after.descriptors <= before.descriptors + 2, "descriptors \(before) -> \(after)")
            let total = try tlsMetric(server, dir, #"fusion_http_tls_handshakes_total{result="ok"}"#) ?? 0
            let resumed = try tlsMetric(server, dir, #"fusion_http_tls_handshakes_total{result="resumed"}"#) ?? 0
            #expect(total + resumed >= 1100)
        }
    }
}
