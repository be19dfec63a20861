import ArgumentParser
import Model

/// `fusion-serve predict` (placeholder until written).
struct PredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "predict", abstract: "Run a model on JSON Lines from stdin.")
    func run() throws {}
}
