import Testing
@testable import Serving

extension ServeConfigurationTests {
    @Test func maxRequestItemsComesFromItsFlagOrVariableWithinBounds() throws {
        #expect(ServeConfiguration().maxRequestItems == 64)
        let flag = try ServeConfiguration.resolve(flags: ["--max-request-items": "8"], environment: ["FUSION_MAX_REQUEST_ITEMS": "9"])
        #expect(flag.maxRequestItems == 8)
        let variable = try ServeConfiguration.resolve(flags: [:], environment: ["FUSION_MAX_REQUEST_ITEMS": "9"])
        #expect(variable.maxRequestItems == 9)
        for bad in ["0", "4097", "x"] {
            #expect(throws: ConfigurationError.self) { try ServeConfiguration.resolve(flags: ["--max-request-items": bad], environment: [:]) }
        }
    }
}
