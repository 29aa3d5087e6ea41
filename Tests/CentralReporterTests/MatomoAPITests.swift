import CentralReporter
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import TallyCore
import Testing

/// Matomo's Reporting API on central, over the report fixture's data, through real HTTP (curl).
@Suite("Matomo Reporting API", .serialized)
struct MatomoAPITests {
    static let now = ISO8601DateFormatter().date(from: "2026-11-02T12:00:00Z")!

    /// GET `/index.php?…` (or POST the query as a form body) and return status, content type and the raw body.
    static func call(_ api: RunningAPI, _ query: String, post: Bool = false, path: String = "/index.php") async throws -> (status: Int, type: String, body: Data) {
        var arguments = ["-s", "-o", api.directory + "/matomo-body", "-w", "%{http_code} %{content_type}"]
        if post {
            arguments += ["--data-binary", query, "http://127.0.0.1:\(api.port)\(path)"]
        } else {
            arguments.append("http://127.0.0.1:\(api.port)\(path)?\(query)")
        }
        let (_, output) = try await run("/usr/bin/curl", arguments)
        let parts = output.split(separator: " ", maxSplits: 1)
        let body = (try? Data(contentsOf: URL(fileURLWithPath: api.directory + "/matomo-body"))) ?? Data()
        return (Int(parts.first ?? "") ?? 0, parts.count > 1 ? String(parts[1]) : "", body)
    }

    /// A running API and a viewer token for site 1.
    static func start(
        token name: String, batches: [[Hit]] = [ReportFixture.hits, ReportFixture.site2Hits], backend: StoreBackend = .sqlite
    ) async throws -> (RunningAPI, String) {
        let api = try await RunningAPI.start(batches: batches, backend: backend)
        let (token, _) = try await api.components.store.createToken(name: name, sites: [1], role: .viewer, expiresAt: nil, now: now)
        return (api, token)
    }

    /// The rows of a `/api/v1` report in JSON, for comparing numbers.
    static func v1Rows(_ api: RunningAPI, _ path: String, token: String) async throws -> [[String: Any]] {
        let answer = try await api.get(path, token: token)
        return try #require((try JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any])?["rows"] as? [[String: Any]])
    }

    static func json(_ api: RunningAPI, _ query: String) async throws -> Any {
        let answer = try await call(api, query + "&format=json")
        #expect(answer.status == 200, "\(query)")
        return try JSONSerialization.jsonObject(with: answer.body, options: [.fragmentsAllowed])
    }

    static func errorMessage(_ api: RunningAPI, _ query: String) async throws -> String? {
        let object = try await json(api, query) as? [String: Any]
        guard object?["result"] as? String == "error" else { return nil }
        return object?["message"] as? String
    }

