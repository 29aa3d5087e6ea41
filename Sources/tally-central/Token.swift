import ArgumentParser
import CentralReporter
import Foundation
import Logging
import TallyCore

struct Token: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage reporting-API tokens.", subcommands: [Create.self, List.self, Revoke.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a token; it is shown once and only its hash is stored.")
        @OptionGroup var options: ConfigOptions
        @Option(help: "A name that says who or what uses the token.") var name: String
        @Option(help: "Site ids the token may read, comma-separated, or 'all'.") var sites: String
        @Option(help: "viewer or admin.") var role: String = "viewer"
        @Option(help: "Expiry: a date (YYYY-MM-DD, UTC midnight) or a number of days (30d).") var expires: String?

        func run() async throws {
            let config = options.load()
            guard let role = APIToken.Role(rawValue: role) else { usageError("--role \(role) is not known; use viewer or admin.") }
            guard !name.trimmingCharacters(in: .whitespaces).isEmpty else { usageError("--name must not be empty.") }
            var scope: Set<Int>?
            if sites != "all" {
                var ids = Set<Int>()
                for part in sites.split(separator: ",") {
                    guard let id = Int(part.trimmingCharacters(in: .whitespaces)), config.site(id: id) != nil else {
                        usageError("--sites \(sites): \(part) is not a configured site id; use ids from [[sites]] or 'all'.")
                    }
                    ids.insert(id)
                }
                guard !ids.isEmpty else { usageError("--sites names no site.") }
                scope = ids
            }
            let now = Date()
            var expiry: Date?
            if let expires {
                if expires.hasSuffix("d"), let days = Int(expires.dropLast()), (1...36_500).contains(days) {
                    expiry = now.addingTimeInterval(Double(days) * 86_400)
                } else if let day = LocalDay(expires), LocalDay.reportable.contains(day) {
                    expiry = day.bounds(in: TimeZone.gmt).start
                } else {
                    usageError("--expires \(expires) is not a date (YYYY-MM-DD, up to \(LocalDay.reportable.upperBound)) or a number of days from 1d to 36500d.")
                }
                guard let expiry, expiry > now else { usageError("--expires \(expires) is in the past.") }
            }
            let store = await openStore(config)
            let (token, record) = try await store.createToken(name: name, sites: scope, role: role, expiresAt: expiry, now: now)
            print("Token \(record.id) (\(record.name), \(record.role.rawValue), sites \(scope.map { $0.sorted().map(String.init).joined(separator: ",") } ?? "all")) — shown once, store it now:")
            print(token)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List tokens (never the tokens themselves).")
        @OptionGroup var options: ConfigOptions

        func run() async throws {
            let formatter = ISO8601DateFormatter()
            for token in try await openStore(options.load()).tokens() {
                let state = token.revokedAt.map { "revoked \(formatter.string(from: $0))" }
                    ?? token.expiresAt.map { $0 <= Date() ? "expired \(formatter.string(from: $0))" : "expires \(formatter.string(from: $0))" }
                    ?? "no expiry"
                let sites = token.sites.map { $0.sorted().map(String.init).joined(separator: ",") } ?? "all"
                print("\(token.id)\t\(token.name)\t\(token.role.rawValue)\tsites \(sites)\t\(state)\tlast used \(token.lastUsedAt.map { formatter.string(from: $0) } ?? "never")")
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a token by id.")
        @OptionGroup var options: ConfigOptions
        @Option(help: "The token's id (from token list).") var id: Int64

        func run() async throws {
            guard try await openStore(options.load()).revokeToken(id: id, now: Date()) else {
                usageError("token \(id) does not exist or is already revoked; see tally-central token list.")
            }
            print("Token \(id) revoked.")
        }
    }
}

struct Audit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the audit log, newest last.")
    @OptionGroup var options: ConfigOptions
    @Option(help: "How many entries.") var limit: Int = 100

    func run() async throws {
        let formatter = ISO8601DateFormatter()
        for entry in try await openStore(options.load()).auditLog(limit: max(1, limit)) {
            print("\(formatter.string(from: entry.at))  \(entry.event)  \(entry.detail)")
        }
    }
}

/// Central's store and engines without its listeners, for commands that do not serve anything; a
/// store that cannot be opened ends the command with its one-line error.
func openComponents(_ config: CentralConfig) async -> CentralComponents {
    do {
        return try await CentralComponents(offlineConfig: config, logger: Logger(label: "tally-central"))
    } catch {
        fail(error)
    }
}

func openStore(_ config: CentralConfig) async -> any CentralStore { await openComponents(config).store }
