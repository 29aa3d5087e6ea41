import Foundation

/// The `crawler-user-agents` pattern list (PyPI): crawlers, monitors, scanners and HTTP libraries that
/// device-detector's bot file does not know. Patterns are matched as the list intends them: case-sensitive,
/// anywhere in the user agent.
public struct CrawlerPatterns: Sendable {
    struct Entry {
        /// The entry's place in the list, for messages.
        let index: Int
        let pattern: PatternID
    }

    let path: String
    let entries: OrderedPatterns<Entry>
    let patterns: PatternStore

    /// How many patterns the list holds.
    public var count: Int { entries.entries.count }

    /// Where `scripts/install-deps.sh` installs the pinned package; the default of `crawler_patterns`.
    public static let installedPath = "/usr/local/share/tally/pypi/crawleruseragents/crawler-user-agents.json"

    /// Reads the list. Its patterns compile on first use, as the device database's do.
    public init(path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DeviceDatabaseError("crawler pattern list \(path) is missing or unreadable; install it with scripts/install-deps.sh or set crawler_patterns in edge.toml")
        }
        guard let list = try? JSONSerialization.jsonObject(with: data) as? [[String: Any]] else {
            throw DeviceDatabaseError("crawler pattern list \(path): not a JSON list of {\"pattern\": …} entries; reinstall it")
        }
        var entries: [Entry] = []
        let patterns = PatternStore.Builder(literalFilters: true)
        for (index, item) in list.enumerated() {
            guard let source = item["pattern"] as? String, !source.isEmpty else { continue }
            entries.append(Entry(index: index, pattern: patterns.add(source, boundary: .none, caseSensitive: true)))
        }
        self.path = path
        self.entries = OrderedPatterns(entries, pattern: \.pattern)
        self.patterns = patterns.build()
    }

    /// Compiles every pattern; one line per pattern ICU cannot compile (file, entry, pattern, reason).
    /// Such a pattern never matches; the rest of the list works.
    public func invalidPatterns() -> [String] {
        entries.entries.compactMap { patterns.compilationProblem($0.pattern, file: path, entry: String($0.index)) }
    }

    /// The first listed pattern the user agent matches, as matched text (the crawler's name as it appears).
    func match(_ userAgent: String) -> String? {
        let ua = UserAgentText(userAgent, patterns: patterns)
        guard let (entry, match) = entries.first(in: ua) else { return nil }
        let name = (match.groups.first ?? nil)?.trimmingCharacters(in: CharacterSet.alphanumerics.inverted) ?? ""
        return name.isEmpty ? patterns.source(entry.pattern) : name
    }
}

/// device-detector first; the crawler list for what it misses, but never for a user agent device-detector
/// attributes to a real device (a brand it recognises), so a phone whose model name contains "bot" or
/// "spider" stays a phone.
public struct UserAgentClassifier: Sendable {
    public let detector: DeviceDetector
    public let crawlers: CrawlerPatterns?

    public init(detector: DeviceDetector, crawlers: CrawlerPatterns?) {
        self.detector = detector
        self.crawlers = crawlers
    }

    public static let crawlerCategory = "Crawler"

    public func classify(userAgent: String, hints: DetectionHints? = nil) -> DeviceDetection {
        var detection = detector.detect(userAgent: userAgent, hints: hints)
        guard detection.bot == nil, detection.brand == nil, let crawlers else { return detection }
        if let name = crawlers.match(DeviceDetector.prepared(userAgent)) {
            var bot = DeviceDetection()
            bot.bot = DeviceDetection.Bot(name: name, category: Self.crawlerCategory)
            detection = bot
        }
        return detection
    }
}