    @Test("Versions, sites, VisitsSummary and reports answer with Matomo's shapes and columns, and the same numbers as /api/v1", arguments: StoreBackend.all)
    func methods(_ backend: StoreBackend) async throws {
        let (api, token) = try await Self.start(token: "dashboard", backend: backend)
        let auth = "module=API&token_auth=\(token)"

        #expect(try await Self.json(api, "\(auth)&method=API.getMatomoVersion") as? [String: String] == ["value": "5.0.0"])
        #expect(try await Self.json(api, "\(auth)&method=SitesManager.getSitesIdWithAtLeastViewAccess") as? [Int] == [1])
        let site = try #require(try await Self.json(api, "\(auth)&method=SitesManager.getSiteFromId&idSite=1") as? [String: Any])
        #expect(site["idsite"] as? Int == 1 && site["name"] as? String == "Example 例え" && site["timezone"] as? String == "Europe/Berlin")

        // VisitsSummary.get: one object, Matomo's columns, the numbers /api/v1's summary has.
        let summary = try #require(try await Self.json(api, "\(auth)&method=VisitsSummary.get&idSite=1&period=range&date=2026-10-24,2026-10-26") as? [String: Any])
        #expect(summary["nb_visits"] as? Int == 8 && summary["nb_uniq_visitors"] as? Int == 4)
        let v1Values = try #require(try await Self.v1Rows(api, "/api/v1/reports/summary?site=1&period=range&date=2026-10-24,2026-10-26", token: token).first)
        #expect(v1Values["actions"] as? Int == summary["nb_actions"] as? Int, "\(v1Values) \(summary)")
        #expect((summary["bounce_rate"] as? String)?.hasSuffix("%") == true)

        // One value per day, keyed by date, adding up to the range's visits.
        let perDay = try #require(try await Self.json(api, "\(auth)&method=VisitsSummary.getVisits&idSite=1&period=day&date=2026-10-24,2026-10-26") as? [String: Int])
        #expect(perDay.keys.sorted() == ["2026-10-24", "2026-10-25", "2026-10-26"])
        #expect(perDay.values.reduce(0, +) == 8)
        let months = try #require(try await Self.json(api, "\(auth)&method=VisitsSummary.get&idSite=1&period=month&date=last2") as? [String: Any])
        #expect(months.keys.sorted() == ["2026-10", "2026-11"])
        let previous = try #require(try await Self.json(api, "\(auth)&method=VisitsSummary.getVisits&idSite=1&period=day&date=previous3") as? [String: Int])
        #expect(previous.keys.sorted() == ["2026-10-30", "2026-10-31", "2026-11-01"])
        let weeks = try #require(try await Self.json(api, "\(auth)&method=VisitsSummary.getVisits&idSite=1&period=week&date=last2") as? [String: Int])
        #expect(weeks.keys.sorted() == ["2026-10-26,2026-11-01", "2026-11-02,2026-11-08"])
        let years = try await Self.call(api, "\(auth)&method=VisitsSummary.getVisits&idSite=1&period=year&date=last2&format=csv&convertToUnicode=0")
        #expect(String(decoding: years.body, as: UTF8.self).hasPrefix("date,value\n2025,0\n2026,"))
        let bySite = try await Self.call(api, "\(auth)&method=VisitsSummary.getVisits&idSite=all&period=day&date=2026-10-24&format=xml")
        #expect(String(decoding: bySite.body, as: UTF8.self).contains("<results>\n\t<result idSite=\"1\">"))

        // A report: rows with label and Matomo's columns, each equal to /api/v1's row of the same label.
        let countries = try #require(try await Self.json(api, "\(auth)&method=UserCountry.getCountry&idSite=1&period=month&date=2026-10-01") as? [[String: Any]])
        let v1Countries = try await api.get("/api/v1/reports/countries?site=1&period=month&date=2026-10-01&format=csv", token: token)
        let v1Rows = v1Countries.body.split(separator: "\r\n").dropFirst().map { $0.split(separator: ",").map(String.init) }
        #expect(countries.count == v1Rows.count)
        for row in v1Rows {
            let matching = countries.first { $0["label"] as? String == row[0] }
            #expect(matching?["nb_visits"] as? Int == Int(row[1]) && matching?["nb_actions"] as? Int == Int(row[2]), "\(row)")
        }
        #expect(countries.first?["label"] as? String == "FR" && countries.first?["code"] as? String == "fr")
        let pages = try #require(try await Self.json(api, "\(auth)&method=Actions.getPageUrls&idSite=1&period=month&date=2026-10-01&filter_limit=2") as? [[String: Any]])
        #expect(pages.count == 2 && pages.allSatisfy { $0["nb_hits"] is Int && $0["nb_visits"] is Int })
        let types = try #require(try await Self.json(api, "\(auth)&method=Referrers.getReferrerType&idSite=1&period=month&date=2026-10-01") as? [[String: Any]])
        #expect(types.contains { $0["label"] as? String == "Direct Entry" && $0["referrer_type"] as? Int == 1 })
        let hours = try #require(try await Self.json(api, "\(auth)&method=VisitTime.getVisitInformationPerServerTime&idSite=1&period=month&date=2026-10-01") as? [[String: Any]])
        // Hours as Matomo 5 labels them in English ("00" to "23"), in time order.
        let hourLabels = hours.compactMap { $0["label"] as? String }
        #expect(!hours.isEmpty && hourLabels.allSatisfy { $0.count == 2 && Int($0) != nil } && hourLabels == hourLabels.sorted(), "\(hours)")
        try await api.stop()
    }

