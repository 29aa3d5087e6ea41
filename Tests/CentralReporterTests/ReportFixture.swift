import CentralReporter
import Foundation
import Synchronization
import TallyCore

/// A frozen clock.
final class FixedClock: TallyClock {
    let value: Mutex<Date>
    init(_ date: Date) { value = Mutex(date) }
    func now() -> Date { value.withLock { $0 } }
}

/// The hand-computed fixture of docs/reports.md's examples: site 1 in Europe/Berlin over Saturday
/// 2026-10-24, Sunday 2026-10-25 (daylight saving ends: 03:00 CEST becomes 02:00 CET, a 25-hour day)
/// and Monday 2026-10-26.
enum ReportFixture {
    static let zone = TimeZone(identifier: "Europe/Berlin")!
    static let visitorA = "aaaaaaaaaaaaaaaa", visitorB = "bbbbbbbbbbbbbbbb", visitorC = "cccccccccccccccc", visitorD = "dddddddddddddddd"

    static func at(_ iso: String) -> Int64 { ISO8601DateFormatter().date(from: iso)!.millisecondsSince1970 }

    static func hit(_ visitor: String?, _ time: String, _ kind: HitKind = .pageview, url: String? = nil, title: String? = nil,
                    referrer: (ReferrerType, String?) = (.direct, nil), configure: (inout Hit) -> Void = { _ in }) -> Hit {
        var hit = Hit(siteID: 1, kind: kind, timestamp: at(time))
        hit.visitorID = visitor
        hit.url = url.map { "https://example.com" + $0 }
        hit.title = title
        hit.referrerType = referrer.0
        hit.referrerName = referrer.1
        configure(&hit)
        return hit
    }

    static func chrome120(_ h: inout Hit) { h.browser = "Chrome"; h.browserVersion = "120"; h.os = "Windows"; h.osVersion = "10"; h.device = .desktop; h.country = "FR"; h.city = "Paris"; h.region = "IDF" }
    static func safari17(_ h: inout Hit) { h.browser = "Safari"; h.browserVersion = "17"; h.os = "iOS"; h.osVersion = "17"; h.device = .smartphone; h.country = "JP"; h.city = "東京"; h.region = "13" }
    static func firefox121(_ h: inout Hit) { h.browser = "Firefox"; h.browserVersion = "121"; h.os = "Linux"; h.device = .desktop; h.country = "SE"; h.city = "Stockholm"; h.region = "AB" }
    static func chrome119(_ h: inout Hit) { h.browser = "Chrome"; h.browserVersion = "119"; h.os = "Android"; h.osVersion = "13"; h.device = .smartphone; h.country = "DE"; h.city = "Berlin"; h.region = "BE" }

    static var hits: [Hit] {
        [
            // Visitor A, Saturday: a visit from Google (two pages and an event, 7.5 minutes), then after a
            // 42.5-minute gap a second, one-page visit.
            hit(visitorA, "2026-10-24T10:00:00+02:00", url: "/", title: "Home", referrer: (.searchEngine, "Google"), configure: chrome120),
            hit(visitorA, "2026-10-24T10:05:00+02:00", url: "/pricing", title: "Pricing", configure: chrome120),
            hit(visitorA, "2026-10-24T10:07:30+02:00", .event, url: "/pricing", configure: { chrome120(&$0); $0.eventCategory = "Video"; $0.eventAction = "Play"; $0.eventValue = 5 }),
            hit(visitorA, "2026-10-24T10:50:00+02:00", url: "/", title: "Home", configure: chrome120),
            // Visitor B: a campaign visit at 23:50 that continues after midnight — two visits, one per day.
            hit(visitorB, "2026-10-24T23:50:00+02:00", url: "/blog", title: "ブログ 🎉", referrer: (.campaign, "秋のセール"),
                configure: { safari17(&$0); $0.campaignName = "秋のセール"; $0.campaignSource = "newsletter" }),
            hit(visitorB, "2026-10-25T00:10:00+02:00", url: "/blog/post", title: "ブログ 🎉", configure: safari17),
            // Visitor C on the 25-hour Sunday: 02:30 CEST and 02:30 CET are an hour apart — two visits.
            hit(visitorC, "2026-10-25T02:30:00+02:00", url: "/", title: "Home", referrer: (.social, "Facebook"), configure: firefox121),
            hit(visitorC, "2026-10-25T02:30:00+01:00", .siteSearch, url: "/search", configure: { firefox121(&$0); $0.searchKeyword = "Shoes"; $0.searchCount = 3 }),
            hit(visitorC, "2026-10-25T02:40:00+01:00", url: "/search", title: "Search", configure: firefox121),
            // Visitor D, Monday: from a blog; outlink, download, goal, and a ping that extends the visit to 20 minutes.
            hit(visitorD, "2026-10-26T09:00:00+01:00", url: "/", title: "Home", referrer: (.website, "blog.org"), configure: chrome119),
            hit(visitorD, "2026-10-26T09:10:00+01:00", .outlink, url: "/", configure: { chrome119(&$0); $0.linkURL = "https://other.org/x" }),
            hit(visitorD, "2026-10-26T09:12:00+01:00", .download, url: "/", configure: { chrome119(&$0); $0.linkURL = "https://example.com/file.pdf" }),
            hit(visitorD, "2026-10-26T09:15:00+01:00", .goal, url: "/", configure: { chrome119(&$0); $0.goalID = 1; $0.revenue = 10 }),
            hit(visitorD, "2026-10-26T09:20:00+01:00", .ping, url: "/", configure: chrome119),
            // Visitor A again on Monday (same id, as with trust_client_visitor_id): one page.
            hit(visitorA, "2026-10-26T14:00:00+01:00", url: "/pricing", title: "Pricing", configure: chrome120),
            // An aggregate-only pageview (DNT under count_only) and a bot.
            hit(nil, "2026-10-26T15:00:00+01:00", url: "/pricing", title: "Pricing", configure: { $0.aggregateOnly = true; $0.country = "DE" }),
            hit("eeeeeeeeeeeeeeee", "2026-10-26T16:00:00+01:00", url: "/", configure: { $0.isBot = true; $0.device = .bot }),
        ]
    }

