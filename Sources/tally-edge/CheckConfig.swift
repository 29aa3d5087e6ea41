import ArgumentParser
import EdgeCollector

struct CheckConfig: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Validate the configuration; print each site's effective policy and data inventory, and check the detection databases.")

    @OptionGroup var options: ConfigOptions

    func run() async throws {
        let config = try options.load()
        // The same key-file checks as `run`: a configuration check-config accepts is one run starts with.
        do {
            try config.checkSecretFiles()
        } catch {
            fail(error)
        }
        let detection: String
        do {
            detection = try config.detectionReport()
        } catch {
            fail(error)
        }
        print(config.policyReport(), terminator: "")
        print(detection, terminator: "")
    }
}
