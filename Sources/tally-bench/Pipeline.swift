import ArgumentParser
import EdgeCollector
import Foundation
import TallyCore
import TrackingInput

/// Times the edge's per-request work without the network: the query-string decoder, the privacy pipeline
/// and the hit's canonical JSON, over the same Matomo pageview mix as `matomo-mix.lua` (seeded). Prints
/// microseconds per request for each stage, so a change to one stage can be measured on its own.
struct Pipeline: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Time the edge's parse, pipeline and encoding stages per request.")

    @Option(name: [.short, .customLong("config")], help: "An edge configuration (its data directory holds the salts).") var config: String
    @Option(help: "Requests to time.") var requests = 200_000
    @Option(help: "User agents, one per line, most frequent first (`tally-bench detect --write`), drawn Zipf-weighted instead of the built-in nine.")
    var userAgents: String?

    func run() async throws {
        let config = try EdgeConfig.load(path: config)
        try FileManager.default.createDirectory(atPath: config.dataDirectory, withIntermediateDirectories: true)
        let pipeline = try PrivacyPipeline(
            config: config, geo: try config.geoIPDatabase.map { try MaxMindGeoLocator(path: $0) },
            visitors: VisitorHasher(salts: try SaltStore(path: config.saltStatePath, now: Date())),
            userIDs: try UserIDHasher.load(path: config.userIDKeyFile))
        let resolver = ClientAddressResolver(trustedProxies: config.trustedProxies)
        let limits = config.limits
        let agents = try userAgents.map { try String(contentsOfFile: $0, encoding: .utf8).split(separator: "\n").map(String.init) }
        var mix = MatomoMix(seed: 42, userAgents: agents)
        let samples = (0..<max(4_096, 4 * (agents?.count ?? 0))).map { _ in mix.next() }
        let proxy = IPAddress("127.0.0.1")!
        let now = Date()
        // Steady state: every user agent of the mix has been seen once (its detection cached), as on an
        // edge that has been running; `tally-bench detect` measures the first sight.
        for sample in samples {
            _ = try pipeline.process(IncomingRequest(
                clientIP: resolver.resolve(peer: proxy, forwardedFor: sample.forwardedFor, forwarded: nil),
                userAgent: sample.userAgent, acceptLanguage: sample.language,
                parameters: try QueryParameters.parse(sample.query, limits: limits), receivedAt: now))
        }

        var parseTime = Duration.zero, pipelineTime = Duration.zero, encodeTime = Duration.zero
        var stored = 0
        let clock = ContinuousClock()
        for index in 0..<requests {
            let sample = samples[index % samples.count]
            let started = clock.now
            let parameters = try QueryParameters.parse(sample.query, limits: limits)
            let request = IncomingRequest(
                clientIP: resolver.resolve(peer: proxy, forwardedFor: sample.forwardedFor, forwarded: nil),
                userAgent: sample.userAgent, acceptLanguage: sample.language, parameters: parameters, receivedAt: now)
            let parsed = clock.now
            let result = try pipeline.process(request)
            let processed = clock.now
            if case let .store(hit) = result.outcome, let digest = result.policyDigest {
                _ = try BufferedHit(hit: hit, policyDigest: digest)
                stored += 1
            }
            let encoded = clock.now
            parseTime += parsed - started
            pipelineTime += processed - parsed
            encodeTime += encoded - processed
        }
        func perRequest(_ time: Duration) -> String {
            String(format: "%.2f", Double(time.components.attoseconds / 1_000_000_000 + time.components.seconds * 1_000_000_000) / 1_000 / Double(requests))
        }
        print("stage\tmicroseconds per request")
        print("query string and request\t\(perRequest(parseTime))")
        print("privacy pipeline\t\(perRequest(pipelineTime))")
        print("canonical JSON\t\(perRequest(encodeTime))")
        print("total\t\(perRequest(parseTime + pipelineTime + encodeTime))")
        print("stored\t\(stored) of \(requests)")
    }
}

