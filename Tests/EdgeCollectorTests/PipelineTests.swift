import EdgeCollector
import Foundation
import TallyCore
import Testing

@Suite("Privacy pipeline")
struct PipelineTests {
    let directory: TemporaryDirectory
    let config: EdgeConfig
    let pipeline: PrivacyPipeline

    init() throws {
        directory = try TemporaryDirectory()
        config = try Fixtures.config(dataDir: directory.file("data"))
        (pipeline, _) = try makePipeline(config)
    }

    func stored(_ r: IncomingRequest, pipeline: PrivacyPipeline? = nil) throws -> Hit {
        let result = try (pipeline ?? self.pipeline).process(r)
        guard case let .store(hit) = result.outcome else {
            Issue.record("expected a stored hit, got \(result.outcome)")
            throw CancellationError()
        }
        return hit
    }

    struct MatomoCase: Sendable, CustomTestStringConvertible {
        var name: String
        var query: String
        var check: @Sendable (Hit) -> Bool
        var testDescription: String { name }
    }

    static let matomoCases: [MatomoCase] = [
        MatomoCase(name: "pageview", query: "idsite=1&rec=1&url=https%3A%2F%2Fexample.com%2Fdocs%3Fpage%3D2&action_name=Docs&res=1280x720&h=13&m=5&s=9&pv_id=Ab12Cd") { h in
            h.kind == .pageview && h.url == "https://example.com/docs?page=2" && h.title == "Docs"
                && h.resolution == "1280x720" && h.localTime == "13:05:09" && h.pageviewID == "Ab12Cd"
                && h.referrerType == .direct && h.language == "de-de"
        },
        MatomoCase(name: "event", query: "idsite=1&rec=1&url=https://example.com/&e_c=Video&e_a=Play&e_n=Intro&e_v=12.5") { h in
            h.kind == .event && h.eventCategory == "Video" && h.eventAction == "Play" && h.eventName == "Intro" && h.eventValue == 12.5
        },
        MatomoCase(name: "site search", query: "idsite=1&rec=1&url=https://example.com/search&search=privacy%20tools&search_cat=Docs&search_count=7") { h in
            h.kind == .siteSearch && h.searchKeyword == "privacy tools" && h.searchCategory == "Docs" && h.searchCount == 7
        },
        MatomoCase(name: "outlink", query: "idsite=1&rec=1&url=https://example.com/&link=https%3A%2F%2Fother.org%2Fx%3Ffbclid%3D1") { h in
            h.kind == .outlink && h.linkURL == "https://other.org/x"
        },
        MatomoCase(name: "download", query: "idsite=1&rec=1&url=https://example.com/&download=https%3A%2F%2Fexample.com%2Ffile.pdf") { h in
            h.kind == .download && h.linkURL == "https://example.com/file.pdf"
        },
        MatomoCase(name: "goal", query: "idsite=1&rec=1&url=https://example.com/thanks&idgoal=3&revenue=49.90") { h in
            h.kind == .goal && h.goalID == 3 && h.revenue == 49.9
        },
        MatomoCase(name: "ping", query: "idsite=1&rec=1&url=https://example.com/&ping=1&pv_id=Ab12Cd") { h in
            h.kind == .ping && h.pageviewID == "Ab12Cd"
        },
        MatomoCase(name: "campaign from utm parameters", query: "idsite=1&rec=1&url=https%3A%2F%2Fexample.com%2F%3Futm_campaign%3DSpring%26utm_source%3DNewsletter%26utm_medium%3Demail&urlref=https%3A%2F%2Fmail.example.net%2F") { h in
            h.referrerType == .campaign && h.campaignName == "spring" && h.campaignSource == "newsletter"
                && h.campaignMedium == "email" && h.url == "https://example.com/"
        },
        MatomoCase(name: "campaign from mtm and pk parameters", query: "idsite=1&rec=1&url=https%3A%2F%2Fexample.com%2F%3Fmtm_campaign%3Dautumn%26pk_kwd%3Dshoes") { h in
            h.referrerType == .campaign && h.campaignName == "autumn" && h.campaignKeyword == "shoes"
        },
        MatomoCase(name: "search engine referrer, query stripped", query: "idsite=1&rec=1&url=https://example.com/&urlref=https%3A%2F%2Fwww.google.de%2Fsearch%3Fq%3Dsecret") { h in
            h.referrerType == .searchEngine && h.referrerName == "Google" && h.referrerURL == "https://www.google.de/search"
        },
        MatomoCase(name: "social referrer", query: "idsite=1&rec=1&url=https://example.com/&urlref=https%3A%2F%2Fm.facebook.com%2F") { h in
            h.referrerType == .social && h.referrerName == "Facebook"
        },
        MatomoCase(name: "website referrer", query: "idsite=1&rec=1&url=https://example.com/&urlref=https%3A%2F%2Fwww.blog.org%2Fpost%3Fid%3D4") { h in
            h.referrerType == .website && h.referrerName == "blog.org" && h.referrerURL == "https://www.blog.org/post"
        },
        MatomoCase(name: "same-site referrer is direct", query: "idsite=1&rec=1&url=https://example.com/b&urlref=https%3A%2F%2Fshop.example.com%2Fa") { h in
            h.referrerType == .direct && h.referrerURL == nil
        },
        MatomoCase(name: "click ids and credentials stripped, e-mail redacted", query: "idsite=1&rec=1&url=https%3A%2F%2Fexample.com%2Fu%2Fbob%40example.org%3Fgclid%3Dx%26token%3Dy%26q%3Dshoes%23frag&action_name=Mail%20to%20alice%40example.com") { h in
            h.url == "https://example.com/u/%5Bemail%5D?q=shoes" && h.title == "Mail to [email]"
        },
        MatomoCase(name: "user id hashed, client visitor id ignored", query: "idsite=1&rec=1&url=https://example.com/&uid=alice&_id=0123456789abcdef") { h in
            h.userID?.count == 32 && h.userID != "alice" && h.visitorID != "0123456789abcdef" && h.visitorID?.count == 16
        },
        MatomoCase(name: "user agent reduced", query: "idsite=1&rec=1&url=https://example.com/") { h in
            h.browser == "Chrome" && h.browserVersion == "120" && h.os == "Windows" && h.osVersion == "10" && h.device == .desktop
        },
    ]