    /// Wednesday 2026-10-28 on site 1: three visits with goals, an order, an abandoned cart, events,
    /// content blocks, website referrers and the visitors' own clocks.
    static var commerceHits: [Hit] {
        typealias F = ReportFixture
        let shirts = #"[{"categories":["Clothes"],"name":"Shirt","price":50,"quantity":2,"sku":"SKU1"}]"#
        let socks = #"[{"categories":["Clothes"],"name":"Socks","price":15,"quantity":2,"sku":"SKU2"}]"#
        return [
            F.hit("ffffffffffffffff", "2026-10-28T10:00:00+01:00", url: "/shop", title: "Shop", referrer: (.website, "news.example"),
                  configure: { F.chrome120(&$0); $0.localTime = "21:15:00" }),
            F.hit("ffffffffffffffff", "2026-10-28T10:01:00+01:00", url: "/shirt", title: "Shirt",
                  configure: { F.chrome120(&$0); $0.productSKU = "SKU1"; $0.productName = "Shirt" }),
            F.hit("ffffffffffffffff", "2026-10-28T10:02:00+01:00", .event, url: "/shirt",
                  configure: { F.chrome120(&$0); $0.eventCategory = "Video"; $0.eventAction = "Play"; $0.eventName = "Intro"; $0.eventValue = 3 }),
            F.hit("ffffffffffffffff", "2026-10-28T10:03:00+01:00", .event, url: "/shirt",
                  configure: { F.chrome120(&$0); $0.eventCategory = "Video"; $0.eventAction = "Pause" }),
            F.hit("ffffffffffffffff", "2026-10-28T10:04:00+01:00", .contentImpression, url: "/shirt",
                  configure: { F.chrome120(&$0); $0.contentName = "Banner"; $0.contentPiece = "summer.jpg" }),
            F.hit("ffffffffffffffff", "2026-10-28T10:04:00+01:00", .contentImpression, url: "/shirt",
                  configure: { F.chrome120(&$0); $0.contentName = "Banner"; $0.contentPiece = "winter.jpg" }),
            F.hit("ffffffffffffffff", "2026-10-28T10:05:00+01:00", .contentInteraction, url: "/shirt",
                  configure: { F.chrome120(&$0); $0.contentName = "Banner"; $0.contentPiece = "summer.jpg"; $0.contentInteraction = "click" }),
            F.hit("ffffffffffffffff", "2026-10-28T10:06:00+01:00", .goal, url: "/shirt", configure: { F.chrome120(&$0); $0.goalID = 2; $0.revenue = 5 }),
            F.hit("ffffffffffffffff", "2026-10-28T10:07:00+01:00", .ecommerceOrder, url: "/thanks", configure: {
                F.chrome120(&$0); $0.orderID = "A1"; $0.revenue = 120; $0.subtotal = 100; $0.tax = 20; $0.shipping = 5; $0.discount = 5; $0.items = shirts
            }),
            F.hit("1111111111111111", "2026-10-28T11:00:00+01:00", url: "/shop", title: "Shop", configure: { F.safari17(&$0); $0.localTime = "08:00:00" }),
            F.hit("1111111111111111", "2026-10-28T11:02:00+01:00", .cartUpdate, url: "/cart", configure: { F.safari17(&$0); $0.revenue = 30; $0.items = socks }),
            F.hit("2222222222222222", "2026-10-28T12:00:00+01:00", url: "/", title: "Home", referrer: (.website, "blog.org"), configure: F.firefox121),
        ]
    }

