import Foundation
import TallyCore

/// Which referrer hosts are search engines, social networks, webmail and known sites: Snowplow's referer
/// database (Debian's `ruby-referer-parser` installs it, as `referers.yml` and the same data as
/// `referers.json`), plus Tally's own short list of what the file predates — AI assistants, newer social
/// networks, and Android apps (`android-app://` referrers). See docs/referrers.md for why this database
/// and what Tally adds.
///
/// The JSON edition is read: the YAML one repeats a key ("Comcast"), which YAML forbids and Yams refuses.
public struct ReferrerDatabase: Sendable {
    public enum Medium: String, Sendable {
        case search, social, email, aiAssistant = "ai_assistant"
        /// Known source, but not a search, social or mail page (Google Maps, Yahoo News): a website.
        case unknown
    }

    public struct Source: Sendable, Equatable {
        public var medium: Medium
        public var name: String
    }

    /// Domain without "www." → (path, source) pairs, longest path first ("bing.com" → "/images/search":
    /// Bing Images, then "/": Bing), as the package's own reader indexes them.
    let byDomain: [String: [(path: String, source: Source)]]

    /// How many domains the database knows (Tally's additions included).
    public var domainCount: Int { byDomain.count }

    /// Where Debian's `ruby-referer-parser` puts the file; the default of `referrer_database`.
    public static let installedPath = "/usr/share/rubygems-integration/all/gems/referer-parser-0.3.0/data/referers.json"

    /// Entries Tally files under another medium: Google News is a news site, not a search.
    static let reclassified: [String: Medium] = ["Google News": .unknown]
    /// Names corrected: the packaged data spells DuckDuckGo "DuckDuckGoL".
    static let renamed: [String: String] = ["DuckDuckGoL": "DuckDuckGo"]

    /// The file's entries (by name) and the domains where Tally departs from it, on purpose and documented.
    public static var documentedChanges: (names: Set<String>, domains: Set<String>) {
        (Set(reclassified.keys).union(renamed.keys), Set(additions.keys))
    }

