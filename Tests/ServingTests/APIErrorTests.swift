import HTTP
import Images
import Testing
@testable import Serving

@Suite struct APIErrorTests {
    @Test func responsesAreJSONWithTheirHeaders() {
        let response = APIError.methodNotAllowed("GET", path: "/infer", allow: "POST").response
        #expect(response.status.code == 405)
        #expect(response.headers["Allow"] == "POST")
        let body = String(decoding: response.body, as: UTF8.self)
        #expect(body.hasPrefix(#"{"error":{"code":"method_not_allowed","message":"#))
        #expect(APIError.queueFull(capacity: 4).response.headers["Retry-After"] == "1")
    }

    @Test func everyRefusalIsA503WithRetryAfter() {
        for admission in [Admission.starting, .unavailable, .draining] {
            let error = APIError.notAccepting(admission)
            #expect(error.status.code == 503)
            #expect(error.response.headers["Retry-After"] != nil)
        }
        #expect(APIError.notAccepting(.draining).code == "draining")
        #expect(APIError.notAccepting(.starting).code == "no_worker_ready")
    }

    @Test func failuresMapToStatusesAndCodes() {
        #expect(APIError.from(InferenceFailure.deadlineExceeded).status.code == 504)
        #expect(APIError.from(InferenceFailure.workerFailed("x")).code == "worker_failed")
        let twoDeaths = APIError.from(InferenceFailure.workerFailed("x")).response
        #expect(twoDeaths.status.code == 503, "retryable, not a 500")
        #expect(twoDeaths.headers["Retry-After"] == "1")
        #expect(APIError.from(InferenceFailure.inferenceFailed("x")).code == "inference_failed")
        #expect(APIError.from(ImageError.unsupportedFormat("gif")).status.code == 415)
        #expect(APIError.from(ImageError.unsupportedFormat("gif")).code == "unsupported_image_format")
        #expect(APIError.from(ImageError.corrupt("bad huffman")).code == "undecodable_image")
        #expect(APIError.from(ImageError.tooLarge(width: 10, height: 10, limit: 5)).code == "image_too_large")
        #expect(APIError.from(ImageError.tooLarge(width: 10, height: 10, limit: 5)).status.code == 422)
    }
}