    @Test("Goals, ecommerce, events, contents, websites, OS versions and local time: Matomo's columns, numbers as defined and as /api/v1's",
          arguments: StoreBackend.all)
    func goalsEventsContents(_ backend: StoreBackend) async throws {
        let (api, token) = try await Self.start(token: "dashboard", batches: [ReportFixture.hits, ReportFixture.site2Hits, Self.commerceHits], backend: backend)
        let day = "module=API&token_auth=\(token)&idSite=1&period=day&date=2026-10-28"
        func row(_ method: String) async throws -> [String: Any] {
            try #require(try await Self.json(api, "\(day)&method=\(method)") as? [String: Any], "\(method)")
        }
        func table(_ method: String) async throws -> [[String: Any]] {
            try #require(try await Self.json(api, "\(day)&method=\(method)") as? [[String: Any]], "\(method)")
        }
        func byLabel(_ rows: [[String: Any]]) -> [String: [String: Any]] {
            Dictionary(uniqueKeysWithValues: rows.map { ($0["label"] as? String ?? "", $0) })
        }

        // All conversions: the goal and the order, in one of the day's three visits.
        let all = try await row("Goals.get")
        #expect(all["nb_conversions"] as? Int == 2 && all["nb_visits_converted"] as? Int == 1, "\(all)")
        #expect(all["revenue"] as? Double == 125 && all["conversion_rate"] as? String == "33.33%", "\(all)")
        let order = try await row("Goals.get&idGoal=ecommerceOrder")
        #expect(order["nb_conversions"] as? Int == 1 && order["revenue"] as? Double == 120 && order["items"] as? Int == 2, "\(order)")
        #expect(order["revenue_subtotal"] as? Double == 100 && order["revenue_tax"] as? Double == 20, "\(order)")
        #expect(order["revenue_shipping"] as? Double == 5 && order["revenue_discount"] as? Double == 5 && order["avg_order_revenue"] as? Double == 120)
        let cart = try await row("Goals.get&idGoal=ecommerceAbandonedCart")
        #expect(cart["nb_conversions"] as? Int == 1 && cart["revenue"] as? Double == 30 && cart["items"] as? Int == 2, "\(cart)")
        let goal = try await row("Goals.get&idGoal=2")
        #expect(goal["nb_conversions"] as? Int == 1 && goal["revenue"] as? Double == 5 && goal["conversion_rate"] as? String == "33.33%")
        #expect(try await Self.json(api, "\(day)&method=Goals.getRevenue") as? [String: Double] == ["value": 125])
        let goals = try #require(try await Self.json(api, "module=API&token_auth=\(token)&idSite=1&method=Goals.getGoals") as? [[String: Any]])
        #expect(goals.map { $0["idgoal"] as? Int } == [1, 2] && goals[1]["name"] as? String == "Goal 2")
        #expect(try await Self.errorMessage(api, "\(day)&method=Goals.get&idGoal=first")?.contains("idGoal=first") == true)

        // The same numbers as /api/v1's goals, ecommerce and product reports.
        let v1Goal = try #require(try await Self.v1Rows(api, "/api/v1/reports/goals?site=1&period=day&date=2026-10-28", token: token).first { $0["label"] as? String == "goal 2" })
        #expect(v1Goal["conversions"] as? Int == goal["nb_conversions"] as? Int && v1Goal["revenue"] as? Double == goal["revenue"] as? Double, "\(v1Goal)")
        let v1Shop = try #require(try await Self.v1Rows(api, "/api/v1/reports/ecommerce?site=1&period=day&date=2026-10-28", token: token).first)
        #expect(v1Shop["orders"] as? Int == order["nb_conversions"] as? Int && v1Shop["items"] as? Int == order["items"] as? Int, "\(v1Shop)")
        #expect(v1Shop["revenue"] as? Double == order["revenue"] as? Double && v1Shop["abandoned_carts"] as? Int == cart["nb_conversions"] as? Int, "\(v1Shop)")
        let v1Sku = try #require(try await Self.v1Rows(api, "/api/v1/reports/product_skus?site=1&period=day&date=2026-10-28", token: token).first { $0["label"] as? String == "SKU1" })

        // Products: revenue = price × quantity, product page views as nb_actions.
        let sku = try #require(byLabel(try await table("Goals.getItemsSku"))["SKU1"])
        #expect(sku["revenue"] as? Double == 100 && sku["quantity"] as? Int == 2 && sku["orders"] as? Int == 1, "\(sku)")
        #expect(sku["nb_actions"] as? Int == 1 && sku["avg_price"] as? Double == 50 && sku["avg_quantity"] as? Double == 2)
        #expect(v1Sku["revenue"] as? Double == sku["revenue"] as? Double && v1Sku["quantity"] as? Int == sku["quantity"] as? Int, "\(v1Sku)")
        #expect(v1Sku["orders"] as? Int == sku["orders"] as? Int && v1Sku["product_views"] as? Int == sku["nb_actions"] as? Int, "\(v1Sku)")
        #expect(try await Self.errorMessage(api, "\(day)&method=Goals.getItemsSku&abandonedCarts=1")?.contains("abandonedCarts=1") == true)

        // Events by category, action and name.
        let categories = try await table("Events.getCategory")
        #expect(categories.count == 1 && categories[0]["label"] as? String == "Video" && categories[0]["nb_events"] as? Int == 2)
        #expect(categories[0]["nb_visits"] as? Int == 1 && categories[0]["nb_events_with_value"] as? Int == 1 && categories[0]["sum_event_value"] as? Double == 3)
        #expect(Set(try await table("Events.getAction").compactMap { $0["label"] as? String }) == ["Play", "Pause"])
        #expect(byLabel(try await table("Events.getName"))["Intro"]?["avg_event_value"] as? Double == 3)

        // Content names and pieces: impressions, interactions and Matomo's rate.
        let names = try await table("Contents.getContentNames")
        #expect(names.count == 1 && names[0]["nb_impressions"] as? Int == 2 && names[0]["nb_interactions"] as? Int == 1 && names[0]["interaction_rate"] as? String == "50%")
        let pieces = byLabel(try await table("Contents.getContentPieces"))
        #expect(pieces["summer.jpg"]?["interaction_rate"] as? String == "100%" && pieces["winter.jpg"]?["interaction_rate"] as? String == "0%")

        // Websites: only the visits from plain websites, each as /api/v1's websites report has it.
        let websites = try await table("Referrers.getWebsites")
        #expect(Set(websites.compactMap { $0["label"] as? String }) == ["news.example", "blog.org"])
        for (report, method, column) in [("websites", "Referrers.getWebsites", "visits"), ("event_categories", "Events.getCategory", "events"),
                                         ("content_names", "Contents.getContentNames", "impressions"), ("os", "DevicesDetection.getOsVersions", "visits")] {
            let v1 = try await Self.v1Rows(api, "/api/v1/reports/\(report)?site=1&period=day&date=2026-10-28", token: token)
            let matomo = byLabel(try await table(method))
            let mainColumn = ["visits": "nb_visits", "events": "nb_events", "impressions": "nb_impressions"][column]!
            #expect(v1.count == matomo.count && v1.allSatisfy { matomo[$0["label"] as? String ?? ""]?[mainColumn] as? Int == $0[column] as? Int }, "\(report): \(v1) \(matomo)")
        }

        // OS families and versions, browsers and their versions.
        #expect(Set(try await table("DevicesDetection.getOsFamilies").compactMap { $0["label"] as? String }) == ["Windows", "iOS", "Linux"])
        #expect(Set(try await table("DevicesDetection.getOsVersions").compactMap { $0["label"] as? String }) == ["Windows 10", "iOS 17", "Linux"])
        #expect(Set(try await table("DevicesDetection.getBrowsers").compactMap { $0["label"] as? String }) == ["Chrome", "Safari", "Firefox"])
        #expect(Set(try await table("DevicesDetection.getBrowserVersions").compactMap { $0["label"] as? String }) == ["Chrome 120", "Safari 17", "Firefox 121"])

        // The visitors' own clocks, in time order; a visit whose tracker sent no time is unknown.
        let local = try await table("VisitTime.getVisitInformationPerLocalTime")
        #expect(local.compactMap { $0["label"] as? String } == ["08", "21", "(unknown)"] && local.allSatisfy { $0["nb_visits"] as? Int == 1 }, "\(local)")

        // The report list describes each method's dimension and metrics, as Matomo's does.
        let metadata = try #require(try await Self.json(api, "module=API&token_auth=\(token)&method=API.getReportMetadata") as? [[String: Any]])
        let countries = try #require(metadata.first { $0["uniqueId"] as? String == "UserCountry_getCountry" })
        #expect(countries["dimension"] as? String == "Country" && (countries["metrics"] as? [String: String])?["nb_visits"] == "Visits")
        #expect((countries["processedMetrics"] as? [String: String])?["bounce_rate"] == "Bounce Rate")
        let xml = try await Self.call(api, "module=API&token_auth=\(token)&method=API.getReportMetadata&format=xml")
        let document = try XMLDocument(data: xml.body)
        #expect(try document.nodes(forXPath: "//row[uniqueId='UserCountry_getCountry']/metrics/nb_visits").first?.stringValue == "Visits")
        try await api.stop()
    }