    public init(path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ReferrerDatabaseError("referrer database \(path) is missing or unreadable; install it with scripts/install-deps.sh (Debian's ruby-referer-parser) or set referrer_database in edge.toml")
        }
        let root: [String: Any]
        do {
            guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                throw ReferrerDatabaseError("referrer database \(path): expected an object of media (search, social, email, unknown); reinstall it")
            }
            root = object
        } catch let error as ReferrerDatabaseError {
            throw error
        } catch {
            throw ReferrerDatabaseError("referrer database \(path) is not valid JSON (\(error.localizedDescription)); reinstall it")
        }
        var byDomain: [String: [(path: String, source: Source)]] = [:]
        func add(_ domainAndPath: String, _ source: Source, first: Bool = false) {
            var parts = domainAndPath.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
            var domain = parts.removeFirst().lowercased()
            if domain.hasPrefix("www.") { domain.removeFirst(4) }
            let entry = (path: "/" + parts.joined(separator: "/"), source: source)
            if first { byDomain[domain, default: []].insert(entry, at: 0) } else { byDomain[domain, default: []].append(entry) }
        }
        // In the file's order of media; entries by name, so the index is the same on every start.
        for mediumName in ["unknown", "search", "email", "social"] {
            guard let sources = root[mediumName] as? [String: Any], let medium = Medium(rawValue: mediumName) else { continue }
            for name in sources.keys.sorted() {
                guard let entry = sources[name] as? [String: Any], let domains = entry["domains"] as? [String] else { continue }
                let source = Source(medium: Self.reclassified[name] ?? medium, name: Self.renamed[name] ?? name)
                for domain in domains { add(domain, source) }
            }
        }
        guard !byDomain.isEmpty else {
            throw ReferrerDatabaseError("referrer database \(path) lists no domains; reinstall it")
        }
        for (domain, source) in Self.additions.sorted(by: { $0.key < $1.key }) { add(domain, source, first: true) }
        for domain in byDomain.keys {
            // Longest path first; among equal paths the earlier entry (Tally's additions before the file's).
            byDomain[domain] = byDomain[domain]!.enumerated()
                .sorted { ($0.element.path.count, -$0.offset) > ($1.element.path.count, -$1.offset) }
                .map(\.element)
        }
        self.byDomain = byDomain
    }

    /// The package's lookup (`domain_and_name_key_for` in its reader): the host without "www.", then its
    /// parent domains down to two labels; for each, the first indexed path the URL's path contains.
    /// An empty path counts as "/" (the reader would find nothing for "https://www.google.com").
    public func lookup(host: String, path: String) -> Source? {
        let path = path.isEmpty ? "/" : path
        func check(_ domain: Substring) -> Source? {
            byDomain[String(domain)]?.first { TextCleaning.contains(path, $0.path) }?.source
        }
        let host = host.lowercased()
        if let source = check(host.hasPrefix("www.") ? host.dropFirst(4) : Substring(host)) { return source }
        // The parent domains, each the text after a dot, while they keep at least two labels.
        var dots = host.utf8.indices.filter { host.utf8[$0] == UInt8(ascii: ".") }
        while dots.count > 1 {
            let parent = host[host.utf8.index(after: dots.removeFirst())...]
            if let source = check(parent) { return source }
        }
        return nil
    }

    /// An Android app that sent a visitor (`android-app://com.google.android.gm/`), by app id.
    public func lookup(androidApp: String) -> Source? {
        Self.androidApps[androidApp.lowercased()]
    }

    /// Tally's additions and corrections, kept short (docs/referrers.md lists and justifies each).
    static let additions: [String: Source] = {
        var table: [String: Source] = [:]
        let ai: [(String, [String])] = [
            ("ChatGPT", ["chatgpt.com", "chat.openai.com"]),
            ("Perplexity", ["perplexity.ai"]),
            ("Claude", ["claude.ai"]),
            ("Microsoft Copilot", ["copilot.microsoft.com", "copilot.cloud.microsoft"]),
            ("Gemini", ["gemini.google.com", "bard.google.com"]),
            ("Mistral Le Chat", ["chat.mistral.ai"]),
            ("DeepSeek", ["chat.deepseek.com"]),
            ("Meta AI", ["meta.ai"]),
            ("Grok", ["grok.com"]),
            ("Phind", ["phind.com"]),
            ("Poe", ["poe.com"]),
        ]
        for (name, domains) in ai { for domain in domains { table[domain] = Source(medium: .aiAssistant, name: name) } }
        let social: [(String, [String])] = [
            ("Mastodon", ["mastodon.social", "mastodon.online", "mstdn.social", "fosstodon.org", "hachyderm.io"]),
            ("Threads", ["threads.net", "threads.com"]),
            ("Bluesky", ["bsky.app"]),
            ("Discord", ["discord.com", "discordapp.com"]),
            ("X", ["x.com"]),
            ("Lemmy", ["lemmy.world", "lemmy.ml"]),
            ("StackOverflow", ["stackexchange.com"]),
            ("Telegram", ["t.me", "web.telegram.org"]),
        ]
        for (name, domains) in social { for domain in domains { table[domain] = Source(medium: .social, name: name) } }
        let mail: [(String, [String])] = [
            ("Outlook.com", ["outlook.live.com", "outlook.office.com", "outlook.office365.com"]),
            ("Proton Mail", ["mail.proton.me"]),
        ]
        for (name, domains) in mail { for domain in domains { table[domain] = Source(medium: .email, name: name) } }
        // Search companies' pages that are not searches: websites.
        for domain in ["docs.google.com", "drive.google.com", "maps.google.com", "translate.google.com", "play.google.com",
                       "scholar.google.com", "news.yahoo.com", "news.bing.com"] {
            table[domain] = Source(medium: .unknown, name: domain)
        }
        return table
    }()

    /// Android apps by id; an app not listed is reported as a website named by its id, as Matomo does.
    static let androidApps: [String: Source] = [
        "com.google.android.googlequicksearchbox": Source(medium: .search, name: "Google"),
        "com.google.android.gm": Source(medium: .email, name: "Gmail"),
        "com.microsoft.office.outlook": Source(medium: .email, name: "Outlook.com"),
        "com.yahoo.mobile.client.android.mail": Source(medium: .email, name: "Yahoo! Mail"),
        "com.facebook.katana": Source(medium: .social, name: "Facebook"),
        "com.facebook.lite": Source(medium: .social, name: "Facebook"),
        "com.instagram.android": Source(medium: .social, name: "Instagram"),
        "com.twitter.android": Source(medium: .social, name: "Twitter"),
        "com.linkedin.android": Source(medium: .social, name: "LinkedIn"),
        "com.reddit.frontpage": Source(medium: .social, name: "Reddit"),
        "com.pinterest": Source(medium: .social, name: "Pinterest"),
        "org.telegram.messenger": Source(medium: .social, name: "Telegram"),
        "com.whatsapp": Source(medium: .social, name: "WhatsApp"),
        "com.discord": Source(medium: .social, name: "Discord"),
        "com.instagram.barcelona": Source(medium: .social, name: "Threads"),
        "xyz.blueskyweb.app": Source(medium: .social, name: "Bluesky"),
        "org.joinmastodon.android": Source(medium: .social, name: "Mastodon"),
        "com.openai.chatgpt": Source(medium: .aiAssistant, name: "ChatGPT"),
        "ai.perplexity.app.android": Source(medium: .aiAssistant, name: "Perplexity"),
        "com.anthropic.claude": Source(medium: .aiAssistant, name: "Claude"),
        "com.microsoft.copilot": Source(medium: .aiAssistant, name: "Microsoft Copilot"),
        "com.google.android.apps.bard": Source(medium: .aiAssistant, name: "Gemini"),
    ]
}

public struct ReferrerDatabaseError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
}
