import Crypto
import EdgeCollector
import Foundation
import Logging
import Synchronization
import TallyCore
import TrackingInput

/// A clock tests set and move by hand.
final class FrozenClock: TallyClock {
    private let current: Mutex<Date>
    init(_ date: Date) { current = Mutex(date) }
    func now() -> Date { current.withLock { $0 } }
    func advance(by seconds: TimeInterval) { current.withLock { $0 = $0.addingTimeInterval(seconds) } }
    func set(_ date: Date) { current.withLock { $0 = date } }
}

/// A fresh directory per test, removed when the value goes away.
final class TemporaryDirectory: Sendable {
    let path: String
    init() throws {
        path = NSTemporaryDirectory() + "tally-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    func file(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }
    deinit { try? FileManager.default.removeItem(atPath: path) }
}

enum Fixtures {
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The test GeoIP database, generated once per test run by scripts/make-test-geoip.pl (Debian's
    /// libmaxmind-db-writer-perl): 203.0.113.0/24 Paris inside 203.0.0.0/16 Berlin, 2001:db8:1:2::/64
    /// Stockholm inside 2001:db8::/32 Amsterdam, 198.51.100.0/24 Tokyo, 192.0.2.0/24 San Francisco.
    static let geoIPDatabase: String = {
        let path = NSTemporaryDirectory() + "tally-test-geoip-\(ProcessInfo.processInfo.processIdentifier).mmdb"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/perl")
        process.arguments = [packageRoot.appendingPathComponent("scripts/make-test-geoip.pl").path, path]
        do {
            try process.run()
            process.waitUntilExit()
        } catch {
            return "/nonexistent: perl could not run (\(error))"
        }
        return path
    }()

    static let trackingToken = "test-tracking-token"
    static var trackingTokenSHA256: String {
        SHA256.hash(data: Data(trackingToken.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    static let chrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
    static let iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1"
    static let firefoxLinux = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"

    /// A configuration for site 1 (example.com) and site 2, with `privacy` lines added to the global
    /// policy and `extra` top-level lines.
    static func configTOML(dataDir: String, privacy: String = "", extra: String = "", site1Privacy: String = "") -> String {
        """
        edge_id = "test-edge"
        listen = "127.0.0.1:0"
        data_dir = "\(dataDir)"
        geoip_database = "\(geoIPDatabase)"
        trusted_proxies = ["127.0.0.1", "::1"]
        \(extra)

        [privacy]
        \(privacy)

        [[sites]]
        id = 1
        name = "Example"
        domains = ["example.com", "*.example.com"]
        time_zone = "Europe/Berlin"
        tracking_token_sha256 = "\(trackingTokenSHA256)"
        \(site1Privacy.isEmpty ? "" : "[sites.privacy]\n" + site1Privacy)

        [[sites]]
        id = 2
        name = "Other"
        """
    }

    static func config(dataDir: String, privacy: String = "", extra: String = "", site1Privacy: String = "") throws -> EdgeConfig {
        try EdgeConfig.parse(toml: configTOML(dataDir: dataDir, privacy: privacy, extra: extra, site1Privacy: site1Privacy))
    }
}

/// A pipeline over the test GeoIP database with in-memory salts and a fixed user-id key.
func makePipeline(_ config: EdgeConfig, clock: FrozenClock? = nil) throws -> (PrivacyPipeline, SaltStore) {
    let salts = try SaltStore(path: nil, now: clock?.now() ?? Date())
    let pipeline = try PrivacyPipeline(
        config: config, geo: try MaxMindGeoLocator(path: Fixtures.geoIPDatabase),
        visitors: VisitorHasher(salts: salts), userIDs: UserIDHasher(masterKey: Data(repeating: 7, count: 32)))
    return (pipeline, salts)
}

/// An incoming request from a query string.
func request(
    _ query: String, ip: String = "203.0.113.77", userAgent: String = Fixtures.chrome,
    headers: [String: String] = [:], cookies: [String: String] = [:], at date: Date = Date()
) throws -> IncomingRequest {
    IncomingRequest(
        clientIP: IPAddress(ip)!, userAgent: userAgent, acceptLanguage: "de-DE,de;q=0.9,en;q=0.8",
        headers: headers, cookies: cookies,
        parameters: try QueryParameters.parse(Array(query.utf8), limits: RequestLimits()), receivedAt: date)
}

/// Log lines kept in memory, to check that none carries personal data.
final class LogCapture: Sendable {
    let lines = Mutex<[String]>([])

    var logger: Logger {
        var logger = Logger(label: "tally-edge-test") { _ in Handler(capture: self) }
        logger.logLevel = .trace
        return logger
    }

    var text: String { lines.withLock { $0.joined(separator: "\n") } }

    struct Handler: LogHandler {
        let capture: LogCapture
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            let all = metadata.merging(event.metadata ?? [:]) { $1 }
            capture.lines.withLock { $0.append("\(event.level) \(event.message) \(all)") }
        }
    }
}
