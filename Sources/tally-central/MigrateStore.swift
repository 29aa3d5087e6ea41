import ArgumentParser
import CentralReporter
import Foundation
import Logging

struct MigrateStore: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate-store",
        abstract: "Copy this central's SQLite store into a PostgreSQL database (docs/scale-out.md).",
        discussion: """
            Stop central first. Batches are copied whole, each with its hits; the other tables row by row,
            skipping rows the database already has, so an interrupted copy is resumed by running the
            command again. It ends by comparing every table's rows on both sides; exit status 1 when they
            differ. Then set [store] url in central.toml and start central.
            """)

    @OptionGroup var options: ConfigOptions

    @Option(name: .customLong("to"), help: "The database: postgresql://USER@HOST:PORT/DATABASE.")
    var url: String

    @Option(name: .customLong("password-file"), help: "A file (mode 0600) holding the database password.")
    var passwordFile: String?

    @Option(name: .customLong("password-env"), help: "An environment variable holding the database password.")
    var passwordEnvironment: String?

    @Option(name: .customLong("ca-file"), help: "Connect with TLS, the server's certificate chaining to this CA.")
    var caFile: String?

    func run() async throws {
        let config = options.load()
        guard config.store.postgres == nil else {
            usageError("The configuration's [store] already names a PostgreSQL database; migrate-store copies the SQLite store of data_dir.")
        }
        guard FileManager.default.fileExists(atPath: config.storePath) else {
            usageError("There is no SQLite store at \(config.storePath) to copy.")
        }
        let settings: StoreSettings
        do {
            settings = try StoreSettings.postgres(url: url, passwordFile: passwordFile, passwordEnvironment: passwordEnvironment, caFile: caFile)
        } catch {
            usageError("\(error)")
        }
        do {
            let zones: @Sendable (Int) -> TimeZone = { config.timeZone(site: $0) }
            let source = try SQLiteCentralStore.open(path: config.storePath, zones: zones)
            let target = try await PostgresCentralStore.open(settings, zones: zones, logger: Logger(label: "tally-central"))
            print("Copying \(config.storePath) into \(target.target)")
            let counts = try await StoreMigration(source: source, target: target).run { print($0) }
            var same = true
            for count in counts {
                let mark = !count.matches ? "DIFFERENT" : count.target > count.source ? "ok (marked to aggregate again)" : "ok"
                if !count.matches { same = false }
                print("\(count.table.padding(toLength: 15, withPad: " ", startingAt: 0)) \(count.source) \(count.target) \(mark)")
            }
            guard same else { fail(MigrationMismatch()) }
            print("Every table holds the same rows. Set [store] url = \"\(url)\" in the configuration and start central.")
        } catch {
            fail(error)
        }
    }
}

struct MigrationMismatch: Error, CustomStringConvertible {
    var description: String { "some tables differ after the copy (marked DIFFERENT above); run migrate-store again, or look at the database for rows added by another central" }
}
