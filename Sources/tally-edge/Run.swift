import ArgumentParser
import EdgeCollector
import Logging
import TallyCore

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the collector until SIGTERM or SIGINT.")

    @OptionGroup var options: ConfigOptions

    func run() async throws {
        let config = try options.load()
        let level = Logger.Level(rawValue: config.logLevel) ?? .info
        LoggingSystem.bootstrap { label in DeferredMetadataLogHandler(label: label, level: level) }
        let logger = Logger(label: "tally-edge")
        let components: EdgeComponents
        do {
            components = try EdgeComponents(config: config, logger: logger)
        } catch {
            fail(error)
        }
        // After the configuration and databases are in: a start-up that fails says one line only.
        logger.debug("Memory allocator: \(Allocator.description)")
        Allocator.returnFreedPages()
        let app = buildEdgeApplication(components: components, logger: logger)
        try await app.runService()
        logger.notice("tally-edge stopped; pending hits committed")
    }
}
