import Foundation
import Testing
@testable import Serving

@Suite struct OpenAPIDocumentTests {
    /// The binary serves docs/openapi.yaml from a generated Swift string (the installed service
    /// has no docs/); this fails until tools/gen-openapi-swift.sh is run after an edit.
    @Test func theBuiltInDocumentIsDocsOpenAPIYAML() throws {
        let path = Fixtures.root.appendingPathComponent("docs/openapi.yaml").path
        let file = try #require(FileManager.default.contents(atPath: path))
        #expect(Array(OpenAPIDocument.yaml.utf8) == [UInt8](file),
                "docs/openapi.yaml changed: run tools/gen-openapi-swift.sh")
    }

    @Test func theDocumentCoversEveryRoute() {
        for path in ["/infer:", "/healthz:", "/livez:", "/metrics:", "/v1/model:", "/openapi.yaml:", "/v2:", "/v2/health/live:",
                     "/v2/health/ready:", "/v2/models/stats:", "/v2/models/{model_name}:", "/v2/models/{model_name}/ready:",
                     "/v2/models/{model_name}/config:", "/v2/models/{model_name}/stats:", "/v2/models/{model_name}/infer:",
                     "/v2/models/{model_name}/versions/{model_version}/infer:"] {
            #expect(OpenAPIDocument.yaml.contains("\n  \(path)\n"), "\(path)")
        }
    }
}
