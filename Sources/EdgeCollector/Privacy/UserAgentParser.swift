import DeviceDetection
import Foundation
import Synchronization
import TallyCore

/// What Tally keeps of a user agent: Matomo's client and OS names with major versions, device type and
/// brand, and for bots their name and category — never the string itself, nor the device model.
public struct UserAgentSummary: Sendable, Equatable {
    public var browser: String?
    public var browserVersion: String?
    public var os: String?
    public var osVersion: String?
    public var device: DeviceType
    public var brand: String?
    public var isBot: Bool
    public var botName: String?
    public var botCategory: String?
}

/// Reduces a user agent (and its client hints) to a `UserAgentSummary` with Matomo's device-detector
/// database and the crawler list. Results are cached per user agent and hints (user agents repeat
/// heavily); the cache is bounded and cleared when full.
public final class UserAgentParser: Sendable {
    private let classifier: UserAgentClassifier
    private let cache = Mutex<[String: UserAgentSummary]>([:])
    private let cacheLimit: Int

    public init(classifier: UserAgentClassifier, cacheLimit: Int = 20_000) {
        self.classifier = classifier
        self.cacheLimit = cacheLimit
    }

    /// The parser for an edge configuration's databases (loaded once per process and path).
    public convenience init(config: EdgeConfig) throws {
        self.init(classifier: try DetectionDatabases.classifier(devices: config.deviceDatabase, crawlers: config.crawlerPatterns))
    }

    public func summarize(_ userAgent: String, hints: DetectionHints? = nil) -> UserAgentSummary {
        let key = hints.map { userAgent + "\u{0}" + Self.key($0) } ?? userAgent
        if let cached = cache.withLock({ $0[key] }) { return cached }
        let summary = Self.summary(of: classifier.classify(userAgent: userAgent, hints: hints))
        cache.withLock { cache in
            if cache.count >= cacheLimit { cache.removeAll(keepingCapacity: true) }
            cache[key] = summary
        }
        return summary
    }

    static func summary(of detection: DeviceDetection) -> UserAgentSummary {
        if let bot = detection.bot {
            return UserAgentSummary(device: .bot, isBot: true, botName: bot.name, botCategory: bot.category)
        }
        let os = detection.osName
        return UserAgentSummary(
            browser: detection.clientName, browserVersion: major(detection.clientVersion),
            os: os, osVersion: os == "Windows" ? detection.osVersion.flatMap { $0.isEmpty ? nil : $0 } : major(detection.osVersion),
            device: detection.device.map { DeviceType(rawValue: $0.rawValue) } ?? .other,
            brand: detection.brand, isBot: false)
    }

    /// "120.0.6099" → "120"; Windows keeps its names ("8.1", "XP", "Vista", "11").
    static func major(_ version: String?) -> String? {
        guard let version, let first = version.split(separator: ".").first, !first.isEmpty else { return nil }
        return String(first)
    }

    private static func key(_ hints: DetectionHints) -> String {
        let brands = hints.brands.map { "\($0.name);\($0.version)" }.joined(separator: ",")
        return [brands, hints.fullVersion, hints.platform, hints.platformVersion, hints.mobile ? "1" : "0", hints.model, hints.app,
                hints.formFactors.joined(separator: ",")].joined(separator: "\u{1}")
    }
}

/// Browser prefetches by header: speculative loads the browser made on its own, not visits.
public enum BotDetector {
    /// `Purpose`, `Sec-Purpose`, Firefox's `X-Moz`.
    public static func isPrefetch(headers: [String: String]) -> Bool {
        for name in ["purpose", "sec-purpose", "x-purpose", "x-moz"] {
            if let value = headers[name]?.lowercased(), value.contains("prefetch") || value.contains("preview") || value.contains("prerender") {
                return true
            }
        }
        return false
    }
}

/// The detection databases, loaded once per process and path (every pipeline of a process shares them).
public enum DetectionDatabases {
    private static let devices = Mutex<[String: DeviceDetector]>([:])
    private static let crawlerLists = Mutex<[String: CrawlerPatterns]>([:])
    private static let referrers = Mutex<[String: ReferrerDatabase]>([:])

    public static func classifier(devices path: String, crawlers crawlerPath: String?) throws -> UserAgentClassifier {
        UserAgentClassifier(detector: try detector(path), crawlers: try crawlerPath.map(crawlerPatterns))
    }

    public static func detector(_ path: String) throws -> DeviceDetector {
        try loaded(path, in: devices) { DeviceDetector(database: try DeviceDatabase(directory: $0)) }
    }

    public static func crawlerPatterns(_ path: String) throws -> CrawlerPatterns {
        try loaded(path, in: crawlerLists, CrawlerPatterns.init(path:))
    }

    public static func referrerDatabase(_ path: String) throws -> ReferrerDatabase {
        try loaded(path, in: referrers, ReferrerDatabase.init(path:))
    }

    private static func loaded<T: Sendable>(_ path: String, in cache: borrowing Mutex<[String: T]>, _ load: (String) throws -> T) throws -> T {
        try cache.withLock { loaded in
            if let value = loaded[path] { return value }
            let value = try load(path)
            loaded[path] = value
            return value
        }
    }
}

extension EdgeConfig {
    /// Loads the detection databases as `run` does (a missing or unreadable file, or YAML that does not
    /// parse, throws one line naming it) and describes them for `check-config`: what was loaded, and a
    /// warning per pattern ICU cannot compile (those patterns are skipped; the rest work).
    public func detectionReport() throws -> String {
        let detector = try DetectionDatabases.detector(deviceDatabase)
        var lines = ["device database: \(deviceDatabase) (\(detector.database.patternCount) patterns)"]
        var warnings = detector.database.invalidPatterns()
        if let crawlerPatterns {
            let list = try DetectionDatabases.crawlerPatterns(crawlerPatterns)
            lines.append("crawler patterns: \(crawlerPatterns) (\(list.count) patterns)")
            warnings += list.invalidPatterns()
        } else {
            lines.append("crawler patterns: off (crawler_patterns = \"\")")
        }
        let referrers = try DetectionDatabases.referrerDatabase(referrerDatabase)
        lines.append("referrer database: \(referrerDatabase) (\(referrers.domainCount) domains)")
        lines += warnings.map { "warning: \($0)" }
        return lines.joined(separator: "\n") + "\n"
    }
}
