import ArgumentParser

/// The `fusion-serve` command line. Each subcommand lives in its own file.
@main
struct FusionServe: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fusion-serve",
        abstract: "CPU inference service for image + text fusion models.",
        version: "0.1.0",
        subcommands: [ServeCommand.self, WorkerCommand.self, BenchCommand.self, PredictCommand.self,
                      BenchModelCommand.self, TokenizeCommand.self, BenchTokenizerCommand.self,
                      BenchImagesCommand.self],
        defaultSubcommand: ServeCommand.self
    )
}
