import Foundation
import HTTP
import POSIX

/// Runs an `HTTPServer` on 127.0.0.1 with an ephemeral port on a background thread.
final class TestServer: @unchecked Sendable {
    let server: HTTPServer
    private let finished = DispatchSemaphore(value: 0)
    private let runError = NSLock()
    private var error: Error?

    var port: UInt16 { server.localAddress.port }

    init(_ configure: (inout HTTPServer.Configuration) -> Void = { _ in },
         handler: @escaping HTTPServer.Handler) throws {
        var configuration = HTTPServer.Configuration(host: "127.0.0.1", port: 0)
        // Short timeouts keep the suite fast; tests that need others set them.
        configuration.lingerTimeout = .milliseconds(200)
        configuration.drainTimeout = .seconds(5)
        configure(&configuration)
        server = try HTTPServer(configuration: configuration)
        let thread = Thread { [server, finished] in
            do {
                try server.run(handler: handler)
            } catch {
                self.runError.lock()
                self.error = error
                self.runError.unlock()
            }
            finished.signal()
        }
        thread.start()
    }

    init(adopting fd: Int32, handler: @escaping HTTPServer.Handler) throws {
        server = try HTTPServer(configuration: HTTPServer.Configuration(adoptingListener: fd))
        let thread = Thread { [server, finished] in
            try? server.run(handler: handler)
            finished.signal()
        }
        thread.start()
    }

    /// Begins shutdown and waits for `run` to return; returns false on timeout.
    @discardableResult
    func stop(timeout: TimeInterval = 10) -> Bool {
        server.beginShutdown()
        return waitUntilStopped(timeout: timeout)
    }

    func waitUntilStopped(timeout: TimeInterval) -> Bool {
        finished.wait(timeout: .now() + timeout) == .success
    }
}

/// Replies 200 with a small text body naming the method and target.
let echoHandler: HTTPServer.Handler = { request, responder in
    responder.send(HTTPResponse(status: .ok, headers: ["Content-Type": "text/plain"],
                                body: "\(request.method) \(request.target) \(request.body.count)"))
}