    /// Fixtures/matomo-columns.json: per method, the columns of Matomo's own documented answers and the
    /// ones Tally answers.
    struct ColumnFixture: Decodable {
        struct Method: Decodable {
            let shape: String
            let matomo_columns: [String]
            let tally_columns: [String]
            let matomo_metadata: [String: String?]?
        }
        let methods: [String: Method]
    }

    @Test("Every method answers in Matomo's shape with columns of Matomo's documented answers, and lists Matomo's category, name and dimension")
    func matomoShapes() async throws {
        let (api, token) = try await Self.start(token: "shapes", batches: [ReportFixture.hits, ReportFixture.site2Hits, Self.commerceHits])
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/matomo-columns.json")
        let fixture = try JSONDecoder().decode(ColumnFixture.self, from: Data(contentsOf: path))
        let auth = "module=API&token_auth=\(token)"
        let metadata = try #require(try await Self.json(api, "\(auth)&method=API.getReportMetadata") as? [[String: Any]])
        let listed = Dictionary(uniqueKeysWithValues: metadata.map { ("\($0["module"] as? String ?? "").\($0["action"] as? String ?? "")", $0) })
        #expect(fixture.methods.count >= 40)
        for (key, expected) in fixture.methods.sorted(by: { $0.key < $1.key }) {
            let parts = key.split(separator: "?", maxSplits: 1).map(String.init)
            let query = "\(auth)&idSite=1&period=range&date=2026-10-24,2026-10-28&method=\(parts[0])" + (parts.count > 1 ? "&" + parts[1] : "")
            let answer = try await Self.json(api, query)
            var columns: [String] = []
            if expected.shape == "row" {
                columns = Array(try #require(answer as? [String: Any], "\(key): \(answer)").keys)
            } else {
                let rows = try #require(answer as? [[String: Any]], "\(key): \(answer)")
                #expect(!rows.isEmpty, "\(key) has no rows to check")
                columns = Array(Set(rows.flatMap(\.keys)))
            }
            #expect(Set(columns) == Set(expected.tally_columns), "\(key): \(columns.sorted())")
            let foreign = Set(expected.tally_columns).subtracting(expected.matomo_columns + ["label"])
            #expect(foreign.isEmpty, "\(key): \(foreign) are not Matomo's columns")
            if let names = expected.matomo_metadata {
                let row = try #require(listed[key], "\(key) is not in API.getReportMetadata")
                #expect(row["category"] as? String == names["category"] ?? nil && row["name"] as? String == names["name"] ?? nil, "\(key): \(row)")
                #expect(row["dimension"] as? String == names["dimension"] ?? nil, "\(key): \(row)")
            }
        }
        try await api.stop()
    }

    @Test("Filters: sort, offset, limit, label, showColumns and hideColumns")
    func filters() async throws {
        let (api, token) = try await Self.start(token: "dashboard")
        let base = "module=API&token_auth=\(token)&method=UserCountry.getCountry&idSite=1&period=month&date=2026-10-01"
        let all = try #require(try await Self.json(api, base) as? [[String: Any]])
        #expect(all.count >= 2)
        let byLabel = try #require(try await Self.json(api, base + "&filter_sort_column=label&filter_sort_order=asc") as? [[String: Any]])
        let labels = byLabel.compactMap { $0["label"] as? String }
        #expect(labels == labels.sorted() && labels.count == all.count)
        let second = try #require(try await Self.json(api, base + "&filter_offset=1&filter_limit=1") as? [[String: Any]])
        #expect(second.count == 1 && second[0]["label"] as? String == all[1]["label"] as? String)
        let one = try #require(try await Self.json(api, base + "&label=FR&showColumns=nb_visits") as? [[String: Any]])
        #expect(one.count == 1 && Set(one[0].keys) == ["label", "nb_visits"])
        let hidden = try #require(try await Self.json(api, base + "&hideColumns=bounce_rate,code") as? [[String: Any]])
        #expect(hidden.allSatisfy { $0["bounce_rate"] == nil && $0["code"] == nil && $0["nb_visits"] != nil })
        try await api.stop()
    }

    @Test("XML, CSV and TSV (UTF-16LE with a byte-order mark unless convertToUnicode=0), POST bodies and bulk requests")
    func formats() async throws {
        let (api, token) = try await Self.start(token: "dashboard")
        let base = "module=API&token_auth=\(token)&method=UserCountry.getCountry&idSite=1&period=month&date=2026-10-01"

        let xml = try await Self.call(api, base)  // Matomo's default format is XML.
        let xmlText = String(decoding: xml.body, as: UTF8.self)
        #expect(xml.type.hasPrefix("text/xml") && xmlText.hasPrefix("<?xml version=\"1.0\" encoding=\"utf-8\" ?>\n<result>\n\t<row>\n\t\t<label>FR</label>"))
        _ = try XMLDocument(data: xml.body)

        let csv = try await Self.call(api, base + "&format=csv")
        #expect(Array(csv.body.prefix(2)) == [0xFF, 0xFE])
        let csvText = try #require(String(data: csv.body.dropFirst(2), encoding: .utf16LittleEndian))
        #expect(csvText.hasPrefix("label,nb_visits,nb_actions,bounce_count,sum_visit_length,bounce_rate,nb_actions_per_visit,avg_time_on_site,code\nFR,3,"))
        let utf8 = try await Self.call(api, base + "&format=tsv&convertToUnicode=0")
        #expect(String(decoding: utf8.body, as: UTF8.self).hasPrefix("label\tnb_visits\tnb_actions"))

        let posted = try await Self.call(api, base + "&format=json", post: true, path: "/matomo/index.php")
        #expect((try JSONSerialization.jsonObject(with: posted.body) as? [[String: Any]])?.first?["label"] as? String == "FR")

        let first = "method=VisitsSummary.getVisits&idSite=1&period=day&date=2026-10-24".addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        let second = "method=API.getMatomoVersion".addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        let bulk = try #require(try await Self.json(api, "module=API&token_auth=\(token)&method=API.getBulkRequest&urls%5B0%5D=\(first)&urls%5B1%5D=\(second)") as? [Any])
        #expect(bulk.count == 2)
        #expect((bulk[0] as? [String: Int])?["value"] != nil && (bulk[1] as? [String: String])?["value"] == "5.0.0")
        try await api.stop()
    }

    @Test("Errors follow Matomo's convention (status 200, result error, one message); out-of-scope sites read like missing ones; nothing else happens")
    func errors() async throws {
        let (api, token) = try await Self.start(token: "dashboard")
        let auth = "module=API&token_auth=\(token)"
        let day = "idSite=1&period=day&date=2026-10-24"

        #expect(try await Self.errorMessage(api, "module=API&method=VisitsSummary.get&\(day)")?.contains("requires 'view' access") == true)
        #expect(try await Self.errorMessage(api, "module=API&token_auth=tly_wrong&method=VisitsSummary.get&\(day)")?.contains("requires 'view' access") == true)
        #expect(try await Self.errorMessage(api, "\(auth)&method=VisitsSummary.nope&\(day)")
            == "The method 'nope' does not exist or is not available in the module 'VisitsSummary'.")
        #expect(try await Self.errorMessage(api, "\(auth)&method=VisitsSummary.get&idSite=1&period=fortnight&date=today")?.hasPrefix("The period 'fortnight' is not supported") == true)
        #expect(try await Self.errorMessage(api, "\(auth)&method=VisitsSummary.get&idSite=1&period=day&date=someday")?.contains("someday") == true)
        #expect(try await Self.errorMessage(api, "\(auth)&method=UserCountry.getCountry&\(day)&filter_limit=100000")?.contains("filter_limit=100000") == true)
        #expect(try await Self.errorMessage(api, "\(auth)&method=Live.getLastVisitsDetails&\(day)")?.contains("no log of individual visits") == true)
        #expect(try await Self.errorMessage(api, "module=CoreHome&action=index")?.contains("module=API only") == true)
        let otherSite = try await Self.errorMessage(api, "\(auth)&method=VisitsSummary.get&idSite=2&period=day&date=2026-10-24")
        let missingSite = try await Self.errorMessage(api, "\(auth)&method=VisitsSummary.get&idSite=99&period=day&date=2026-10-24")
        #expect(otherSite?.replacingOccurrences(of: "2", with: "N") == missingSite?.replacingOccurrences(of: "99", with: "N"))
        #expect(try await Self.errorMessage(api, "\(auth)&method=VisitsSummary.get&idSite=abc&period=day&date=today")?.contains("idSite=abc") == true)
        // A bulk request of more than 100 entries, or one nested in another, is refused whole.
        let version = "method=API.getMatomoVersion".addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        let oversized = (0...100).map { "urls%5B\($0)%5D=\(version)" }.joined(separator: "&")
        let tooMany = try await Self.call(api, "\(auth)&method=API.getBulkRequest&format=json&\(oversized)", post: true)
        #expect(String(decoding: tooMany.body, as: UTF8.self).contains("at most 100 requests; this one has 101"))
        let nested = "method=API.getBulkRequest&urls[0]=x".addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        let inner = try #require(try await Self.json(api, "\(auth)&method=API.getBulkRequest&urls%5B0%5D=\(nested)") as? [[String: String]])
        #expect(inner.first?["result"] == "error" && inner.first?["message"]?.contains("cannot be nested") == true)
        let html = try await Self.call(api, "\(auth)&method=API.getMatomoVersion&format=html")
        #expect(html.status == 200 && String(decoding: html.body, as: UTF8.self).contains("The format html is not supported"))
        // An error in XML is Matomo's <error message="…"/>.
        let xml = String(decoding: try await Self.call(api, "\(auth)&method=Nope.nope").body, as: UTF8.self)
        #expect(xml.contains("<error message=\"The method 'nope' does not exist"))
        try await api.stop()
    }

