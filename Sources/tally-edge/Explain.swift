import ArgumentParser
import EdgeCollector
import Foundation
import TallyCore
import TrackingInput

struct Explain: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run one request through the privacy pipeline and show each step and the stored record.",
        discussion: """
            Nothing is written: the visitor id is computed under a throwaway salt, so it differs from the \
            running edge's. Example:
              tally-edge explain -c edge.toml --ip 203.0.113.77 \\
                --url '/matomo.php?idsite=1&rec=1&url=https://example.com/' --header 'DNT: 1'
            """)

    @OptionGroup var options: ConfigOptions

    @Option(help: "The tracking request: a path with query (/matomo.php?idsite=1&rec=1&…) or a full URL.")
    var url: String

    @Option(help: "The client's IP address.")
    var ip: String

    @Option(name: .customLong("header"), help: "A request header as 'Name: value' (repeatable).")
    var headers: [String] = []

    func validate() throws {
        guard IPAddress(ip) != nil else {
            throw ValidationError("--ip \(ip) is not an IPv4 or IPv6 address.")
        }
        for header in headers where !header.contains(":") {
            throw ValidationError("--header '\(header)' is not of the form 'Name: value'.")
        }
    }

    func run() async throws {
        let config = try options.load()
        do {
            let pipeline = try PrivacyPipeline(
                config: config,
                geo: try config.geoIPDatabase.map { try MaxMindGeoLocator(path: $0) },
                visitors: VisitorHasher(salts: try SaltStore(path: nil, now: Date())),
                userIDs: FileManager.default.isReadableFile(atPath: config.userIDKeyFile)
                    ? try UserIDHasher.load(path: config.userIDKeyFile)
                    : UserIDHasher(masterKey: Data((0..<32).map { _ in UInt8.random(in: .min ... .max) })))
            var fields: [String: String] = [:]
            for header in headers {
                let parts = header.split(separator: ":", maxSplits: 1)
                fields[parts[0].trimmingCharacters(in: .whitespaces).lowercased()] = parts.count > 1
                    ? parts[1].trimmingCharacters(in: .whitespaces) : ""
            }
            let query = url.firstIndex(of: "?").map { String(url[url.index(after: $0)...]) } ?? url
            let parameters = try QueryParameters.parse(Array(query.utf8), limits: config.limits)
            let request = IncomingRequest(
                clientIP: IPAddress(ip)!,
                userAgent: parameters["ua"] ?? fields["user-agent"] ?? "",
                acceptLanguage: fields["accept-language"],
                headers: fields,
                cookies: IncomingRequest.parseCookies(fields["cookie"]),
                parameters: parameters,
                receivedAt: Date())
            let result = try pipeline.process(request, trace: true)
            print(result.explanation(), terminator: "")
        } catch let rejection as RequestRejection {
            print("Rejected with HTTP \(rejection.status) (\(rejection.dropReason)): \(rejection.reason)")
        } catch {
            fail(error)
        }
    }
}
