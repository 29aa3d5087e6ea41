import CentralReporter
import Foundation
import TallyCore
import ServiceLifecycle
import Testing

@Suite("Reports from the hand-computed fixture")
struct ReportTests {
    let directory: String
    init() throws {
        directory = NSTemporaryDirectory() + "tally-reports-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    static let site = ReportSite(id: 1, name: "Example 例え", timeZone: ReportFixture.zone)

    func table(_ components: CentralComponents, _ report: String, _ period: String, _ date: String, limit: Int = 100) async throws -> ReportTable {
        let parsed = try ReportPeriod.parse(period: period, date: date, today: LocalDay("2026-11-02")!)
        return try await components.reports.report(ReportDefinition.named(report)!, site: Self.site, period: parsed, limit: limit)
    }

    /// label → column id → value
    func values(_ t: ReportTable) -> [String: [String: Double]] {
        var out: [String: [String: Double]] = [:]
        for row in t.rows {
            out[row.label] = Dictionary(uniqueKeysWithValues: zip(t.columns.map(\.id), row.values))
        }
        return out
    }

    func summary(_ components: CentralComponents, _ period: String, _ date: String) async throws -> [String: Double] {
        let t = try await table(components, "summary", period, date)
        return values(t).values.first!
    }

    @Test("Summary per day, across the DST change and the midnight crossing", arguments: StoreBackend.all)
    func dailySummaries(_ backend: StoreBackend) async throws {
        let c = try await ReportFixture.load(in: directory, backend: backend)
        let saturday = try await summary(c, "day", "2026-10-24")
        #expect(saturday["visits"] == 3 && saturday["unique_visitors"] == 2 && saturday["pageviews"] == 4)
        #expect(saturday["unique_pageviews"] == 4 && saturday["actions"] == 5)
        #expect(saturday["bounce_rate"] == 66.7 && saturday["avg_visit_duration"] == 150 && saturday["actions_per_visit"] == 1.67)
        let sunday = try await summary(c, "day", "2026-10-25")
        #expect(sunday["visits"] == 3 && sunday["unique_visitors"] == 2 && sunday["pageviews"] == 3 && sunday["actions"] == 4)
        #expect(sunday["bounce_rate"] == 66.7 && sunday["avg_visit_duration"] == 200)
        let monday = try await summary(c, "day", "2026-10-26")
        #expect(monday["visits"] == 2 && monday["unique_visitors"] == 2 && monday["pageviews"] == 3 && monday["unique_pageviews"] == 2)
        #expect(monday["actions"] == 4 && monday["bounce_rate"] == 50 && monday["avg_visit_duration"] == 600 && monday["bot_hits"] == 1)
    }

    @Test("Summary over a range, an ISO week and a month: unique visitors counted once", arguments: StoreBackend.all)
    func periodSummaries(_ backend: StoreBackend) async throws {
        let c = try await ReportFixture.load(in: directory, backend: backend)
        let range = try await summary(c, "range", "2026-10-24,2026-10-26")
        #expect(range["visits"] == 8 && range["unique_visitors"] == 4 && range["pageviews"] == 10 && range["unique_pageviews"] == 9)
        #expect(range["actions"] == 13 && range["bounce_rate"] == 62.5 && range["avg_visit_duration"] == 281 && range["actions_per_visit"] == 1.63)
        // ISO week 43 runs Monday 19 to Sunday 25 October: Saturday and Sunday only.
        let week = try await summary(c, "week", "2026-10-21")
        #expect(week["visits"] == 6 && week["unique_visitors"] == 3)
        let month = try await summary(c, "month", "2026-10-01")
        #expect(month["visits"] == 8 && month["unique_visitors"] == 4)
        let evolution = try await table(c, "evolution", "range", "2026-10-23,2026-10-26")
        #expect(evolution.rows.map(\.label) == ["2026-10-23", "2026-10-24", "2026-10-25", "2026-10-26"])
        #expect(evolution.rows.map { $0.values[0] } == [0, 3, 3, 2])
    }

    @Test("Entry and exit pages, pages and titles", arguments: StoreBackend.all)
    func pages(_ backend: StoreBackend) async throws {
        let c = try await ReportFixture.load(in: directory, backend: backend)
        let p = "https://example.com"
        let entry = values(try await table(c, "entry_pages", "range", "2026-10-24,2026-10-26"))
        #expect(entry.mapValues { $0["entrances"]! } == [p + "/": 4, p + "/blog": 1, p + "/blog/post": 1, p + "/search": 1, p + "/pricing": 1])
        let exit = values(try await table(c, "exit_pages", "range", "2026-10-24,2026-10-26"))
        #expect(exit.mapValues { $0["exits"]! } == [p + "/": 3, p + "/pricing": 2, p + "/blog": 1, p + "/blog/post": 1, p + "/search": 1])
        let pages = try await table(c, "pages", "range", "2026-10-24,2026-10-26")
        #expect(pages.rows.map(\.label) == [p + "/", p + "/pricing", p + "/blog", p + "/blog/post", p + "/search"])
        #expect(values(pages)[p + "/pricing"] == ["pageviews": 3, "unique_pageviews": 2])
        #expect(values(try await table(c, "page_titles", "day", "2026-10-24"))["ブログ 🎉"] == ["pageviews": 1, "unique_pageviews": 1])
    }

    @Test("Referrer types, referrers and campaigns", arguments: StoreBackend.all)
    func referrers(_ backend: StoreBackend) async throws {
        let c = try await ReportFixture.load(in: directory, backend: backend)
        let types = values(try await table(c, "referrer_types", "range", "2026-10-24,2026-10-26"))
        #expect(types.mapValues { $0["visits"]! } == ["direct": 4, "search_engine": 1, "campaign": 1, "social": 1, "website": 1])
        let named = values(try await table(c, "referrers", "range", "2026-10-24,2026-10-26"))
        #expect(named["Google"]?["visits"] == 1 && named["Facebook"]?["visits"] == 1 && named["blog.org"]?["visits"] == 1)
        #expect(named["(direct)"]?["visits"] == 4)
        let campaigns = values(try await table(c, "campaigns", "range", "2026-10-24,2026-10-26"))
        #expect(campaigns == ["秋のセール": ["visits": 1, "actions": 1, "bounce_rate": 100, "avg_visit_duration": 0, "actions_per_visit": 1]])
    }

    @Test("Countries, browsers, devices, hours", arguments: StoreBackend.all)
    func dimensions(_ backend: StoreBackend) async throws {
        let c = try await ReportFixture.load(in: directory, backend: backend)
        let countries = try await table(c, "countries", "range", "2026-10-24,2026-10-26")
        #expect(countries.rows.map(\.label) == ["FR", "JP", "SE", "DE"])
        #expect(countries.rows.map { $0.values[0] } == [3, 2, 2, 1])
        let browsers = values(try await table(c, "browsers", "range", "2026-10-24,2026-10-26"))
        #expect(browsers.mapValues { $0["visits"]! } == ["Chrome 120": 3, "Safari 17": 2, "Firefox 121": 2, "Chrome 119": 1])
        let devices = values(try await table(c, "devices", "range", "2026-10-24,2026-10-26"))
        #expect(devices.mapValues { $0["visits"]! } == ["desktop": 5, "smartphone": 3])
        let hours = try await table(c, "hours", "range", "2026-10-24,2026-10-26")
        #expect(Dictionary(uniqueKeysWithValues: hours.rows.map { ($0.label, $0.values[0]) }) == ["00": 1, "02": 2, "09": 1, "10": 2, "14": 1, "23": 1])
        #expect(hours.rows.map(\.label) == ["00", "02", "09", "10", "14", "23"])
    }

    @Test("Events, site search, outlinks, downloads, goals", arguments: StoreBackend.all)
    func actions(_ backend: StoreBackend) async throws {
        let c = try await ReportFixture.load(in: directory, backend: backend)
        #expect(values(try await table(c, "events", "range", "2026-10-24,2026-10-26")) == ["Video / Play": ["events": 1, "visits": 1, "event_value": 5]])
        #expect(values(try await table(c, "site_search", "range", "2026-10-24,2026-10-26")) == ["shoes": ["searches": 1, "visits": 1]])
        #expect(values(try await table(c, "outlinks", "day", "2026-10-26")) == ["https://other.org/x": ["clicks": 1, "visits": 1]])
        #expect(values(try await table(c, "downloads", "day", "2026-10-26")) == ["https://example.com/file.pdf": ["clicks": 1, "visits": 1]])
        #expect(values(try await table(c, "goals", "day", "2026-10-26")) == ["goal 1": ["conversions": 1, "visits": 1, "revenue": 10]])
    }

    /// Tuesday 2026-10-27 of a shop: hand-counted with Matomo's definitions in the test below.
    static var shopHits: [Hit] {
        let h = ReportFixture.hit
        let (a, b, c) = (ReportFixture.visitorA, ReportFixture.visitorB, ReportFixture.visitorC)
        let shirts = #"[{"categories":["Clothes"],"name":"Shirt","price":25,"quantity":2,"sku":"SKU1"}]"#
        let order = #"[{"categories":["Clothes"],"name":"Shirt","price":25,"quantity":2,"sku":"SKU1"},{"categories":["Clothes","Sale"],"name":"Socks","price":5,"quantity":1,"sku":"SKU2"}]"#
        return [
            h(a, "2026-10-27T10:00:00+01:00", .pageview, "/shirt", "Shirt", (.direct, nil)) { $0.productSKU = "SKU1"; $0.productName = "Shirt"; $0.productCategory = "Clothes" },
            h(a, "2026-10-27T10:01:00+01:00", .contentImpression, "/shirt", nil, (.direct, nil)) { $0.contentName = "Banner"; $0.contentPiece = "spring.png" },
            h(a, "2026-10-27T10:02:00+01:00", .contentInteraction, "/shirt", nil, (.direct, nil)) { $0.contentName = "Banner"; $0.contentPiece = "spring.png"; $0.contentInteraction = "click" },
            h(a, "2026-10-27T10:03:00+01:00", .cartUpdate, "/cart", nil, (.direct, nil)) { $0.revenue = 50; $0.items = shirts },
            h(a, "2026-10-27T10:05:00+01:00", .ecommerceOrder, "/thanks", nil, (.direct, nil)) { $0.orderID = "A100"; $0.revenue = 55; $0.items = order },
            h(b, "2026-10-27T11:00:00+01:00", .pageview, "/socks", "Socks", (.direct, nil)) { $0.productSKU = "SKU2"; $0.productName = "Socks" },
            h(b, "2026-10-27T11:02:00+01:00", .cartUpdate, "/cart", nil, (.direct, nil)) { $0.revenue = 5 },
            h(c, "2026-10-27T12:00:00+01:00", .pageview, "/", "Home", (.direct, nil)) { _ in },
            h(c, "2026-10-27T12:01:00+01:00", .contentImpression, "/", nil, (.direct, nil)) { $0.contentName = "Banner"; $0.contentPiece = "spring.png" },
            h(c, "2026-10-27T12:02:00+01:00", .customAction, "/", nil, (.direct, nil)) { _ in },
            h(nil, "2026-10-27T13:00:00+01:00", .ecommerceOrder, "/thanks", nil, (.direct, nil)) {
                $0.aggregateOnly = true; $0.orderID = "B200"; $0.revenue = 20
                $0.items = #"[{"categories":["Clothes"],"name":"Hat","price":20,"quantity":1,"sku":"SKU3"}]"#
            },
        ]
    }

    @Test("Ecommerce, products and contents by Matomo's definitions; a repeated order id counts once", arguments: StoreBackend.all)
    func shop(_ backend: StoreBackend) async throws {
        // The order A100 arrives again in a later batch (a retry) and once more hours later: neither counts.
        var retry = Self.shopHits[4]
        retry.items = nil
        var later = Self.shopHits[4]
        later.timestamp = ReportFixture.at("2026-10-27T16:00:00+01:00")
        let c = try await ReportFixture.load(in: directory, backend: backend, batches: [Self.shopHits, [retry, later]])
        let summary = try await summary(c, "day", "2026-10-27")
        #expect(summary["visits"] == 3 && summary["pageviews"] == 3 && summary["actions"] == 4 && summary["bounce_rate"] == 66.7)
        let ecommerce = try await values(table(c, "ecommerce", "day", "2026-10-27")).values.first!
        #expect(ecommerce == ["orders": 2, "revenue": 75, "avg_order_value": 37.5, "items": 4, "conversion_rate": 33.3, "abandoned_carts": 1])
        let skus = try await values(table(c, "product_skus", "day", "2026-10-27"))
        #expect(skus["SKU1"] == ["revenue": 50, "quantity": 2, "orders": 1, "avg_price": 25, "product_views": 1])
        #expect(skus["SKU2"] == ["revenue": 5, "quantity": 1, "orders": 1, "avg_price": 5, "product_views": 1])
        #expect(skus["SKU3"] == ["revenue": 20, "quantity": 1, "orders": 1, "avg_price": 20, "product_views": 0])
        let categories = try await values(table(c, "product_categories", "day", "2026-10-27"))
        #expect(categories["Clothes"] == ["revenue": 75, "quantity": 4, "orders": 2, "avg_price": 18.75, "product_views": 1])
        #expect(categories["Sale"] == ["revenue": 5, "quantity": 1, "orders": 1, "avg_price": 5, "product_views": 0])
        let names = try await values(table(c, "product_names", "day", "2026-10-27"))
        #expect(names.keys.sorted() == ["Hat", "Shirt", "Socks"])
        let contents = try await values(table(c, "contents", "day", "2026-10-27"))
        #expect(contents == ["Banner / spring.png": ["impressions": 2, "interactions": 1, "interaction_rate": 50, "visits": 2]])
        // The week holds the same single day.
        let week = try await values(table(c, "ecommerce", "week", "2026-10-27")).values.first!
        #expect(week["orders"] == 2 && week["conversion_rate"] == 33.3)
    }

    @Test("Custom dimension reports: a visit-scope dimension per visit (its last value), an action-scope one per action", arguments: StoreBackend.all)
    func customDimensions(_ backend: StoreBackend) async throws {
        let h = ReportFixture.hit
        let (a, b) = (ReportFixture.visitorA, ReportFixture.visitorB)
        let hits = [
            h(a, "2026-10-28T10:00:00+01:00", .pageview, "/", "Home", (.direct, nil)) { $0.dimensions = #"{"action.3":"Blue","visit.1":"Free"}"# },
            h(a, "2026-10-28T10:01:00+01:00", .pageview, "/pricing", "Pricing", (.direct, nil)) { $0.dimensions = #"{"action.3":"Blue","visit.1":"Pro"}"# },
            h(a, "2026-10-28T10:02:00+01:00", .event, "/pricing", nil, (.direct, nil)) { $0.eventCategory = "A"; $0.eventAction = "B"; $0.dimensions = #"{"action.3":"Red"}"# },
            h(b, "2026-10-28T11:00:00+01:00", .pageview, "/", "Home", (.direct, nil)) { $0.dimensions = #"{"visit.1":"Free"}"# },
            h(b, "2026-10-28T11:01:00+01:00", .ping, "/", nil, (.direct, nil)) { $0.dimensions = #"{"action.3":"Green"}"# },
        ]
        let c = try await ReportFixture.load(in: directory, backend: backend, batches: [hits])
        let visitScope = try await values(table(c, "dimension1", "day", "2026-10-28"))
        #expect(visitScope == ["Pro": ["visits": 1, "actions": 3], "Free": ["visits": 1, "actions": 1]])
        let actionScope = try await values(table(c, "dimension3", "day", "2026-10-28"))
        #expect(actionScope == ["Blue": ["visits": 1, "actions": 2], "Red": ["visits": 1, "actions": 1]], "a ping is not an action")
        #expect(ReportDefinition.named("dimension0") == nil && ReportDefinition.named("dimension1000") == nil && ReportDefinition.named("dimension01") == nil)
    }

    @Test("Channels from the referrer database (search engines, social networks, AI assistants, webmail), device brands, and bots by name and category", arguments: StoreBackend.all)
    func detectionReports(_ backend: StoreBackend) async throws {
        let h = ReportFixture.hit
        let (a, b, c2, d) = (ReportFixture.visitorA, ReportFixture.visitorB, ReportFixture.visitorC, ReportFixture.visitorD)
        let day = "2026-10-29"
        func bot(_ time: String, _ name: String, _ category: String?) -> Hit {
            h(nil, "\(day)T\(time)+01:00", .pageview, "/", nil, (.direct, nil)) {
                $0.isBot = true; $0.device = .bot; $0.botName = name; $0.botCategory = category
            }
        }
        let hits = [
            h(a, "\(day)T10:00:00+01:00", .pageview, "/", "Home", (.aiAssistant, "ChatGPT")) { $0.device = .smartphone; $0.deviceBrand = "Apple" },
            h(b, "\(day)T10:00:00+01:00", .pageview, "/", "Home", (.aiAssistant, "Perplexity")) { $0.device = .desktop },
            h(c2, "\(day)T10:00:00+01:00", .pageview, "/", "Home", (.social, "GitHub")) { $0.device = .tablet; $0.deviceBrand = "Samsung" },
            h(d, "\(day)T10:00:00+01:00", .pageview, "/", "Home", (.email, "Gmail")) { $0.device = .smartphone; $0.deviceBrand = "Apple" },
            h("eeeeeeeeeeeeeeee", "\(day)T10:00:00+01:00", .pageview, "/", "Home", (.searchEngine, "DuckDuckGo")) { $0.device = .desktop },
            bot("11:00:00", "Googlebot", "Search bot"), bot("11:01:00", "Googlebot", "Search bot"), bot("11:02:00", "GPTBot", "AI Crawler"),
            bot("11:03:00", "curl", "Crawler"),
        ]
        let components = try await ReportFixture.load(in: directory, backend: backend, batches: [hits])
        let types = try await values(table(components, "referrer_types", "day", day)).mapValues { $0["visits"]! }
        #expect(types == ["ai_assistant": 2, "social": 1, "email": 1, "search_engine": 1])
        #expect(try await values(table(components, "ai_assistants", "day", day)).mapValues { $0["visits"]! } == ["ChatGPT": 1, "Perplexity": 1])
        #expect(try await values(table(components, "social_networks", "day", day)).mapValues { $0["visits"]! } == ["GitHub": 1])
        #expect(try await values(table(components, "search_engines", "day", day)).mapValues { $0["visits"]! } == ["DuckDuckGo": 1])
        #expect(try await values(table(components, "device_brands", "day", day)).mapValues { $0["visits"]! } == ["Apple": 2, "Samsung": 1, "(unknown)": 2])
        #expect(try await values(table(components, "bots", "day", day)).mapValues { $0["hits"]! }
            == ["Googlebot (Search bot)": 2, "GPTBot (AI Crawler)": 1, "curl (Crawler)": 1])
        let summary = try await summary(components, "day", day)
        #expect(summary["visits"] == 5 && summary["bot_hits"] == 4, "bots stay out of the human counts")
    }

    @Test("A row limit folds the rest into an explicit Others row", arguments: StoreBackend.all)
    func others(_ backend: StoreBackend) async throws {
        let c = try await ReportFixture.load(in: directory, backend: backend)
        let countries = try await table(c, "countries", "range", "2026-10-24,2026-10-26", limit: 2)
        #expect(countries.rows.map(\.label) == ["FR", "JP", "Others"])
        #expect(countries.rows.map { $0.values[0] } == [3, 2, 3])
    }

    @Test("Late data: a batch for last week changes last week's reports and nothing else", arguments: StoreBackend.all)
    func lateData(_ backend: StoreBackend) async throws {
        let c = try await ReportFixture.load(in: directory, backend: backend)
        let reports = ["summary", "pages", "countries", "referrer_types"]
        func snapshot(_ period: String, _ date: String) async throws -> [String] {
            var out: [String] = []
            for report in reports {
                var t = try await table(c, report, period, date)
                t.generatedAt = Date(timeIntervalSince1970: 0)
                out.append(ReportFormat.json.render(t))
            }
            return out
        }
        let otherWeekBefore = try await snapshot("week", "2026-10-26")
        let lastWeekBefore = try await snapshot("week", "2026-10-21")
        // Arrives "today" (2026-11-02), timestamped Friday 2026-10-23 of last week.
        try await ReportFixture.deliver([ReportFixture.hit("ffffffffffffffff", "2026-10-23T12:00:00+02:00", url: "/late", configure: ReportFixture.chrome120)], sequence: 9, to: c)
        try await c.aggregation.aggregateDirtyDays()
        #expect(try await snapshot("week", "2026-10-26") == otherWeekBefore)
        let lastWeekAfter = try await snapshot("week", "2026-10-21")
        #expect(lastWeekAfter != lastWeekBefore)
        let week = try await summary(c, "week", "2026-10-21")
        #expect(week["visits"] == 7 && week["unique_visitors"] == 4)
        #expect(values(try await table(c, "pages", "day", "2026-10-23"))["https://example.com/late"]?["pageviews"] == 1)
    }

    @Test("After purging raw hits, day, week and month reports give the same figures", arguments: StoreBackend.all)
    func purge(_ backend: StoreBackend) async throws {
        let c = try await ReportFixture.load(in: directory, backend: backend, now: "2026-11-30T12:00:00Z")
        let periods = [("day", "2026-10-24"), ("day", "2026-10-25"), ("day", "2026-10-26"), ("week", "2026-10-21"), ("month", "2026-10-01"), ("range", "2026-10-24,2026-10-26")]
        var before: [[String]] = []
        for (period, date) in periods {
            var reports: [String] = []
            for report in ["summary", "pages", "countries", "events", "entry_pages", "evolution"] {
                var t = try await table(c, report, period, date)
                t.generatedAt = Date(timeIntervalSince1970: 0)
                reports.append(ReportFormat.csv.render(t))
            }
            before.append(reports)
        }
        let purged = try await c.store.purge(site: 1, before: LocalDay("2026-11-01")!, gap: 1800)
        #expect(purged == ReportFixture.hits.count)
        #expect(try await c.store.counts().hits == ReportFixture.site2Hits.count, "only site 2's hits remain")
        for (index, (period, date)) in periods.enumerated() {
            var reports: [String] = []
            for report in ["summary", "pages", "countries", "events", "entry_pages", "evolution"] {
                var t = try await table(c, report, period, date)
                t.generatedAt = Date(timeIntervalSince1970: 0)
                reports.append(ReportFormat.csv.render(t))
            }
            // Unique visitors over several days now come from the merged sketches; for a handful of
            // visitors the sketch's linear counting is exact.
            #expect(reports == before[index], "\(period) \(date)")
        }
    }
}

@Suite("Aggregation service")
struct AggregationServiceTests {
    @Test("The service recomputes the days a new batch touched, on its own, and stops on graceful shutdown", arguments: StoreBackend.all)
    func serviceLoop(_ backend: StoreBackend) async throws {
        let directory = NSTemporaryDirectory() + "tally-aggsvc-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let components = try await ReportFixture.load(in: directory, backend: backend)
        #expect(try await components.store.dirtyDays().filter { $0.site == 1 }.count == 3)
        var config = components.config
        config.aggregation.intervalSeconds = 1
        let (rounds, round) = AsyncStream.makeStream(of: Void.self)
        let service = AggregationService(
            store: components.store, config: config, clock: SystemClock(), logger: .init(label: "test"), onRound: { round.yield() })
        let group = ServiceGroup(configuration: .init(services: [service], logger: .init(label: "test")))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            // The service's first round, on its own, takes every day the batches dirtied.
            var iterator = rounds.makeAsyncIterator()
            _ = await iterator.next()
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        #expect(try await components.store.dirtyDays().isEmpty)
        let days = try await components.store.visitsPerDay(site: 1)
        #expect(days == ["2026-10-24": 3, "2026-10-25": 3, "2026-10-26": 2])
    }
}

@Suite("Data subject deletion")
struct DeletionTests {
    @Test("privacy delete removes a user's hashed records, re-aggregates their days, says how many and is audited", arguments: StoreBackend.all)
    func deleteUser(_ backend: StoreBackend) async throws {
        let directory = NSTemporaryDirectory() + "tally-delete-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let hasher = UserIDHasher(masterKey: Data(repeating: 9, count: 32))
        let alice = hasher.hash(userID: "alice@example.org", siteID: 1)
        let aliceHits = [
            ReportFixture.hit("abababababababab", "2026-10-24T15:00:00+02:00", url: "/account", configure: { ReportFixture.chrome120(&$0); $0.userID = alice }),
            ReportFixture.hit("abababababababab", "2026-10-24T15:03:00+02:00", url: "/orders", configure: { ReportFixture.chrome120(&$0); $0.userID = alice }),
        ]
        let c = try await ReportFixture.load(in: directory, backend: backend, batches: [ReportFixture.hits, aliceHits])
        let site = ReportSite(id: 1, name: "Example 例え", timeZone: ReportFixture.zone)
        let day = try ReportPeriod.parse(period: "day", date: "2026-10-24", today: LocalDay("2026-11-02")!)
        let before = try await c.reports.report(ReportDefinition.named("summary")!, site: site, period: day, limit: 100)
        #expect(before.rows[0].values[0] == 4)

        let result = try await c.store.deleteUser(site: 1, userID: "alice@example.org", hasher: hasher, gap: 1800, now: Date())
        #expect(result.hits == 2 && result.days == 1)
        let after = try await c.reports.report(ReportDefinition.named("summary")!, site: site, period: day, limit: 100)
        #expect(after.rows[0].values[0] == 3, "the day is re-aggregated without her visit")
        let pages = try await c.reports.report(ReportDefinition.named("pages")!, site: site, period: day, limit: 100)
        #expect(!pages.rows.contains { $0.label.hasSuffix("/account") })
        #expect(try await c.store.auditEvents().last == "data_deleted")
        #expect(try await c.store.auditLog(limit: 1).first?.detail.contains(alice) == true)
        #expect(try await c.store.auditLog(limit: 1).first?.detail.contains("alice@") == false)
        let again = try await c.store.deleteUser(site: 1, userID: "alice@example.org", hasher: hasher, gap: 1800, now: Date())
        #expect(again.hits == 0)
    }
}