    @Test("matomo-cli, a Matomo CLI and Prometheus exporter from PyPI, reads central: its numbers are tally-central report's")
    func matomoCLI() async throws {
        let (api, token) = try await Self.start(token: "exporter")
        let url = "http://127.0.0.1:\(api.port)/index.php"

        // The CLI: VisitsSummary.get as JSON (it prints the decoded object) and as TSV (UTF-16 from central).
        let (status, printed) = try await run("/usr/bin/env", [
            "python3", "-m", "matomo_cli.cli", "api", "--url", url, "--token", token, "-m", "VisitsSummary.get",
            "-i", "1", "-p", "range", "-d", "2026-10-24,2026-10-26", "-f", "json",
        ])
        #expect(status == 0 && printed.contains("'nb_visits': 8") && printed.contains("'nb_uniq_visitors': 4"), "\(printed)")
        let (_, tsv) = try await run("/usr/bin/env", [
            "python3", "-m", "matomo_cli.cli", "api", "--url", url, "--token", token, "-m", "UserCountry.getCountry",
            "-i", "1", "-p", "month", "-d", "2026-10-01",
        ])
        let lines = tsv.split(separator: "\n")  // after any warnings the CLI's libraries print
        #expect(lines.contains { $0.hasPrefix("label\tnb_visits\tnb_actions") } && lines.contains { $0.hasPrefix("FR\t3\t") }, "\(tsv)")

        // The exporter's collectors, run once each, then its metrics as Prometheus would scrape them.
        let script = """
            import os, matomo_cli.prometheus as p
            from prometheus_client import generate_latest
            url, token = os.environ["MATOMO_URL"], os.environ["MATOMO_TOKEN"]
            p.fetch_and_set_version_info(url, token)
            p.fetch_and_set_segments_and_sites(url, token)
            p.fetch_todays_actions(url, token)
            p.fetch_and_set_matomo_actions_month(url, token)
            print(generate_latest().decode())
            """
        let environment = ["MATOMO_URL": url, "MATOMO_TOKEN": token, "MATOMO_ACTIONS_FROM_YEAR": "2026"]
        let (exitStatus, metrics) = try await run("/usr/bin/env", environment.map { "\($0)=\($1)" } + ["python3", "-c", script])
        #expect(exitStatus == 0, "\(metrics)")
        func sample(_ name: String) -> Double? {
            metrics.split(separator: "\n").first { $0.hasPrefix(name + " ") }.flatMap { Double($0.split(separator: " ").last!) }
        }
        #expect(sample("matomo_number_of_sites") == 1)
        #expect(metrics.contains(#"matomo_version_info{full_version="5.0.0",major="5",minor="0",patch="0"} 1.0"#), "\(metrics)")
        // Actions per month and today, against `tally-central report` on the same store for the same site
        // and periods (central's today is the API's frozen 2026-11-02).
        let config = api.directory + "/central.toml"
        try ReportFixture.configTOML.replacingOccurrences(of: "%DATA%", with: api.directory + "/data").write(toFile: config, atomically: true, encoding: .utf8)
        func reportedActions(period: String, date: String) async throws -> Int? {
            let (status, output) = try await run(centralBinary, ["report", "-c", config, "--site", "1", "--report", "summary", "--period", period, "--date", date, "--format", "json"])
            #expect(status == 0, "\(output)")
            let rows = (try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any])?["rows"] as? [[String: Any]]
            return rows?.first?["actions"] as? Int
        }
        for (month, date) in [("10", "2026-10-01"), ("11", "2026-11-01")] {
            let actions = try #require(try await reportedActions(period: "month", date: date))
            #expect(sample(#"matomo_number_of_actions_month{month="\#(month)",year="2026"}"#) == Double(actions), "\(month): \(metrics)")
        }
        let today = try #require(try await reportedActions(period: "day", date: "2026-11-02"))
        #expect(sample("matomo_number_of_actions") == Double(today))
        let october = try #require(try await reportedActions(period: "month", date: "2026-10-01"))
        #expect(october > 0)
        try await api.stop()
    }

    @Test("matomo-api, a Python wrapper of the Reporting API from PyPI, reads central with its own parameter builders")
    func matomoAPIClient() async throws {
        let (api, token) = try await Self.start(token: "scripts")
        let script = """
            import json, os, matomo_api as ma
            client = ma.MatomoApi(os.environ["URL"], os.environ["TOKEN"])
            site = ma.idSite.one_or_more(1)
            summary = client.VisitsSummary().get(ma.format.json | site | ma.period.range | ma.date.YMD("2026-10-24,2026-10-26")).json()
            countries = client.UserCountry().getCountry(ma.format.json | site | ma.period.month | ma.date.YMD("2026-10-01")
                                                        | ma.showColumns("nb_visits") | ma.filter_limit(2)).json()
            week = client.VisitsSummary().getVisits(ma.format.json | site | ma.period.day | ma.date.lastWeek).json()
            days = client.VisitsSummary().getVisits(ma.format.json | site | ma.period.day | ma.date.previous(2)).json()
            sites = client.SitesManager().getSitesWithAtLeastViewAccess(ma.format.json).json()
            print(json.dumps({"summary": summary, "countries": countries, "week": week, "days": days, "sites": sites}))
            """
        let (status, output) = try await run("/usr/bin/env", ["URL=http://127.0.0.1:\(api.port)/index.php", "TOKEN=\(token)", "python3", "-c", script])
        #expect(status == 0, "\(output)")
        let answers = try #require(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any], "\(output)")
        let summary = try #require(answers["summary"] as? [String: Any])
        #expect(summary["nb_visits"] as? Int == 8 && summary["nb_uniq_visitors"] as? Int == 4)
        let countries = try #require(answers["countries"] as? [[String: Any]])
        #expect(countries.count == 2 && countries[0]["label"] as? String == "FR" && countries[0]["nb_visits"] as? Int == 3)
        #expect(countries.allSatisfy { Set($0.keys) == ["label", "nb_visits"] })
        // lastWeek: the same day a week before central's today (2026-11-02).
        let week = try #require(answers["week"] as? [String: Int])
        let v1Rows = try await Self.v1Rows(api, "/api/v1/reports/summary?site=1&period=day&date=2026-10-26", token: token)
        #expect(week["value"] == v1Rows.first?["visits"] as? Int)
        #expect((answers["days"] as? [String: Int]).map { Array($0.keys).sorted() } == ["2026-10-31", "2026-11-01"])
        #expect((answers["sites"] as? [[String: Any]])?.map { $0["idsite"] as? Int } == [1])
        try await api.stop()
    }

    @Test("docs/openapi.yaml is valid OpenAPI, real requests and answers of both APIs validate against it, and it lists every method central answers")
    func openAPI() async throws {
        let (api, token) = try await Self.start(token: "spec")
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let (status, output) = try await run("/usr/bin/env", [
            "python3", root.appendingPathComponent("scripts/check-openapi.py").path, root.appendingPathComponent("docs/openapi.yaml").path,
            "http://127.0.0.1:\(api.port)", token, "1", "month", "2026-10-01",
        ])
        #expect(status == 0 && output.contains("ok: 58 Matomo methods listed and answered"), "\(output)")
        try await api.stop()
    }

    @Test("Failed token_auth counts towards the same cool-down as /api/v1")
    func sharedLimiter() async throws {
        let (api, token) = try await Self.start(token: "dashboard")
        for _ in 0..<api.components.config.api.maxFailures {
            _ = try await Self.call(api, "module=API&token_auth=tly_wrong&method=API.getMatomoVersion&format=json")
        }
        #expect(try await api.get("/api/v1/sites", token: token).status == 429)
        let refused = try await Self.call(api, "module=API&token_auth=\(token)&method=API.getMatomoVersion&format=json")
        #expect(refused.status == 429 && String(decoding: refused.body, as: UTF8.self).contains("\"result\":\"error\""))
        try await api.stop()
    }
}
