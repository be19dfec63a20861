import Foundation
import Testing
@testable import Model

/// docs/model-format.md lists every declared tensor (layer indices written `{i}`, sibling
/// tensors grouped as `{weight,bias}` or "(`key`, `value` alike)").
struct ModelFormatDocTests {
    @Test func tensorTableCoversTheDeclaration() throws {
        let doc = try String(contentsOf: Fixtures.repoRoot.appendingPathComponent("docs/model-format.md"), encoding: .utf8)
        let declaration = WeightDeclaration(config: TinyConfig.make())
        for entry in declaration.entries {
            let generic = entry.name.replacingOccurrences(of: #"\.layer\.\d+\."#, with: ".layer.{i}.", options: .regularExpression)
            let asQuery = generic.replacingOccurrences(of: #"\.(key|value)\."#, with: ".query.", options: .regularExpression)
            let variants = [generic, asQuery].flatMap { name in [
                name,
                name.replacingOccurrences(of: #"\.(weight|bias)$"#, with: ".{weight,bias}", options: .regularExpression),
                name.replacingOccurrences(of: #"\.bias$"#, with: ".weight", options: .regularExpression),
            ] }
            #expect(variants.contains { doc.contains("`\($0)`") }, "\(entry.name) is not in docs/model-format.md")
        }
    }
}
