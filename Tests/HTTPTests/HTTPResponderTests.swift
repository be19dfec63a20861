import Foundation
import HTTP
import Testing

@Suite(.serialized)
struct HTTPResponderTests {
    @Test func droppedResponderAnswers500() throws {
        let server = try TestServer { _, _ in }
        defer { server.stop() }
        let client = try RawClient(port: server.port)
        try client.send(getRequest("/"))
        let response = try client.readResponse()
        #expect(response.status == 500)
        #expect(response.text.contains("handler_dropped_response"))
    }

    @Test func secondSendIsIgnored() throws {
        let server = try TestServer { _, responder in
            responder.send(HTTPResponse(body: "one"))
            responder.send(HTTPResponse(body: "two"))
        }
        defer { server.stop() }
        let client = try RawClient(port: server.port)
        try client.send(getRequest("/") + getRequest("/"))
        #expect(try client.readResponse().text == "one")
        #expect(try client.readResponse().text == "one")
    }

    @Test func sendFromManyThreadsAtOnceAnswersEveryRequestInOrder() throws {
        let server = try TestServer { request, responder in
            #expect(!responder.hasSent)
            DispatchQueue.global().async {
                responder.send(HTTPResponse(body: request.target))
                #expect(responder.hasSent)
            }
        }
        defer { server.stop() }
        let client = try RawClient(port: server.port)
        try client.send((0..<100).map { getRequest("/\($0)") }.joined())
        for index in 0..<100 {
            #expect(try client.readResponse().text == "/\(index)")
        }
    }
}
