import ArgumentParser
import EdgeCollector
import Foundation

/// `-c edge.toml`, shared by every subcommand.
struct ConfigOptions: ParsableArguments {
    @Option(name: [.short, .customLong("config")], help: "Path of the edge configuration (TOML).")
    var config: String

    /// Loads the configuration, or prints its one-sentence error and exits with status 1.
    func load() throws -> EdgeConfig {
        do {
            return try EdgeConfig.load(path: config)
        } catch {
            fail(error)
        }
    }
}

/// Prints an error as one line on standard error and exits with status 1.
func fail(_ error: any Error) -> Never {
    FileHandle.standardError.write(Data("tally-edge: \(error)\n".utf8))
    exit(1)
}
