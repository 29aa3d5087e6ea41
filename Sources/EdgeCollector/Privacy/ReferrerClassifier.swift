import Foundation
import TallyCore

/// How a visitor arrived, after Matomo's referrer types: a campaign in the page URL wins; then an empty
/// or same-site referrer is direct; then known search engines and social networks by host; anything
/// else is a website named by its host.
public struct ReferrerClassifier: Sendable {
    public struct Result: Sendable, Equatable {
        public var type: ReferrerType
        public var name: String?
        /// The referrer URL reduced by the policy's `referrer` mode (`nil` for `none` and for direct).
        public var url: String?
    }

    /// Host suffix → engine name. A suffix ending in "." matches any top-level domain (google.de, google.co.uk).
    static let searchEngines: [(String, String)] = [
        ("google.", "Google"), ("bing.com", "Bing"), ("duckduckgo.com", "DuckDuckGo"), ("yahoo.", "Yahoo!"),
        ("yandex.", "Yandex"), ("baidu.com", "Baidu"), ("ecosia.org", "Ecosia"), ("qwant.com", "Qwant"),
        ("startpage.com", "Startpage"), ("search.brave.com", "Brave Search"), ("naver.com", "Naver"),
        ("seznam.cz", "Seznam"), ("ask.com", "Ask"), ("kagi.com", "Kagi"), ("sogou.com", "Sogou"),
    ]

    static let socialNetworks: [(String, String)] = [
        ("facebook.com", "Facebook"), ("fb.me", "Facebook"), ("instagram.com", "Instagram"),
        ("twitter.com", "Twitter"), ("t.co", "Twitter"), ("x.com", "X"), ("linkedin.com", "LinkedIn"),
        ("lnkd.in", "LinkedIn"), ("reddit.com", "Reddit"), ("youtube.com", "YouTube"), ("youtu.be", "YouTube"),
        ("pinterest.", "Pinterest"), ("tiktok.com", "TikTok"), ("mastodon.social", "Mastodon"),
        ("bsky.app", "Bluesky"), ("threads.net", "Threads"), ("vk.com", "VKontakte"),
        ("news.ycombinator.com", "Hacker News"), ("t.me", "Telegram"), ("whatsapp.com", "WhatsApp"),
        ("xing.com", "XING"), ("tumblr.com", "Tumblr"),
    ]

    let mode: PrivacyPolicy.ReferrerMode
    let scrubber: URLScrubber

    public init(mode: PrivacyPolicy.ReferrerMode, scrubber: URLScrubber) {
        self.mode = mode
        self.scrubber = scrubber
    }

    public func classify(referrer: String?, campaign: Campaign, site: SiteConfig, pageHost: String?) -> Result {
        let address = referrer.flatMap { $0.isEmpty ? nil : WebAddress($0) }
        let host = address?.host
        let reducedURL = address.flatMap(reduce)

        if !campaign.isEmpty {
            return Result(type: .campaign, name: campaign.name ?? campaign.source, url: reducedURL)
        }
        guard let host, !host.isEmpty else { return Result(type: .direct, name: nil, url: nil) }
        if host == pageHost || (!site.domains.isEmpty && site.allows(host: host)) {
            return Result(type: .direct, name: nil, url: nil)
        }
        if let name = Self.match(host: host, in: Self.searchEngines) {
            return Result(type: .searchEngine, name: name, url: reducedURL)
        }
        if let name = Self.match(host: host, in: Self.socialNetworks) {
            return Result(type: .social, name: name, url: reducedURL)
        }
        let name = host.hasPrefix("www.") ? String(host.dropFirst(4)) : host
        return Result(type: .website, name: name, url: reducedURL)
    }

    static func match(host: String, in table: [(String, String)]) -> String? {
        for (pattern, name) in table {
            if pattern.hasSuffix(".") {
                // "google." matches google.com, www.google.co.uk, not googleusercontent.com.
                let label = pattern.dropLast()
                let labels = host.split(separator: ".")
                if labels.dropLast().contains(where: { $0 == label }) { return name }
            } else if host == pattern || host.hasSuffix("." + pattern) {
                return name
            }
        }
        return nil
    }

    /// The referrer URL as the policy's mode allows (user name, password and fragment are already gone).
    private func reduce(_ address: WebAddress) -> String? {
        switch mode {
        case .none:
            return nil
        case .full:
            return scrubber.redact(address.text(path: address.path, query: address.query))
        case .stripQuery:
            return scrubber.redact(address.text(path: address.path, query: ArraySlice<UInt8>?.none))
        case .origin:
            return address.origin
        }
    }
}
