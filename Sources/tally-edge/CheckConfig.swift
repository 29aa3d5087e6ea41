import ArgumentParser
import EdgeCollector

struct CheckConfig: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Validate the configuration; print each site's effective policy and data inventory.")

    @OptionGroup var options: ConfigOptions

    func run() async throws {
        let config = try options.load()
        print(config.policyReport(), terminator: "")
    }
}