    @Test("Matomo tracking requests become the expected stored records", arguments: matomoCases)
    func matomoRequest(_ c: MatomoCase) throws {
        let hit = try stored(request(c.query))
        let json = String(decoding: try hit.encodedJSON(), as: UTF8.self)
        #expect(c.check(hit), "stored: \(json)")
        #expect(hit.siteID == 1)
    }

    @Test("GeoIP uses the full address; the masked address is what masking leaves", arguments: [
        ("203.0.113.77", "Paris", "203.0.0.0"),
        ("2001:db8:1:2::77", "Stockholm", "2001:db8:1::"),
    ])
    func geoFromFullAddress(_ ip: String, _ city: String, _ masked: String) throws {
        let config = try Fixtures.config(dataDir: directory.file("d"), privacy: "store_masked_ip = true")
        let (pipeline, _) = try makePipeline(config)
        let hit = try stored(request("idsite=1&rec=1&url=https://example.com/", ip: ip), pipeline: pipeline)
        #expect(hit.city == city)
        #expect(hit.maskedIP == masked)
    }

    @Test("geo_source = masked_ip looks up the masked address instead")
    func geoFromMaskedIP() throws {
        let config = try Fixtures.config(dataDir: directory.file("d"), privacy: "geo_source = \"masked_ip\"")
        let (pipeline, _) = try makePipeline(config)
        #expect(try stored(request("idsite=1&rec=1&url=https://example.com/", ip: "203.0.113.77"), pipeline: pipeline).city == "Berlin")
        #expect(try stored(request("idsite=1&rec=1&url=https://example.com/", ip: "2001:db8:1:2::77"), pipeline: pipeline).city == "Amsterdam")
    }

    @Test("Geo precision limits the stored fields; the masked IP is not stored by default")
    func geoPrecision() throws {
        let config = try Fixtures.config(dataDir: directory.file("d"), privacy: "geo = \"country\"")
        let (pipeline, _) = try makePipeline(config)
        let hit = try stored(request("idsite=1&rec=1&url=https://example.com/"), pipeline: pipeline)
        #expect(hit.country == "FR")
        #expect(hit.region == nil)
        #expect(hit.city == nil)
        #expect(hit.maskedIP == nil)
    }

