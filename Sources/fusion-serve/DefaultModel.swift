import Foundation
import Serving

/// Where the commands find the model when `--model` is not given: the embedded default model
/// (`models/default`), looked up the same way `serve` does.
enum DefaultModel {
    /// The value commands show as `--model`'s default.
    static let directory = "models/default"

    /// The model directory to use for `given` (`--model`), resolving the default.
    static func resolve(_ given: String) throws -> String {
        var configuration = ServeConfiguration()
        configuration.modelDirectory = given
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            ?? CommandLine.arguments[0]
        return try configuration.resolvedModelDirectory(executable: executable)
    }
}
