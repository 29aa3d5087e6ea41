import EdgeCollector
import Foundation
import TallyCore
import Testing

/// Referrers are classified by Snowplow's referer database (Debian's ruby-referer-parser), with Tally's
/// documented additions: AI assistants, newer social networks, Android apps, search companies' other pages.
@Suite("Referrer classification")
struct ReferrerTests {
    let directory: TemporaryDirectory
    let pipeline: PrivacyPipeline

    init() throws {
        directory = try TemporaryDirectory()
        (pipeline, _) = try makePipeline(try Fixtures.config(dataDir: directory.file("data")))
    }

    func classified(_ referrer: String, page: String = "https://example.com/", extra: String = "") throws -> Hit {
        let query = "idsite=1&rec=1&url=" + page.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
            + "&urlref=" + referrer.addingPercentEncoding(withAllowedCharacters: .alphanumerics)! + extra
        guard case let .store(hit) = try pipeline.process(try request(query)).outcome else {
            Issue.record("not stored: \(referrer)")
            throw CancellationError()
        }
        return hit
    }

    @Test("Search engines, webmail, social networks, AI assistants and websites", arguments: [
        ("https://www.google.de/search?q=tents", ReferrerType.searchEngine, "Google"),
        ("https://www.bing.com/images/search?q=tents", .searchEngine, "Bing Images"),
        ("https://duckduckgo.com/", .searchEngine, "DuckDuckGo"),
        ("https://mail.google.com/mail/u/0/", .email, "Gmail"),
        ("https://mail.yahoo.com/d/folders/1", .email, "Yahoo! Mail"),
        ("https://outlook.live.com/mail/0/", .email, "Outlook.com"),
        ("https://docs.google.com/document/d/1/edit", .website, "docs.google.com"),
        ("https://maps.google.com/maps?q=x", .website, "maps.google.com"),
        ("https://news.google.com/articles/abc", .website, "news.google.com"),
        ("https://github.com/org/repo/issues/1", .social, "GitHub"),
        ("https://stackoverflow.com/questions/1", .social, "StackOverflow"),
        ("https://x.com/someone/status/1", .social, "X"),
        ("https://discord.com/channels/1/2", .social, "Discord"),
        ("https://mastodon.social/@someone/1", .social, "Mastodon"),
        ("https://www.threads.net/@someone", .social, "Threads"),
        ("https://bsky.app/profile/x", .social, "Bluesky"),
        ("https://chatgpt.com/", .aiAssistant, "ChatGPT"),
        ("https://www.perplexity.ai/search/x", .aiAssistant, "Perplexity"),
        ("https://claude.ai/chat/1", .aiAssistant, "Claude"),
        ("https://copilot.microsoft.com/", .aiAssistant, "Microsoft Copilot"),
        ("https://gemini.google.com/app", .aiAssistant, "Gemini"),
        ("https://www.blog.org/post?id=4", .website, "blog.org"),
    ])
    func classification(_ referrer: String, _ type: ReferrerType, _ name: String) throws {
        let hit = try classified(referrer)
        #expect(hit.referrerType == type, "\(referrer)")
        #expect(hit.referrerName == name, "\(referrer)")
    }

    @Test("android-app:// referrers resolve to their app; an unknown app is a website named by its id", arguments: [
        ("android-app://com.google.android.googlequicksearchbox/", ReferrerType.searchEngine, "Google"),
        ("android-app://com.google.android.gm/", .email, "Gmail"),
        ("android-app://com.twitter.android", .social, "Twitter"),
        ("android-app://com.openai.chatgpt/", .aiAssistant, "ChatGPT"),
        ("android-app://org.example.reader/", .website, "org.example.reader"),
    ])
    func androidApps(_ referrer: String, _ type: ReferrerType, _ name: String) throws {
        let hit = try classified(referrer)
        #expect(hit.referrerType == type)
        #expect(hit.referrerName == name)
        #expect(hit.referrerURL?.hasPrefix("android-app://") == true)
    }