    struct SignalCase: Sendable, CustomTestStringConvertible {
        var name: String
        var privacy: String
        var headers: [String: String] = [:]
        var cookies: [String: String] = [:]
        var userAgent = Fixtures.chrome
        var query = "idsite=1&rec=1&url=https://example.com/"
        /// `nil`: stored as a full record; "aggregate": stored aggregate-only; "bot": stored as a bot.
        var expected: String
        var testDescription: String { name }
    }

    static let signalCases: [SignalCase] = [
        SignalCase(name: "DNT drop", privacy: "", headers: ["dnt": "1"], expected: "do_not_track"),
        SignalCase(name: "X-Do-Not-Track drop", privacy: "", headers: ["x-do-not-track": "1"], expected: "do_not_track"),
        SignalCase(name: "GPC drop", privacy: "", headers: ["sec-gpc": "1"], expected: "global_privacy_control"),
        SignalCase(name: "DNT count_only", privacy: "dnt = \"count_only\"", headers: ["dnt": "1"], expected: "aggregate"),
        SignalCase(name: "DNT ignore", privacy: "dnt = \"ignore\"", headers: ["dnt": "1"], expected: "stored"),
        SignalCase(name: "opt-out cookie", privacy: "dnt = \"ignore\"", cookies: ["tally_optout": "1"], expected: "opt_out"),
        SignalCase(name: "matomo_ignore cookie", privacy: "", cookies: ["matomo_ignore": "*"], expected: "opt_out"),
        SignalCase(name: "consent missing, drop", privacy: "consent = \"required\"", expected: "no_consent"),
        SignalCase(name: "consent missing, count_only", privacy: "consent = \"required\"\nwithout_consent = \"count_only\"", expected: "aggregate"),
        SignalCase(name: "consent parameter", privacy: "consent = \"required\"", query: "idsite=1&rec=1&url=https://example.com/&consent=1", expected: "stored"),
        SignalCase(name: "consent cookie", privacy: "consent = \"required\"", cookies: ["mtm_consent": "1700000000"], expected: "stored"),
        SignalCase(name: "crawler dropped", privacy: "", userAgent: "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", expected: "bot"),
        SignalCase(name: "headless browser dropped", privacy: "", userAgent: "Mozilla/5.0 (X11; Linux x86_64) HeadlessChrome/120.0.0.0 Safari/537.36", expected: "bot"),
        SignalCase(name: "HTTP library dropped", privacy: "", userAgent: "python-requests/2.31.0", expected: "bot"),
        SignalCase(name: "bots counted separately", privacy: "bots = \"count_separately\"", userAgent: "curl/8.4.0", expected: "botstored"),
        SignalCase(name: "prefetch dropped", privacy: "", headers: ["sec-purpose": "prefetch"], expected: "prefetch"),
        SignalCase(name: "excluded range", privacy: "excluded_ips = [\"203.0.113.0/24\"]", expected: "excluded_ip"),
        SignalCase(name: "excluded user agent", privacy: "excluded_user_agents = [\"Win64\"]", expected: "excluded_user_agent"),
        SignalCase(name: "host outside the site's domains", privacy: "", query: "idsite=1&rec=1&url=https://evil.test/", expected: "domain_not_allowed"),
    ]

    @Test("Privacy signals and exclusions produce the configured outcome", arguments: signalCases)
    func signals(_ c: SignalCase) throws {
        let config = try Fixtures.config(dataDir: directory.file("d"), privacy: c.privacy)
        let (pipeline, _) = try makePipeline(config)
        let result = try pipeline.process(request(c.query, userAgent: c.userAgent, headers: c.headers, cookies: c.cookies))
        switch (c.expected, result.outcome) {
        case ("stored", .store(let hit)):
            #expect(!hit.aggregateOnly && hit.visitorID != nil)
        case ("aggregate", .store(let hit)):
            #expect(hit.aggregateOnly)
            #expect(hit.visitorID == nil && hit.userID == nil)
            #expect(hit.country == "FR" && hit.region == nil && hit.city == nil)
            #expect(hit.browser == nil && hit.os == nil && hit.device == nil)
        case ("botstored", .store(let hit)):
            #expect(hit.isBot && hit.device == .bot)
        case (let reason, .drop(let dropped)):
            #expect(dropped.rawValue == reason)
        default:
            Issue.record("expected \(c.expected), got \(result.outcome)")
        }
    }

