import Testing
@testable import Serving

@Suite struct OpenInferenceRouteTests {
    @Test func parsesEveryProtocolPath() {
        let cases: [(String, OpenInferenceRoute)] = [
            ("/v2", .server),
            ("/v2/health/live", .live),
            ("/v2/health/ready", .ready),
            ("/v2/models/stats", .allStatistics),
            ("/v2/models/m", .model(name: "m", version: nil, action: .metadata)),
            ("/v2/models/m/ready", .model(name: "m", version: nil, action: .ready)),
            ("/v2/models/m/config", .model(name: "m", version: nil, action: .config)),
            ("/v2/models/m/stats", .model(name: "m", version: nil, action: .stats)),
            ("/v2/models/m/infer", .model(name: "m", version: nil, action: .infer)),
            ("/v2/models/m/versions/1", .model(name: "m", version: "1", action: .metadata)),
            ("/v2/models/m/versions/7/infer", .model(name: "m", version: "7", action: .infer)),
            ("/v2/models/shapes%2Dmatch/ready", .model(name: "shapes-match", version: nil, action: .ready)),
            ("/v2/models/a%20b/versions/x%2Fy/config", .model(name: "a b", version: "x/y", action: .config)),
            // Everything else under /v2 is unknown (404).
            ("/v2/", .unknown), ("/v2/health", .unknown), ("/v2/health/dead", .unknown), ("/v2/models", .unknown),
            ("/v2/models/", .unknown), ("/v2/models//infer", .unknown), ("/v2/models/m/metadata", .unknown),
            ("/v2/models/m/infer/x", .unknown), ("/v2/models/m/versions", .unknown), ("/v2/models/m/versions//ready", .unknown),
            ("/v2/models/m/versions/1/ready/x", .unknown), ("/v2/models/%zz", .unknown), ("/v2/models/%C3", .unknown),
            ("/v2/repository/index", .unknown),
        ]
        for (path, route) in cases {
            #expect(OpenInferenceRoute(path: path) == route, "\(path)")
        }
        #expect(OpenInferenceRoute.isProtocolPath("/v2") && OpenInferenceRoute.isProtocolPath("/v2/x"))
        #expect(!OpenInferenceRoute.isProtocolPath("/v2x") && !OpenInferenceRoute.isProtocolPath("/v1/model"))
    }

    @Test func methodsLabelsAndProbes() {
        #expect(OpenInferenceRoute(path: "/v2/models/m/infer").allowedMethods == "POST")
        #expect(OpenInferenceRoute(path: "/v2/models/m").allowedMethods == "GET, HEAD")
        // Labels never carry client-chosen names: the metric's label set stays bounded.
        #expect(OpenInferenceRoute(path: "/v2/models/anything/versions/9/infer").metricsLabel == OpenInferenceRoute.inferLabel)
        #expect(OpenInferenceRoute(path: "/v2/models/anything").metricsLabel == "/v2/models/{name}")
        #expect(OpenInferenceRoute(path: "/v2/health/ready").isHealthProbe && OpenInferenceRoute(path: "/v2/health/live").isHealthProbe)
        #expect(!OpenInferenceRoute(path: "/v2").isHealthProbe && !OpenInferenceRoute(path: "/v2/models/m/ready").isHealthProbe)
    }
}