    @Test("Campaigns follow Matomo: _rcn/_rck first, then the URL's parameters in Matomo's order, utm_source or utm_medium naming a campaign that has no name")
    func campaigns() throws {
        let remembered = try classified("https://www.google.com/", page: "https://example.com/?utm_campaign=Spring",
                                        extra: "&_rcn=Winter%20Sale&_rck=Boots")
        #expect(remembered.referrerType == .campaign && remembered.campaignName == "winter sale" && remembered.campaignKeyword == "boots")
        let mediumOnly = try classified("", page: "https://example.com/?utm_medium=Email")
        #expect(mediumOnly.referrerType == .campaign && mediumOnly.campaignName == "email" && mediumOnly.referrerName == "email")
        let sourceFirst = try classified("", page: "https://example.com/?utm_medium=cpc&utm_source=Newsletter")
        #expect(sourceFirst.campaignName == "newsletter", "utm_source comes before utm_medium")
        let precedence = try classified("", page: "https://example.com/?utm_campaign=Later&pk_campaign=First&utm_term=b&pk_kwd=a")
        #expect(precedence.campaignName == "first" && precedence.campaignKeyword == "a", "pk_* come before utm_* in Matomo's list")
        #expect(precedence.url == "https://example.com/")
    }

    /// The package's own reader (Ruby, `scripts/referer-reference.rb`) and Tally agree on every domain of the
    /// database — as listed with a path, with "www." and as a subdomain — except where Tally's documented
    /// additions and corrections apply, and the few domains the file lists twice.
    @Test("Tally's lookup agrees with the database's own reader")
    func agreesWithReference() throws {
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: ReferrerDatabase.installedPath))) as! [String: [String: [String: Any]]]
        var owners: [String: Set<String>] = [:]
        var domains: [String] = []
        for (_, entries) in json {
            for (name, entry) in entries where ReferrerDatabase.documentedChanges.names.contains(name) == false {
                for domain in entry["domains"] as? [String] ?? [] {
                    let host = domain.split(separator: "/").first.map(String.init) ?? domain
                    owners[host.lowercased().replacingOccurrences(of: "www.", with: ""), default: []].insert(name)
                    domains.append(domain)
                }
            }
        }
        let database = try TestDatabases.referrers()
        var urls: [String] = []
        for domain in domains.sorted() {
            let host = String(domain.split(separator: "/").first ?? "")
            let bare = host.lowercased().replacingOccurrences(of: "www.", with: "")
            guard owners[bare]?.count == 1, !ReferrerDatabase.documentedChanges.domains.contains(where: { bare == $0 || bare.hasSuffix("." + $0) }) else { continue }
            let path = domain.contains("/") ? "/" + domain.split(separator: "/").dropFirst().joined(separator: "/") + "/x" : "/page"
            urls.append("https://\(host)\(path)")
            urls.append("https://www.\(bare)/")
            urls.append("https://sub.\(bare)/x")
        }
        #expect(urls.count > 2_500)
        let reference = try ProcessRunner.run(["ruby", "scripts/referer-reference.rb"], input: urls.joined(separator: "\n") + "\n")
        let answers = reference.split(separator: "\n").map { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(answers.count == urls.count)
        var disagreements: [String] = []
        for (url, answer) in zip(urls, answers) {
            let address = URLComponents(string: url)!
            let tally = database.lookup(host: address.host!, path: address.path)
            let expected = (answer?["known"] as? Bool) == true ? "\(answer!["medium"]!) \(answer!["source"]!)" : "unknown"
            let actual = tally.map { "\($0.medium == .unknown ? "unknown" : $0.medium.rawValue) \($0.name)" } ?? "unknown"
            // The reader says "unknown" both for "not listed" and for the file's unknown medium.
            let normalized = expected.hasPrefix("unknown ") ? "unknown" : expected
            let actualNormalized = actual.hasPrefix("unknown ") ? "unknown" : actual
            if normalized != actualNormalized { disagreements.append("\(url): Tally \(actual), reader \(expected)") }
        }
        #expect(disagreements.isEmpty, "\(disagreements.count) of \(urls.count) disagree:\n\(disagreements.prefix(50).joined(separator: "\n"))")
    }
}