    struct InvalidCase: Sendable, CustomTestStringConvertible {
        var query: String
        var reason = "invalid_request"
        var message: String
        var testDescription: String { query }
    }

    static let invalidCases: [InvalidCase] = [
        InvalidCase(query: "rec=1&url=https://example.com/", message: "idsite is required"),
        InvalidCase(query: "idsite=one&rec=1", message: "idsite=one is not a site id"),
        InvalidCase(query: "idsite=-3&rec=1", message: "idsite=-3"),
        InvalidCase(query: "idsite=42&rec=1", reason: "unknown_site", message: "idsite=42 is not a site on this edge"),
        InvalidCase(query: "idsite=1&url=https://example.com/", message: "rec=1 is required"),
        InvalidCase(query: "idsite=1&rec=1&url=ftp://example.com/", message: "not an absolute http(s) URL"),
        InvalidCase(query: "idsite=1&rec=1&res=huge", message: "res=huge"),
        InvalidCase(query: "idsite=1&rec=1&h=25&m=0&s=0", message: "not a time of day"),
        InvalidCase(query: "idsite=1&rec=1&e_c=Video", message: "needs both e_c"),
        InvalidCase(query: "idsite=1&rec=1&idgoal=0", message: "idgoal=0"),
        InvalidCase(query: "idsite=1&rec=1&revenue=-5", message: "revenue=-5"),
        InvalidCase(query: "idsite=1&rec=1&_id=xyz", message: "16 hex digits"),
        InvalidCase(query: "idsite=1&rec=1&cip=198.51.100.1", message: "cip requires a valid token_auth"),
        InvalidCase(query: "idsite=1&rec=1&cip=198.51.100.1&token_auth=wrong", message: "cip requires a valid token_auth"),
        InvalidCase(query: "idsite=1&rec=1&cdt=2020-01-01%2000:00:00", message: "more than 24 hours old"),
        InvalidCase(query: "idsite=1&rec=1&cdt=yesterday", message: "cdt=yesterday is not a time"),
    ]

    @Test("Invalid requests are rejected with a clear reason", arguments: invalidCases)
    func invalid(_ c: InvalidCase) throws {
        let incoming = try request(c.query)
        do {
            _ = try pipeline.process(incoming)
            Issue.record("expected a rejection")
        } catch {
            #expect(error.dropReason.rawValue == c.reason)
            #expect(error.reason.contains(c.message), "\(error.reason)")
            #expect(error.status == 400)
        }
    }

    @Test("cip and an old cdt are honoured with the site's tracking token")
    func tokenOverrides() throws {
        let hit = try stored(request("idsite=1&rec=1&url=https://example.com/&cip=198.51.100.9&cdt=1600000000&token_auth=\(Fixtures.trackingToken)"))
        #expect(hit.city == "Tokyo")
        #expect(hit.timestamp == 1_600_000_000_000)
    }

    @Test("The steps run in the order of the specification, and explain shows each")
    func explainTrace() throws {
        #expect(PrivacyPipeline.steps.map(\.rawValue) == [
            "parse and validate", "site checks", "exclusions", "opt-out cookie", "do-not-track and GPC", "consent",
            "GeoIP on the full IP", "IP masking", "visitor id", "URL scrubbing", "referrer", "user id", "user agent",
        ])
        let result = try pipeline.process(request("idsite=1&rec=1&url=https://example.com/"), trace: true)
        #expect(result.trace.count == 13)
        let text = result.explanation()
        #expect(text.contains(" 7. GeoIP on the full IP: pass — Paris, IDF, FR at city precision from the full address"))
        #expect(text.contains(" 8. IP masking: pass — masked 2 bytes to 203.0.0.0, not stored"))
        #expect(text.contains("\"city\" : \"Paris\""))
        let dropped = try pipeline.process(request("idsite=1&rec=1&url=https://example.com/", headers: ["dnt": "1"]), trace: true)
        #expect(dropped.trace.count == 5)
        #expect(dropped.explanation().contains("Nothing would be stored (do_not_track)"))
    }
}
