import ArgumentParser
import CentralReporter
import Foundation
import Hummingbird
import Logging
import TallyCore

/// `-c central.toml`, shared by every subcommand.
struct ConfigOptions: ParsableArguments {
    @Option(name: [.short, .customLong("config")], help: "Path of the central configuration (TOML).")
    var config: String

    func load() -> CentralConfig {
        do {
            return try CentralConfig.load(path: config)
        } catch {
            fail(error)
        }
    }
}

func fail(_ error: any Error) -> Never {
    FileHandle.standardError.write(Data("tally-central: \(error)\n".utf8))
    exit(1)
}

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run central until SIGTERM or SIGINT.")

    @OptionGroup var options: ConfigOptions

    func run() async throws {
        let config = options.load()
        let level = Logger.Level(rawValue: config.logLevel) ?? .info
        LoggingSystem.bootstrap { label in DeferredMetadataLogHandler(label: label, level: level) }
        let logger = Logger(label: "tally-central")
        let app: any ApplicationProtocol
        do {
            let components = try await CentralComponents(config: config, logger: logger)
            try await components.store.audit("config_loaded", detail: "path=\(options.config) sha256=\(try ConfigDigest.of(file: options.config))", at: Date())
            let api = try buildAPIApplication(components: components, logger: logger)
            app = try buildCentralApplication(components: components, logger: logger, services: [api])
        } catch {
            fail(error)
        }
        try await app.runService()
        logger.notice("tally-central stopped")
    }
}

struct CheckConfig: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config", abstract: "Validate the configuration and the TLS files it names.")

    @OptionGroup var options: ConfigOptions

    func run() async throws {
        let config = options.load()
        do {
            _ = try CentralComponents.checkTLS(config.ingest)
            try config.checkSecretFiles()
        } catch {
            fail(error)
        }
        print("Configuration is valid: data in \(config.dataDirectory), ingest on \(config.ingest.host):\(config.ingest.port) (TLS 1.3, client certificates from \(config.ingest.edgeCAFile))")
        print("Registered edges: \(config.edges.isEmpty ? "none" : config.edges.map(\.id).joined(separator: ", "))")
    }
}
