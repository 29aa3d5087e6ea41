import TrackingInput
import Foundation
import Synchronization
import TallyCore

/// What Tally keeps of a user agent: families and major versions, never the string itself.
public struct UserAgentSummary: Sendable, Equatable {
    public var browser: String?
    public var browserVersion: String?
    public var os: String?
    public var osVersion: String?
    public var device: DeviceType
    public var isBot: Bool
}

/// Reduces a user-agent string to browser and OS families with major versions and a device type.
///
/// Rules are ordered tokens, most specific first, because browsers imitate each other: Edge says
/// "Chrome" and "Safari", Chrome says "Safari", Opera says "Chrome". Results are cached (user agents
/// repeat heavily); the cache is bounded and cleared when full.
public final class UserAgentParser: Sendable {
    private let cache = Mutex<[String: UserAgentSummary]>([:])
    private let cacheLimit: Int

    public init(cacheLimit: Int = 10_000) { self.cacheLimit = cacheLimit }

    public func summarize(_ userAgent: String) -> UserAgentSummary {
        if let cached = cache.withLock({ $0[userAgent] }) { return cached }
        let summary = Self.parse(userAgent)
        cache.withLock { cache in
            if cache.count >= cacheLimit { cache.removeAll(keepingCapacity: true) }
            cache[userAgent] = summary
        }
        return summary
    }

    /// (token that identifies the browser, family name), checked in order.
    private static let browserRules: [(String, String)] = [
        ("edga/", "Edge"), ("edgios/", "Edge"), ("edg/", "Edge"), ("edge/", "Edge"),
        ("opr/", "Opera"), ("opt/", "Opera"), ("opera/", "Opera"),
        ("samsungbrowser/", "Samsung Internet"), ("yabrowser/", "Yandex Browser"),
        ("ucbrowser/", "UC Browser"), ("vivaldi/", "Vivaldi"), ("brave/", "Brave"),
        ("duckduckgo/", "DuckDuckGo"), ("fxios/", "Firefox"), ("firefox/", "Firefox"),
        ("crios/", "Chrome"), ("chromium/", "Chromium"), ("chrome/", "Chrome"),
        ("msie ", "Internet Explorer"), ("trident/", "Internet Explorer"),
        ("version/", "Safari"),
    ]

    static func parse(_ userAgent: String) -> UserAgentSummary {
        let ua = userAgent.lowercased()
        let isBot = BotDetector.isBot(lowercasedUserAgent: ua)

        var browser: String?
        var browserVersion: String?
        for (token, family) in browserRules {
            guard let range = ua.range(of: token) else { continue }
            if token == "version/", !ua.contains("safari/") { continue }
            browser = family
            browserVersion = leadingNumber(ua[range.upperBound...])
            if token == "trident/", let v = browserVersion, let n = Int(v) { browserVersion = String(n + 4) }
            break
        }

        var os: String?
        var osVersion: String?
        if let range = ua.range(of: "windows nt ") {
            os = "Windows"
            let nt = ua[range.upperBound...].prefix { $0.isNumber || $0 == "." }
            osVersion = ["10.0": "10", "6.3": "8.1", "6.2": "8", "6.1": "7", "6.0": "Vista", "5.1": "XP"][String(nt)]
        } else if ua.contains("windows phone") {
            os = "Windows Phone"
        } else if let range = ua.range(of: "iphone os ") ?? ua.range(of: "cpu os ") {
            os = "iOS"
            osVersion = leadingNumber(ua[range.upperBound...])
        } else if ua.contains("iphone") || ua.contains("ipad") || ua.contains("ipod") {
            os = "iOS"
        } else if let range = ua.range(of: "android ") {
            os = "Android"
            osVersion = leadingNumber(ua[range.upperBound...])
        } else if ua.contains("android") {
            os = "Android"
        } else if ua.contains("cros ") {
            os = "Chrome OS"
        } else if let range = ua.range(of: "mac os x ") {
            os = "macOS"
            osVersion = leadingNumber(ua[range.upperBound...])
        } else if ua.contains("macintosh") {
            os = "macOS"
        } else if ua.contains("linux") || ua.contains("x11") {
            os = "Linux"
        }

        let device: DeviceType
        if isBot {
            device = .bot
        } else if ua.contains("ipad") || ua.contains("tablet") || (ua.contains("android") && !ua.contains("mobile")) {
            device = .tablet
        } else if ua.contains("mobi") || ua.contains("iphone") || ua.contains("ipod") || ua.contains("windows phone") {
            device = .mobile
        } else if os != nil {
            device = .desktop
        } else {
            device = .other
        }
        return UserAgentSummary(
            browser: browser, browserVersion: browserVersion, os: os, osVersion: osVersion,
            device: device, isBot: isBot)
    }

    /// The digits at the start of `text` ("17_1" → "17", "120.0.1" → "120").
    private static func leadingNumber(_ text: Substring) -> String? {
        let digits = text.prefix { $0.isASCII && $0.isNumber }
        return digits.isEmpty ? nil : String(digits)
    }
}

/// Recognises crawlers, headless browsers, monitoring services and HTTP libraries by user agent, and
/// browser prefetches by header.
public enum BotDetector {
    /// Lower-case substrings; any match marks a bot. Broad tokens ("bot", "crawl", "spider") catch the long
    /// tail of crawlers; the rest are clients that never say so.
    static let userAgentTokens = [
        "bot", "crawl", "spider", "slurp", "archiver", "facebookexternalhit", "embedly", "preview",
        "headlesschrome", "phantomjs", "puppeteer", "playwright", "selenium", "webdriver", "lighthouse",
        "pingdom", "uptimerobot", "statuscake", "site24x7", "newrelic", "datadog", "monitor", "nagios",
        "zabbix", "checkly", "curl/", "wget/", "python-requests", "python-urllib", "python-httpx", "aiohttp",
        "httpx", "go-http-client", "okhttp", "java/", "apache-httpclient", "libwww-perl", "node-fetch",
        "axios/", "undici", "guzzlehttp", "ruby", "scrapy", "httpie", "postman", "insomnia", "powershell",
    ]

    static func isBot(lowercasedUserAgent ua: String) -> Bool {
        // No user agent is not a bot by itself: server-side trackers in cron jobs, log imports in Common
        // Log Format and SDKs send none.
        return userAgentTokens.contains { ua.contains($0) }
    }

    /// Speculative loads the browser made on its own, not visits (`Purpose`, `Sec-Purpose`, Firefox's `X-Moz`).
    public static func isPrefetch(headers: [String: String]) -> Bool {
        for name in ["purpose", "sec-purpose", "x-purpose", "x-moz"] {
            if let value = headers[name]?.lowercased(), value.contains("prefetch") || value.contains("preview") || value.contains("prerender") {
                return true
            }
        }
        return false
    }
}
