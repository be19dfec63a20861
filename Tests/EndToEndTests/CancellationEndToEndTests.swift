import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension EndToEnd {
    /// Issue 17 item 2: work for a client that has gone is not computed.
    @Suite struct Cancellation {
        @Test func requestsWhoseClientsLeftAreNotComputed() throws {
            let server = try ServerProcess(workers: 1)
            defer { server.stop() }
            let worker = try #require(server.workerPID(index: 0))
            let body = HTTPClient.inferJSON(image: Paths.bytes("images/good/jpeg_rgb_444_300x200.jpg"), text: "a cat")
            let request = HTTPClient.requestBytes(method: "POST", path: "/infer", body: body, contentType: "application/json")
            // The only worker holds A (stopped), so B and C wait in the queue for the next batch.
            #expect(kill(worker, SIGSTOP) == 0)
            defer { kill(worker, SIGCONT) }
            let a = try HTTPClient(port: server.port, timeoutSeconds: 30)
            try a.send(request)
            #expect(waitUntil(timeout: 10) { (try? server.metric(#"fusion_worker_in_flight{worker="0"}"#)) == 1 })
            var leaving: [HTTPClient] = []
            for _ in 0..<2 {
                let client = try HTTPClient(port: server.port)
                try client.send(request)
                leaving.append(client)
            }
            #expect(waitUntil(timeout: 10) { (try? server.metric("fusion_queue_depth")) == 2 })
            leaving.removeAll()   // both clients close their connections
            usleep(200_000)
            kill(worker, SIGCONT)
            #expect(try a.readResponse()?.status == 200)
            #expect(waitUntil(timeout: 10) {
                (try? server.metric(#"fusion_requests_cancelled_total{stage="queue"}"#)) == 2
            })
            #expect(try server.metric(#"fusion_worker_batches_total{worker="0"}"#) == 1, "a batch ran for clients that had left")
            #expect(try server.metric(#"fusion_requests_total{route="/infer",status="499"}"#) == 2)
            #expect(try server.metric("fusion_queue_depth") == 0)
        }
    }
}
