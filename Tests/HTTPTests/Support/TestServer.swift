import Foundation
import ClockTesting
import HTTP
import Locking
import POSIX

/// Runs an `HTTPServer` on 127.0.0.1 with an ephemeral port on a background thread.
final class TestServer: Sendable {
    let server: HTTPServer
    /// The clock the test moves, if it injected one (deadlines then pass only when it does).
    let clock: ManualClock?
    private let finished = DispatchSemaphore(value: 0)
    /// What `run` threw, if it did.
    private let runError = Locked<(any Error)?>(nil)

    var port: UInt16 { server.localAddress.port }

    init(clock: ManualClock? = nil, _ configure: (inout HTTPServer.Configuration) -> Void = { _ in },
         handler: @escaping HTTPServer.Handler) throws {
        var configuration = HTTPServer.Configuration(host: "127.0.0.1", port: 0)
        // Short timeouts keep the suite fast; tests that need others set them.
        configuration.lingerTimeout = .milliseconds(200)
        configuration.drainTimeout = .seconds(5)
        if let clock { configuration.clock = clock }
        self.clock = clock
        configure(&configuration)
        server = try HTTPServer(configuration: configuration)
        let thread = Thread { [server, finished] in
            do {
                try server.run(handler: handler)
            } catch {
                self.runError.withLock { $0 = error }
            }
            finished.signal()
        }
        thread.start()
    }

    init(adopting fd: Int32, handler: @escaping HTTPServer.Handler) throws {
        clock = nil
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
        guard let clock else { return waitUntilStopped(timeout: timeout) }
        // A stopped clock never reaches the drain or linger deadlines: move it until `run`
        // returns (the loop may start draining after any one step).
        let end = Date().addingTimeInterval(timeout)
        repeat {
            clock.advance(by: .seconds(10))
            if waitUntilStopped(timeout: 0.05) { return true }
        } while Date() < end
        return false
    }

    /// Returns once the loop has finished a whole turn begun after this call, so whatever a
    /// `clock.advance` before it made due has been expired (the 408 written, the socket
    /// closed). Two round trips on a fresh connection: a response is written while the turn
    /// that read its request handles events, before that turn expires deadlines; the second
    /// request can only be read in a later turn.
    func settle() throws {
        let probe = try RawClient(port: port)
        for _ in 0..<2 {
            try probe.send(getRequest("/settle"))
            _ = try probe.readResponse()
        }
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
