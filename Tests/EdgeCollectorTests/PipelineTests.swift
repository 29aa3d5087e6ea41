import EdgeCollector
import Foundation
import TallyCore
import TrackingInput
import Testing

@Suite("Privacy pipeline")
struct PipelineTests {
    let directory: TemporaryDirectory
    let config: EdgeConfig
    let pipeline: PrivacyPipeline

    /// The arrival time of requests whose time the test checks.
    static let now = Date(timeIntervalSince1970: 1_796_000_000)

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
        MatomoCase(name: "ecommerce order (MatomoTracker.php's doTrackEcommerceOrder)", query: "idsite=1&rec=1&url=https://example.com/thanks&idgoal=0&ec_id=A100&revenue=55.5&ec_st=50&ec_tx=5.5&ec_sh=0&ec_dt=0&ec_items=%5B%5B%22SKU1%22%2C%22Shirt%20for%20bob%40example.org%22%2C%5B%22Clothes%22%2C%22Sale%22%5D%2C%2225%22%2C2%5D%2C%5B%22SKU2%22%2C%22%22%2C%22Socks%22%2C5.5%2C%221%22%5D%5D") { h in
            h.kind == .ecommerceOrder && h.orderID == "A100" && h.revenue == 55.5 && h.subtotal == 50 && h.tax == 5.5 && h.shipping == 0
                && h.items == #"[{"categories":["Clothes","Sale"],"name":"Shirt for [email]","price":25,"quantity":2,"sku":"SKU1"},{"categories":["Socks"],"price":5.5,"quantity":1,"sku":"SKU2"}]"#
        },
        MatomoCase(name: "cart update", query: "idsite=1&rec=1&url=https://example.com/cart&idgoal=0&revenue=25&ec_items=%5B%5B%22SKU1%22%2C%22Shirt%22%2C%22%22%2C25%2C1%5D%5D") { h in
            h.kind == .cartUpdate && h.orderID == nil && h.revenue == 25 && h.items?.contains("SKU1") == true
        },
        MatomoCase(name: "unreadable ec_items: the order is kept without items", query: "idsite=1&rec=1&url=https://example.com/&idgoal=0&ec_id=X&revenue=1&ec_items=not-json") { h in
            h.kind == .ecommerceOrder && h.items == nil && h.revenue == 1
        },
        MatomoCase(name: "product view", query: "idsite=1&rec=1&url=https://example.com/shirt&action_name=Shirt&_pks=SKU1&_pkn=Shirt&_pkc=%5B%22Clothes%22%2C%22Sale%22%5D&_pkp=25") { h in
            h.kind == .pageview && h.productSKU == "SKU1" && h.productName == "Shirt" && h.productCategory == "Clothes" && h.productPrice == 25
        },
        MatomoCase(name: "content impression (piwik.js trackContentImpression)", query: "idsite=1&rec=1&url=https://example.com/&c_n=Banner&c_p=https%3A%2F%2Fexample.com%2Fspring.png&c_t=https%3A%2F%2Fexample.com%2Fsale%3Futm_source%3Dx") { h in
            h.kind == .contentImpression && h.contentName == "Banner" && h.contentPiece == "https://example.com/spring.png"
                && h.contentTarget == "https://example.com/sale" && h.contentInteraction == nil && h.title == nil
        },
        MatomoCase(name: "content interaction", query: "idsite=1&rec=1&url=https://example.com/&c_n=Banner&c_p=spring&c_i=click") { h in
            h.kind == .contentInteraction && h.contentInteraction == "click"
        },
        MatomoCase(name: "custom action (crash report) is not a pageview and keeps no stack trace", query: "idsite=1&rec=1&url=https://example.com/&ca=1&cra=TypeError%3A%20x&cra_st=at%20f%20(app.js%3A1%3A2)&cra_tp=TypeError") { h in
            h.kind == .customAction && h.title == nil && h.eventName == nil
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
        MatomoCase(name: "click ids and credentials stripped, e-mail redacted", query: "idsite=1&rec=1&url=https%3A%2F%2Fexample.com%2Fu%2Fbob%40example.org%3Fgclid%3Dx%26token%3Dy%26size%3D9%23frag&action_name=Mail%20to%20alice%40example.com") { h in
            h.url == "https://example.com/u/%5Bemail%5D?size=9" && h.title == "Mail to [email]"
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
        SignalCase(name: "a bot that sends bots=1 is tracked, as a bot", privacy: "", userAgent: "curl/8.4.0", query: "idsite=1&rec=1&url=https://example.com/&bots=1", expected: "botstored"),
        SignalCase(name: "bots=1 from a browser is a normal hit", privacy: "", query: "idsite=1&rec=1&url=https://example.com/&bots=1", expected: "stored"),
        SignalCase(name: "no user agent is not a bot", privacy: "", userAgent: "", expected: "stored"),
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
        InvalidCase(query: "idsite=1&rec=1&cip=198.51.100.1", message: "cip requires a valid token_auth"),
        InvalidCase(query: "idsite=1&rec=1&cip=198.51.100.1&token_auth=wrong", message: "cip requires a valid token_auth"),
        InvalidCase(query: "idsite=1&rec=1&cdt=2020-01-01%2000:00:00", message: "more than 24 hours old"),
        InvalidCase(query: "idsite=1&rec=1&cdo=90000", message: "more than 24 hours old"),
        InvalidCase(query: "idsite=1&rec=1&cid=xyz", message: "cid=xyz is not a visitor id"),
        InvalidCase(query: "idsite=1&rec=1&country=fr", message: "require a valid token_auth"),
        InvalidCase(query: "idsite=1&rec=1&lat=48.85&long=2.35", message: "require a valid token_auth"),
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

    struct RepairCase: Sendable, CustomTestStringConvertible {
        var query: String
        var repair: InputRepair
        var check: @Sendable (Hit) -> Bool
        var testDescription: String { query }
    }

    static let repairCases: [RepairCase] = [
        RepairCase(query: "url=ftp://example.com/", repair: .unusableValue) { $0.url == nil && $0.kind == .pageview },
        RepairCase(query: "url=https://example.com/&res=huge", repair: .unusableValue) { $0.resolution == nil },
        RepairCase(query: "url=https://example.com/&h=25&m=7&s=3", repair: .unusableValue) { $0.localTime == "00:07:03" },
        RepairCase(query: "url=https://example.com/&h=x&m=7&s=3", repair: .unusableValue) { $0.localTime == nil },
        RepairCase(query: "url=https://example.com/&idgoal=x", repair: .unusableValue) { $0.kind == .pageview && $0.goalID == nil },
        RepairCase(query: "url=https://example.com/&idgoal=3&revenue=-5", repair: .numberOutOfRange) { $0.kind == .goal && $0.revenue == nil },
        RepairCase(query: "url=https://example.com/&_id=xyz", repair: .unusableValue) { $0.visitorID?.count == 16 },
        RepairCase(query: "url=https://example.com/&pv_id=a%20b", repair: .unusableValue) { $0.pageviewID == nil },
        RepairCase(query: "url=https://example.com/&search=shoes&search_count=-1", repair: .unusableValue) { $0.kind == .siteSearch && $0.searchCount == nil },
        RepairCase(query: "url=https://example.com/&cdt=yesterday", repair: .unusableValue) { abs($0.timestamp - PipelineTests.now.millisecondsSince1970) < 1000 },
        RepairCase(query: "url=https://example.com/&cdt=\(Int(PipelineTests.now.timeIntervalSince1970) + 3600)", repair: .futureTime) { abs($0.timestamp - PipelineTests.now.millisecondsSince1970) < 1000 },
        RepairCase(query: "url=https://example.com/&action_name=%zz&e_c=Video", repair: .malformedEscape) { $0.kind == .pageview && $0.title == "%zz" && $0.eventCategory == nil },
    ]

    @Test("Values Matomo ignores are ignored, cut or clamped, the hit kept and the repair counted", arguments: repairCases)
    func repaired(_ c: RepairCase) throws {
        let result = try pipeline.process(request("idsite=1&rec=1&" + c.query, at: Self.now))
        #expect(result.repairs.contains(c.repair), "\(result.repairs)")
        guard case let .store(hit) = result.outcome else {
            Issue.record("expected a stored hit, got \(result.outcome)")
            return
        }
        #expect(c.check(hit), "\(hit)")
    }

    @Test("Matomo's action precedence: download over outlink over event over site search; a goal records no action")
    func precedence() throws {
        let base = "idsite=1&rec=1&url=https://example.com/&"
        #expect(try stored(request(base + "download=https://example.com/a.pdf&link=https://x.test/&e_c=A&e_a=B&search=q")).kind == .download)
        #expect(try stored(request(base + "link=https://x.test/&e_c=A&e_a=B&search=q")).kind == .outlink)
        #expect(try stored(request(base + "e_c=A&e_a=B&search=q")).kind == .event)
        #expect(try stored(request(base + "idgoal=2&e_c=A&e_a=B")).kind == .goal)
        #expect(try stored(request(base + "ping=1&idgoal=2")).kind == .ping)
    }

    @Test("cdo moves the hit back; location overrides are honoured with the token, at the site's precision")
    func offsetsAndLocation() throws {
        let offset = try stored(request("idsite=1&rec=1&url=https://example.com/&cdo=600", at: Self.now))
        #expect(abs(offset.timestamp - (PipelineTests.now.millisecondsSince1970 - 600_000)) < 1000)
        let placed = try stored(request("idsite=1&rec=1&url=https://example.com/&country=de&region=BE&city=Berlin&lat=52.5&long=13.4&token_auth=\(Fixtures.trackingToken)"))
        #expect(placed.country == "DE" && placed.region == "BE" && placed.city == "Berlin")
        let config = try Fixtures.config(dataDir: directory.file("country"), privacy: "geo = \"country\"")
        let (countryOnly, _) = try makePipeline(config)
        guard case let .store(hit) = try countryOnly.process(request("idsite=1&rec=1&url=https://example.com/&country=de&city=Berlin&token_auth=\(Fixtures.trackingToken)")).outcome else {
            Issue.record("not stored")
            return
        }
        #expect(hit.country == "DE" && hit.city == nil)
    }

    @Test("A pageview whose URL carries a search parameter is a site search, with the parameters removed from the URL")
    func siteSearchFromURL() throws {
        let found = try stored(request("idsite=1&rec=1&url=" + "https://example.com/find?page=2&Q=red+shoes%21&lang=en".addingPercentEncoding(withAllowedCharacters: .alphanumerics)!))
        #expect(found.kind == .siteSearch && found.searchKeyword == "red shoes!")
        #expect(found.url == "https://example.com/find?page=2&lang=en")
        #expect(try stored(request("idsite=1&rec=1&url=https%3A%2F%2Fexample.com%2F%3Fs%3D%2520%2520")).kind == .pageview, "a blank keyword is no search")
        #expect(try stored(request("idsite=1&rec=1&url=https://example.com/&search=")).kind == .pageview)

        let toml = Fixtures.configTOML(dataDir: directory.file("search")).replacingOccurrences(
            of: "time_zone = \"Europe/Berlin\"",
            with: "time_zone = \"Europe/Berlin\"\nsite_search_params = [\"term\"]\nsite_search_category_params = [\"Cat\"]")
        let (custom, _) = try makePipeline(try EdgeConfig.parse(toml: toml))
        let search = try stored(request("idsite=1&rec=1&url=" + "https://example.com/s?q=x&term=tent&cat=Camping".addingPercentEncoding(withAllowedCharacters: .alphanumerics)!), pipeline: custom)
        #expect(search.kind == .siteSearch && search.searchKeyword == "tent" && search.searchCategory == "Camping")
        #expect(search.url == "https://example.com/s?q=x")
        let off = toml.replacingOccurrences(of: "site_search_params = [\"term\"]", with: "site_search = false")
        let (disabled, _) = try makePipeline(try EdgeConfig.parse(toml: off))
        #expect(try stored(request("idsite=1&rec=1&url=https%3A%2F%2Fexample.com%2F%3Fq%3Dtent"), pipeline: disabled).kind == .pageview)
        // An event on a search results page stays an event.
        #expect(try stored(request("idsite=1&rec=1&url=https%3A%2F%2Fexample.com%2F%3Fq%3Dtent&e_c=A&e_a=B")).kind == .event)
    }

    @Test("Client hints (Sec-CH-UA headers or Matomo's uadata) reach the user-agent step: Windows 11 and Android behind reduced user agents")
    func clientHints() throws {
        let query = "idsite=1&rec=1&url=https://example.com/"
        let windows11 = try stored(request(query, headers: [
            "sec-ch-ua": #""Chromium";v="124", "Google Chrome";v="124", "Not-A.Brand";v="99""#,
            "sec-ch-ua-platform": #""Windows""#, "sec-ch-ua-platform-version": #""15.0.0""#, "sec-ch-ua-mobile": "?0",
        ]))
        #expect(windows11.os == "Windows" && windows11.osVersion == "11" && windows11.browser == "Chrome")
        let windows10 = try stored(request(query, headers: ["sec-ch-ua-platform": #""Windows""#, "sec-ch-ua-platform-version": #""10.0.0""#]))
        #expect(windows10.osVersion == "10")
        let android = "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36"
        let uadata = #"{"brands":[{"brand":"Chromium","version":"124"}],"fullVersionList":[{"brand":"Google Chrome","version":"124.0.6367.113"}],"mobile":true,"model":"Pixel 8","platform":"Android","platformVersion":"14.0.0"}"#
        let phone = try stored(request(query + "&uadata=" + uadata.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!, userAgent: android,
                                       headers: ["sec-ch-ua-platform": #""Android""#, "sec-ch-ua-platform-version": #""13.0.0""#]))
        #expect(phone.os == "Android" && phone.osVersion == "14", "uadata wins over the headers")
        #expect(phone.device == .smartphone && phone.browser == "Chrome Mobile" && phone.browserVersion == "124")
        #expect(phone.deviceBrand == "Google", "the model from the hints names the brand")
        // No user agent at all (a server-side tracker): the hints still name browser and OS.
        let bare = try stored(request(query, userAgent: "", headers: [
            "sec-ch-ua-full-version-list": #""Chromium";v="125.0.6422.60", "Microsoft Edge";v="125.0.2535.51", "Not.A/Brand";v="24.0.0.0""#,
            "sec-ch-ua-platform": #""macOS""#, "sec-ch-ua-platform-version": #""14.4.1""#,
        ]))
        #expect(bare.browser == "Microsoft Edge" && bare.browserVersion == "125" && bare.os == "Mac" && bare.osVersion == "14")
        let json = String(decoding: try bare.encodedJSON(), as: UTF8.self)
        #expect(!json.contains("14.4.1") && !json.contains("125.0.2535"), "only major versions are stored")
    }

    @Test("Declared custom dimensions and custom variables are kept (redacted), undeclared ones left out and counted; the inventory lists them")
    func customDimensions() throws {
        let toml = Fixtures.configTOML(dataDir: directory.file("dims")).replacingOccurrences(
            of: "[[sites]]\nid = 2",
            with: "[[sites.dimensions]]\nid = 1\nname = \"Plan\"\nscope = \"visit\"\n[[sites.dimensions]]\nid = 3\nname = \"Color\"\nscope = \"action\"\n[[sites]]\nid = 2")
        let config = try EdgeConfig.parse(toml: toml)
        let (withDimensions, _) = try makePipeline(config)
        let cvar = #"{"1":["Plan","Gold"],"2":["Theme","Dark"]}"#.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        let result = try withDimensions.process(request("idsite=1&rec=1&url=https://example.com/&dimension1=Pro&dimension3=Blue%20for%20bob%40example.org&dimension7=x&_cvar=\(cvar)"))
        guard case let .store(hit) = result.outcome else {
            Issue.record("not stored: \(result.outcome)")
            return
        }
        #expect(hit.dimensions == #"{"action.3":"Blue for [email]","visit.1":"Pro"}"#)
        #expect(result.repairs.contains(.undeclaredDimension))
        let fromVariables = try stored(request("idsite=1&rec=1&url=https://example.com/&_cvar=\(cvar)&cvar=" + #"{"1":["Color","Red"]}"#.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!), pipeline: withDimensions)
        #expect(fromVariables.dimensions == #"{"action.3":"Red","visit.1":"Gold"}"#)
        #expect(try stored(request("idsite=1&rec=1&url=https://example.com/&dimension1=Pro")).dimensions == nil, "site without declarations")
        #expect(config.policyReport().contains(#"dims visit.1"#) && config.policyReport().contains(#"custom dimension "Color" (action scope)"#))
        #expect(throws: ConfigError.self) {
            try EdgeConfig.parse(toml: toml.replacingOccurrences(of: "scope = \"action\"", with: "scope = \"page\""))
        }
    }

    @Test("Other hosts are tracked unless the site sets exclude_unknown_urls, which drops them as domain_not_allowed")
    func unknownURLs() throws {
        let outside = "idsite=1&rec=1&url=https://evil.test/"
        #expect(try stored(request(outside)).url == "https://evil.test/")
        let toml = Fixtures.configTOML(dataDir: directory.file("strict"))
            .replacingOccurrences(of: "time_zone = \"Europe/Berlin\"", with: "time_zone = \"Europe/Berlin\"\nexclude_unknown_urls = true")
        let (strict, _) = try makePipeline(try EdgeConfig.parse(toml: toml))
        #expect(try strict.process(request(outside)).outcome == .drop(.domainNotAllowed))
        #expect(try stored(request("idsite=1&rec=1&url=https://www.example.com/"), pipeline: strict).url == "https://www.example.com/")
        #expect(throws: ConfigError.self) {
            try EdgeConfig.parse(toml: toml.replacingOccurrences(of: "domains = [\"example.com\", \"*.example.com\"]", with: ""))
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
