import ArgumentParser
import CentralReporter
import Foundation
import TallyCore

struct Privacy: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Data subject requests.", subcommands: [Delete.self])

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete every record of one user id on a site, re-aggregate the days, and say how many.")
        @OptionGroup var options: ConfigOptions
        @Option(help: "Site id.") var site: Int
        @Option(name: .customLong("user-id"), help: "The user id the site sent as Matomo's uid.") var userID: String

        func run() async throws {
            let config = options.load()
            guard config.site(id: site) != nil else { usageError("site \(site) is not configured; add it under [[sites]] in \(options.config).") }
            guard !userID.isEmpty else { usageError("--user-id must not be empty.") }
            guard let keyFile = config.userIDKeyFile else {
                usageError("user_id_key_file is not set in \(options.config); point it at the edges' user-id.key to find hashed user ids.")
            }
            let hasher: UserIDHasher
            do {
                hasher = try UserIDHasher.load(path: keyFile, create: false)
            } catch {
                fail(error)
            }
            let store = await openStore(config)
            let result = try await store.deleteUser(
                site: site, userID: userID, hasher: hasher, gap: Double(config.aggregation.visitGapMinutes * 60), now: Date())
            print("Deleted \(result.hits) hit(s) of that user on site \(site); re-aggregated \(result.days) day(s).")
        }
    }
}
