import ArgumentParser
import EdgeCollector

struct CheckConfig: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Validate the configuration; print each site's effective policy and data inventory.")

    @OptionGroup var options: ConfigOptions

    func run() async throws {
        let config = try options.load()
        // The same key-file checks as `run`: a configuration check-config accepts is one run starts with.
        do {
            try config.checkSecretFiles()
        } catch {
            fail(error)
        }
        print(config.policyReport(), terminator: "")
    }
}