/// The request mix of `scripts/bench/matomo-mix.lua`: visitors with an address, user agent, language and
/// Matomo visitor id, and pageview URLs shaped like matomo.js's.
struct MatomoMix {
    struct Sample {
        var query: [UInt8]
        var forwardedFor: String
        var userAgent: String
        var language: String
    }

    static let userAgents = [
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
        "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.6723.107 Mobile Safari/537.36",
        "Mozilla/5.0 (Linux; Android 13; SM-A536B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    ]
    static let languages = ["en-US,en;q=0.9", "de-DE,de;q=0.9,en;q=0.8", "fr-FR,fr;q=0.9", "ja-JP,ja;q=0.9"]
    static let referrers = [
        "", "", "", "https://www.google.com/", "https://www.bing.com/search?q=analytics", "https://duckduckgo.com/",
        "https://news.ycombinator.com/item?id=4242", "https://t.co/abc123", "https://blog.example.org/links?ref=42",
    ]
    static let resolutions = ["1920x1080", "1366x768", "2560x1440", "390x844", "360x800"]

    var random: SeededGenerator
    /// A file's user agents and their cumulative Zipf weights (1/rank), or `nil` for the built-in list.
    let agents: [String]?
    let cumulative: [Double]

    init(seed: UInt64, userAgents: [String]? = nil) {
        random = SeededGenerator(seed: seed)
        agents = userAgents.flatMap { $0.isEmpty ? nil : $0 }
        var total = 0.0
        cumulative = (agents ?? []).indices.map { rank in
            total += 1 / Double(rank + 1)
            return total
        }
    }

    mutating func userAgent() -> String {
        guard let agents, let last = cumulative.last else { return Self.userAgents.randomElement(using: &random)! }
        let x = Double.random(in: 0..<last, using: &random)
        var low = 0, high = cumulative.count - 1
        while low < high {
            let middle = (low + high) / 2
            if cumulative[middle] < x { low = middle + 1 } else { high = middle }
        }
        return agents[low]
    }

    mutating func next() -> Sample {
        let section = SyntheticHits.sections.randomElement(using: &random)!
        let page = "https://example.com/\(section)/page-\(Int.random(in: 1...300, using: &random))?utm_source=\(Bool.random(using: &random) ? "newsletter" : "")&sessionid=\(Int.random(in: 1...1_000_000, using: &random))"
        let title = "\(section) – page \(Int.random(in: 1...2_000, using: &random))"
        let referrer = Self.referrers.randomElement(using: &random)!
        let visitor = (0..<16).map { _ in "0123456789abcdef".randomElement(using: &random)! }
        let query = "action_name=\(Self.encode(title))&idsite=1&rec=1&r=\(Int.random(in: 0...999_999, using: &random))"
            + "&h=\(Int.random(in: 0...23, using: &random))&m=\(Int.random(in: 0...59, using: &random))&s=\(Int.random(in: 0...59, using: &random))"
            + "&url=\(Self.encode(page))&urlref=\(Self.encode(referrer))&_idn=0&send_image=0&_refts=0"
            + "&pv_id=\(String(Int.random(in: 0...0xffffff, using: &random), radix: 16))&pf_net=0&pf_srv=\(Int.random(in: 5...200, using: &random))"
            + "&res=\(Self.resolutions.randomElement(using: &random)!)&cookie=1&_id=\(String(visitor))"
        let address = Int.random(in: 0..<5, using: &random) == 0
            ? "2a00:\(String(UInt16.random(in: 0...UInt16.max, using: &random), radix: 16))::\(String(UInt16.random(in: 1...UInt16.max, using: &random), radix: 16))"
            : "\(Int.random(in: 11...223, using: &random)).\(Int.random(in: 0...255, using: &random)).\(Int.random(in: 0...255, using: &random)).\(Int.random(in: 1...254, using: &random))"
        return Sample(
            query: Array(query.utf8), forwardedFor: address,
            userAgent: userAgent(), language: Self.languages.randomElement(using: &random)!)
    }

    /// Percent-encodes everything but unreserved characters, as `matomo-mix.lua` does.
    static func encode(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                out += "%" + (byte < 16 ? "0" : "") + String(byte, radix: 16, uppercase: true)
            }
        }
        return out
    }
}