    /// Site 2's one visit, which no site-1 token may see.
    static var site2Hits: [Hit] {
        var hit = hit("9999999999999999", "2026-10-24T12:00:00Z", url: "/secret-site-2", configure: chrome120)
        hit.siteID = 2
        return [hit]
    }

    static let configTOML = """
        data_dir = "%DATA%"
        [ingest]
        certificate_file = "unused"
        key_file = "unused"
        edge_ca_file = "unused"
        [[sites]]
        id = 1
        name = "Example 例え"
        time_zone = "Europe/Berlin"

        [[sites]]
        id = 2
        name = "Other"
        time_zone = "UTC"

        [api]
        listen = "127.0.0.1:0"
        """

    /// A central store in `directory` (or a new PostgreSQL database) holding the fixture's hits (delivered
    /// in `batches`), with a report engine.
    static func load(
        in directory: String, backend: StoreBackend = .sqlite, batches: [[Hit]] = [hits, site2Hits], now: String = "2026-11-02T12:00:00Z"
    ) async throws -> CentralComponents {
        let toml = configTOML.replacingOccurrences(of: "%DATA%", with: directory + "/data") + "\n" + (try await backend.storeTable())
        let config = try CentralConfig.parse(toml: toml)
        let components = try await CentralComponents(offlineConfig: config, clock: FixedClock(ISO8601DateFormatter().date(from: now)!), logger: .init(label: "test"))
        for (index, batch) in batches.enumerated() {
            try await deliver(batch, sequence: Int64(index + 1), to: components)
        }
        return components
    }

    static func deliver(_ hits: [Hit], sequence: Int64, to components: CentralComponents) async throws {
        let header = BatchHeader(edgeID: "edge-1", sequence: sequence, createdAt: 1, hitCount: hits.count, policyDigest: String(repeating: "0", count: 64), bodyBytes: 0)
        _ = try await components.store.store(header, hits: hits, contentSHA256: "\(sequence)", receivedAt: Date())
    }
}

/// The store backends the store tests run on: SQLite always; PostgreSQL where `scripts/test.sh` started
/// a server (`scripts/postgres-server.sh`), and always under CI, where a missing server fails the tests.
enum StoreBackend: String, Sendable, CaseIterable, CustomStringConvertible {
    case sqlite, postgresql

    var description: String { rawValue }

    static let all: [StoreBackend] = {
        let environment = ProcessInfo.processInfo.environment
        return environment["TALLY_TEST_POSTGRES_URL"] != nil || environment["CI"] == "true" ? [.sqlite, .postgresql] : [.sqlite]
    }()

    struct Unavailable: Error, CustomStringConvertible {
        var description: String { "TALLY_TEST_POSTGRES_URL is not set: run the tests with scripts/test.sh, which starts PostgreSQL" }
    }

    /// The `[store]` table of a new, empty store: nothing for SQLite (the data directory is new); for
    /// PostgreSQL a database of its own on the test server.
    func storeTable() async throws -> String {
        guard self == .postgresql else { return "" }
        let environment = ProcessInfo.processInfo.environment
        guard let url = environment["TALLY_TEST_POSTGRES_URL"], let passwordFile = environment["TALLY_TEST_POSTGRES_PASSWORD_FILE"],
              let server = url.range(of: "/", options: .backwards).map({ String(url[..<$0.lowerBound]) }) else { throw Unavailable() }
        let database = "tally_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        let password = try String(contentsOfFile: passwordFile, encoding: .utf8).trimmingCharacters(in: .newlines)
        let (status, output) = try await run("/usr/bin/env", ["PGPASSWORD=\(password)", "psql", url, "-q", "-c", "CREATE DATABASE \(database)"])
        guard status == 0 else { throw CentralError.storeSettings("CREATE DATABASE failed: \(output)") }
        // Start-up's wait for the database is a guard against a dead server, not a timing assumption: the
        // test process may keep its threads busy for a while (the detection conformance tests) before the
        // store's tasks run.
        return """
            [store]
            url = "\(server)/\(database)"
            password_file = "\(passwordFile)"
            connect_timeout_seconds = 600
            """
    }
}
