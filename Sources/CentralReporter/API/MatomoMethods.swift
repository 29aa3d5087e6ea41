import Foundation

/// The report methods of Matomo's API that Tally answers, each read from one of Tally's reports
/// (docs/reports.md) and given Matomo's column names and definitions.
enum MatomoMethods {
    /// How a method builds its answer for one site and period.
    struct Handler: Sendable {
        let category: String
        let name: String
        /// The label column's meaning, for reports with rows; nil for one-row and one-value methods.
        var dimension: String? = nil
        /// The columns the method answers (besides `label`), for `API.getReportMetadata`.
        let columns: [String]
        let run: @Sendable (MatomoAPIController, ReportSite, ReportPeriod, [String: String]) async throws -> MatomoResult

        func run(_ api: MatomoAPIController, site: ReportSite, period: ReportPeriod, parameters: [String: String]) async throws -> MatomoResult {
            try await run(api, site, period, parameters)
        }
    }

    /// Which of Matomo's column sets a report's rows get.
    enum Columns: Sendable {
        /// Visit metrics: nb_visits, nb_actions, bounce_count, sum_visit_length and the derived rates.
        case visits
        /// Page views: nb_hits (views), nb_visits (visits that viewed it, Tally's unique pageviews).
        case pages
        case entryPages
        case exitPages
        /// Outlinks and downloads: nb_hits (clicks), nb_visits.
        case clicks
        /// Site search keywords: nb_visits, nb_hits (searches).
        case searches
        /// Event categories, actions and names: nb_visits, nb_events, the events with a value and their sum and average.
        case events
        /// Content names and pieces: nb_visits, nb_impressions, nb_interactions, interaction_rate.
        case contents
        /// Products (SKUs, names, categories): revenue, quantity, orders, product page views and averages.
        case products

        var names: [String] {
            switch self {
            case .visits: MatomoMethods.visitColumnNames
            case .pages, .clicks: ["nb_visits", "nb_hits"]
            case .searches: ["nb_visits", "nb_hits"]
            case .entryPages: ["entry_nb_visits", "entry_bounce_count", "entry_sum_visit_length"]
            case .exitPages: ["exit_nb_visits"]
            case .events: ["nb_visits", "nb_events", "nb_events_with_value", "sum_event_value", "avg_event_value"]
            case .contents: ["nb_visits", "nb_impressions", "nb_interactions", "interaction_rate"]
            case .products: ["revenue", "quantity", "orders", "nb_actions", "avg_price", "avg_quantity"]
            }
        }

        /// The column rows are sorted by unless the request names one.
        var main: String {
            switch self {
            case .visits, .clicks, .searches: "nb_visits"
            case .pages: "nb_hits"
            case .entryPages: "entry_nb_visits"
            case .exitPages: "exit_nb_visits"
            case .events: "nb_events"
            case .contents: "nb_impressions"
            case .products: "revenue"
            }
        }
    }

    /// The method names and what answers them. `VisitsSummary.get*` single metrics answer one value.
    static let handlers: [String: Handler] = {
        var table: [String: Handler] = [
            "VisitsSummary.get": Handler(category: "Visitors", name: "Visits Summary", columns: summaryColumnNames) { api, site, period, p in
                .row(try project(try await summary(api, site: site, period: period), p))
            },
            "Actions.get": Handler(category: "Actions", name: "Actions - Main metrics", columns: actionsColumnNames) { api, site, period, p in
                .row(try project(try await actionsSummary(api, site: site, period: period), p))
            },
            "Goals.get": Handler(category: "Goals", name: "Goals", columns: goalColumnNames) { api, site, period, p in
                .row(try project(try await goals(api, site: site, period: period, idGoal: p["idGoal"]), p))
            },
        ]
        let singles = [
            ("VisitsSummary.getVisits", "nb_visits"), ("VisitsSummary.getUniqueVisitors", "nb_uniq_visitors"),
            ("VisitsSummary.getActions", "nb_actions"), ("VisitsSummary.getBounceCount", "bounce_count"),
            ("VisitsSummary.getSumVisitsLength", "sum_visit_length"),
        ]
        for (method, column) in singles {
            table[method] = Handler(category: "Visitors", name: column, columns: [column]) { api, site, period, _ in
                .value(try await summary(api, site: site, period: period)[column] ?? .int(0))
            }
        }
        let goalSingles = [
            ("Goals.getConversions", "nb_conversions"), ("Goals.getNbVisitsConverted", "nb_visits_converted"),
            ("Goals.getConversionRate", "conversion_rate"), ("Goals.getRevenue", "revenue"),
        ]
        for (method, column) in goalSingles {
            table[method] = Handler(category: "Goals", name: column, columns: [column]) { api, site, period, p in
                .value(try await goals(api, site: site, period: period, idGoal: p["idGoal"])[column] ?? .int(0))
            }
        }
        // Method, Matomo's category, report name and dimension (as its API.getReportMetadata has them), Tally's report, columns.
        let reports: [(String, String, String, String, String, Columns)] = [
            ("Actions.getPageUrls", "Actions", "Page URLs", "Page URL", "pages", .pages),
            ("Actions.getPageTitles", "Actions", "Page titles", "Page Title", "page_titles", .pages),
            ("Actions.getEntryPageUrls", "Actions", "Entry pages", "Entry Page URL", "entry_pages", .entryPages),
            ("Actions.getExitPageUrls", "Actions", "Exit pages", "Exit Page URL", "exit_pages", .exitPages),
            ("Actions.getOutlinks", "Actions", "Outlinks", "Clicked Outlink", "outlinks", .clicks),
            ("Actions.getDownloads", "Actions", "Downloads", "Download URL", "downloads", .clicks),
            ("Actions.getSiteSearchKeywords", "Actions", "Site Search Keywords", "Keyword", "site_search", .searches),
            ("Referrers.getReferrerType", "Referrers", "Channel Type", "Channel Type", "referrer_types", .visits),
            ("Referrers.getAll", "Referrers", "All Channels", "Referrer", "referrers", .visits),
            ("Referrers.getWebsites", "Referrers", "Websites", "Website", "websites", .visits),
            ("Referrers.getSearchEngines", "Referrers", "Search Engines", "Search Engine", "search_engines", .visits),
            ("Referrers.getSocials", "Referrers", "Social Networks", "Social network", "social_networks", .visits),
            ("Referrers.getCampaigns", "Referrers", "Campaigns", "Campaign", "campaigns", .visits),
            ("UserCountry.getCountry", "Visitors", "Country", "Country", "countries", .visits),
            ("UserCountry.getRegion", "Visitors", "Region", "Region", "regions", .visits),
            ("UserCountry.getCity", "Visitors", "City", "City", "cities", .visits),
            ("DevicesDetection.getType", "Visitors", "Device type", "Device type", "devices", .visits),
            ("DevicesDetection.getBrand", "Visitors", "Device brand", "Device brand", "device_brands", .visits),
            ("DevicesDetection.getBrowsers", "Visitors", "Browsers", "Browser", "browser_families", .visits),
            ("DevicesDetection.getBrowserVersions", "Visitors", "Browser version", "Browser version", "browsers", .visits),
            ("DevicesDetection.getOsFamilies", "Visitors", "Operating System families", "Operating system family", "os_families", .visits),
            ("DevicesDetection.getOsVersions", "Visitors", "Operating System versions", "Operating system version", "os", .visits),
            ("Resolution.getResolution", "Visitors", "Screen Resolution", "Resolution", "resolutions", .visits),
            ("UserLanguage.getLanguage", "Visitors", "Web-browser language", "Language", "languages", .visits),
            ("VisitTime.getVisitInformationPerServerTime", "Visitors", "Visits per hour in the site's timezone", "Site time — hour (start of visit)", "hours", .visits),
            ("VisitTime.getVisitInformationPerLocalTime", "Visitors", "Visits per local time", "Local time — hour (start of visit)", "local_hours", .visits),
            ("Events.getCategory", "Actions", "Event Categories", "Event Category", "event_categories", .events),
            ("Events.getAction", "Actions", "Event Actions", "Event Action", "event_actions", .events),
            ("Events.getName", "Actions", "Event Names", "Event Name", "event_names", .events),
            ("Contents.getContentNames", "Actions", "Content Name", "Content Name", "content_names", .contents),
            ("Contents.getContentPieces", "Actions", "Content Piece", "Content Piece", "content_pieces", .contents),
            ("Goals.getItemsSku", "Ecommerce", "Product SKU", "Product SKU", "product_skus", .products),
            ("Goals.getItemsName", "Ecommerce", "Product Name", "Product Name", "product_names", .products),
            ("Goals.getItemsCategory", "Ecommerce", "Product Category", "Product Category", "product_categories", .products),
        ]
        for (method, category, name, dimension, report, columns) in reports {
            table[method] = Handler(category: category, name: name, dimension: dimension, columns: columns.names) { api, site, period, p in
                if columns == .products, let carts = p["abandonedCarts"], !["", "0", "false"].contains(carts) {
                    throw MatomoAPIController.Failure(message: "abandonedCarts=\(carts) is not served: Tally counts abandoned carts per visit (Goals.get&idGoal=ecommerceAbandonedCart), not per product.")
                }
                return .table(try await rows(api, report: report, columns: columns, site: site, period: period, parameters: p))
            }
        }
        return table
    }()

    static let visitColumnNames = ["nb_visits", "nb_actions", "bounce_count", "sum_visit_length", "bounce_rate", "nb_actions_per_visit", "avg_time_on_site"]
    static let summaryColumnNames = ["nb_uniq_visitors"] + visitColumnNames
    static let actionsColumnNames = [
        "nb_pageviews", "nb_uniq_pageviews", "nb_downloads", "nb_uniq_downloads", "nb_outlinks", "nb_uniq_outlinks", "nb_searches", "nb_keywords",
    ]
    static let goalColumnNames = [
        "nb_conversions", "nb_visits_converted", "revenue", "revenue_subtotal", "revenue_tax", "revenue_shipping", "revenue_discount",
        "items", "avg_order_revenue", "conversion_rate",
    ]

    /// Matomo's titles of the columns Tally answers; the computed ones (rates and averages) are what
    /// Matomo calls processed metrics.
    static let metricTitles: [String: String] = [
        "nb_visits": "Visits", "nb_actions": "Actions", "nb_uniq_visitors": "Unique visitors", "bounce_count": "Bounces",
        "sum_visit_length": "Total time spent by visitors (in seconds)", "nb_pageviews": "Pageviews",
        "nb_uniq_pageviews": "Unique Pageviews", "nb_downloads": "Downloads", "nb_uniq_downloads": "Unique Downloads",
        "nb_outlinks": "Outlinks", "nb_uniq_outlinks": "Unique Outlinks", "nb_searches": "Searches", "nb_keywords": "Unique Keywords",
        "nb_hits": "Hits", "entry_nb_visits": "Entrances", "entry_bounce_count": "Bounces", "entry_sum_visit_length": "Total time spent by visitors (in seconds)",
        "exit_nb_visits": "Exits", "nb_events": "Events", "nb_events_with_value": "Events with a value", "sum_event_value": "Event value",
        "nb_impressions": "Impressions", "nb_interactions": "Interactions", "revenue": "Revenue", "quantity": "Quantity",
        "orders": "Unique Purchases", "nb_conversions": "Conversions", "nb_visits_converted": "Visits converted",
        "revenue_subtotal": "Product revenue", "revenue_tax": "Tax", "revenue_shipping": "Shipping", "revenue_discount": "Discount",
        "items": "Purchased products",
        "bounce_rate": "Bounce Rate", "nb_actions_per_visit": "Actions per Visit", "avg_time_on_site": "Avg. Time on Website",
        "avg_event_value": "Avg. value", "interaction_rate": "Interaction Rate", "avg_price": "Average Price",
        "avg_quantity": "Average Quantity", "avg_order_revenue": "Average Order Value", "conversion_rate": "Conversion Rate",
    ]
    static let processedMetrics: Set<String> = [
        "bounce_rate", "nb_actions_per_visit", "avg_time_on_site", "avg_event_value", "interaction_rate", "avg_price",
        "avg_quantity", "avg_order_revenue", "conversion_rate",
    ]

    /// `API.getReportMetadata`: every report method with Matomo's keys — its dimension, its metrics and
    /// processed metrics (column → title), and `uniqueId`.
    static let reportMetadata: [MatomoRow] = {
        var rows = handlers.map { method, handler in
            describe(method, category: handler.category, name: handler.name, dimension: handler.dimension, columns: handler.columns)
        }
        // Answered across sites (MatomoAPIController) rather than per site, so not a handler.
        rows.append(describe(
            "MultiSites.getAll", category: "All Websites", name: "All Websites dashboard", dimension: "Website",
            columns: ["nb_visits", "nb_actions", "nb_pageviews"]))
        return rows.sorted { ($0["uniqueId"]?.plain ?? "") < ($1["uniqueId"]?.plain ?? "") }
    }()

    private static func describe(_ method: String, category: String, name: String, dimension: String?, columns: [String]) -> MatomoRow {
        let parts = method.split(separator: ".", maxSplits: 1).map(String.init)
        func titles(_ names: [String]) -> MatomoValue {
            .object(MatomoRow(columns: names.map { ($0, .text(metricTitles[$0] ?? $0)) }))
        }
        var row = MatomoRow(columns: [
            ("category", .text(category)), ("name", .text(name)),
            ("module", .text(parts[0])), ("action", .text(parts[1])),
        ])
        if let dimension { row.columns.append(("dimension", .text(dimension))) }
        row.columns += [
            ("metrics", titles(columns.filter { !processedMetrics.contains($0) })),
            ("processedMetrics", titles(columns.filter { processedMetrics.contains($0) })),
            ("uniqueId", .text("\(parts[0])_\(parts[1])")),
        ]
        return row
    }

    // MARK: Summaries

    /// `VisitsSummary.get`: Matomo's core visit metrics and the ones it derives from them.
    static func summary(_ api: MatomoAPIController, site: ReportSite, period: ReportPeriod) async throws -> MatomoRow {
        let (total, unique) = try await summaryMetrics(api, site: site, period: period)
        return MatomoRow(columns: [("nb_uniq_visitors", .int(unique))] + visitColumns(total))
    }

    /// The period's summed visit metrics and its unique visitors.
    static func summaryMetrics(_ api: MatomoAPIController, site: ReportSite, period: ReportPeriod) async throws -> (Metrics, Int) {
        try await api.reports.refresh(site: site, period: period)
        let days = try await api.store.dailySummaries(site: site.id, from: period.from, to: period.to)
        let unique = try await api.store.uniqueVisitors(site: site.id, from: period.from, to: period.to, zone: site.timeZone)
        return (days.values.reduce(Metrics()) { $0 + $1.metrics }, unique)
    }

    /// `Actions.get`: pageviews, downloads, outlinks and searches of the period.
    static func actionsSummary(_ api: MatomoAPIController, site: ReportSite, period: ReportPeriod) async throws -> MatomoRow {
        try await api.reports.refresh(site: site, period: period)
        let days = try await api.store.dailySummaries(site: site.id, from: period.from, to: period.to)
        let total = days.values.reduce(Metrics()) { $0 + $1.metrics }
        func rows(_ report: String) async throws -> [(String, Metrics)] {
            try await api.store.periodRows(site: site.id, report: report, from: period.from, to: period.to)
        }
        func sum(_ rows: [(String, Metrics)]) -> Metrics { rows.reduce(Metrics()) { $0 + $1.1 } }
        let keywords = try await rows("site_search")
        let downloads = sum(try await rows("downloads")), outlinks = sum(try await rows("outlinks")), searches = sum(keywords)
        return MatomoRow(columns: [
            ("nb_pageviews", .int(total.pageviews)), ("nb_uniq_pageviews", .int(total.uniquePageviews)),
            ("nb_downloads", .int(downloads.hits)), ("nb_uniq_downloads", .int(downloads.visits)),
            ("nb_outlinks", .int(outlinks.hits)), ("nb_uniq_outlinks", .int(outlinks.visits)),
            ("nb_searches", .int(searches.hits)), ("nb_keywords", .int(keywords.count)),
        ])
    }

    /// `Goals.get`: all conversions (goals and orders) without `idGoal`; one goal's with `idGoal=N`; the
    /// orders' with `idGoal=ecommerceOrder`; the abandoned carts' with `idGoal=ecommerceAbandonedCart`.
    /// The conversion rate is converted visits over the period's visits, as a percentage.
    static func goals(_ api: MatomoAPIController, site: ReportSite, period: ReportPeriod, idGoal: String?) async throws -> MatomoRow {
        try await api.reports.refresh(site: site, period: period)
        func total(_ report: String, label: String = "") async throws -> Metrics {
            try await api.store.periodRows(site: site.id, report: report, from: period.from, to: period.to)
                .filter { $0.0 == label }.reduce(Metrics()) { $0 + $1.1 }
        }
        let visits = try await api.store.dailySummaries(site: site.id, from: period.from, to: period.to).values.reduce(0) { $0 + $1.metrics.visits }
        func columns(conversions: Int, converted: Int, revenue: Double) -> [(name: String, value: MatomoValue)] {
            [("nb_conversions", .int(conversions)), ("nb_visits_converted", .int(converted)), ("revenue", money(revenue))]
        }
        let rate: (Int) -> (name: String, value: MatomoValue) = { ("conversion_rate", .text(percent($0, of: visits))) }
        switch idGoal ?? "" {
        case "", "0":
            let all = try await total("conversions")
            return MatomoRow(columns: columns(conversions: all.hits, converted: all.visits, revenue: all.value) + [rate(all.visits)])
        case "ecommerceOrder":
            let orders = try await total("ecommerce")
            var row = MatomoRow(columns: columns(conversions: orders.hits, converted: orders.visits, revenue: orders.value))
            for part in ["subtotal", "tax", "shipping", "discount"] {
                row.columns.append(("revenue_\(part)", money(try await total("order_amounts", label: part).value)))
            }
            row.columns += [("items", .int(orders.items)), ("avg_order_revenue", money(orders.hits == 0 ? 0 : orders.value / Double(orders.hits))), rate(orders.visits)]
            return row
        case "ecommerceAbandonedCart":
            let carts = try await total("abandoned_carts")
            return MatomoRow(columns: columns(conversions: carts.hits, converted: carts.visits, revenue: carts.value) + [
                ("items", .int(carts.items)), ("avg_order_revenue", money(carts.hits == 0 ? 0 : carts.value / Double(carts.hits))), rate(carts.visits),
            ])
        case let text:
            guard let id = Int(text), id > 0 else {
                throw MatomoAPIController.Failure(message: "idGoal=\(text) is not a goal id; use a positive whole number, ecommerceOrder or ecommerceAbandonedCart.")
            }
            let goal = try await total("goals", label: "goal \(id)")
            return MatomoRow(columns: columns(conversions: goal.hits, converted: goal.visits, revenue: goal.value) + [rate(goal.visits)])
        }
    }

    /// An amount of money to the cent, as Matomo rounds revenue.
    static func money(_ amount: Double) -> MatomoValue { .number((amount * 100).rounded() / 100) }

    /// `part` of `whole` as Matomo writes rates: a percentage with at most two decimals ("66.67%", "0%").
    static func percent(_ part: Int, of whole: Int) -> String {
        guard whole > 0 else { return "0%" }
        return MatomoValue.number((10_000 * Double(part) / Double(whole)).rounded() / 100).plain + "%"
    }

    /// Matomo's visit metrics from Tally's: counts as they are, the bounce rate as "NN%" (rounded to a
    /// whole percent), actions per visit to one decimal, the average time on site in whole seconds.
    static func visitColumns(_ m: Metrics) -> [(name: String, value: MatomoValue)] {
        [
            ("nb_visits", .int(m.visits)), ("nb_actions", .int(m.actions)), ("bounce_count", .int(m.bounces)),
            ("sum_visit_length", .int(m.visitSeconds)),
            ("bounce_rate", .text(m.visits == 0 ? "0%" : "\(Int((100 * Double(m.bounces) / Double(m.visits)).rounded()))%")),
            ("nb_actions_per_visit", .number(m.visits == 0 ? 0 : (10 * Double(m.actions) / Double(m.visits)).rounded() / 10)),
            ("avg_time_on_site", .int(m.visits == 0 ? 0 : Int((Double(m.visitSeconds) / Double(m.visits)).rounded()))),
        ]
    }

    // MARK: Report rows

    static func rows(
        _ api: MatomoAPIController, report: String, columns: Columns, site: ReportSite, period: ReportPeriod, parameters: [String: String]
    ) async throws -> [MatomoRow] {
        try await api.reports.refresh(site: site, period: period)
        var data = try await api.store.periodRows(site: site.id, report: report, from: period.from, to: period.to)
        // Hours keep their order, as in Matomo, unless a sort is asked for.
        let inTimeOrder = ["hours", "local_hours"].contains(report) && (parameters["filter_sort_column"] ?? "").isEmpty
        if inTimeOrder { data.sort { (Int($0.0) ?? 24) < (Int($1.0) ?? 24) } }
        let rows = data.map { label, m -> MatomoRow in
            var row = MatomoRow(columns: [("label", .text(displayLabel(label, report: report)))])
            switch columns {
            case .visits: row.columns += visitColumns(m)
            case .pages: row.columns += [("nb_visits", .int(m.uniquePageviews)), ("nb_hits", .int(m.pageviews))]
            case .entryPages:
                row.columns += [("entry_nb_visits", .int(m.visits)), ("entry_bounce_count", .int(m.bounces)),
                                ("entry_sum_visit_length", .int(m.visitSeconds))]
            case .exitPages: row.columns += [("exit_nb_visits", .int(m.visits))]
            case .clicks, .searches: row.columns += [("nb_visits", .int(m.visits)), ("nb_hits", .int(m.hits))]
            case .events:
                row.columns += [
                    ("nb_visits", .int(m.visits)), ("nb_events", .int(m.hits)), ("nb_events_with_value", .int(m.items)),
                    ("sum_event_value", money(m.value)), ("avg_event_value", money(m.items == 0 ? 0 : m.value / Double(m.items))),
                ]
            case .contents:
                row.columns += [
                    ("nb_visits", .int(m.visits)), ("nb_impressions", .int(m.hits)), ("nb_interactions", .int(m.items)),
                    ("interaction_rate", .text(percent(m.items, of: m.hits))),
                ]
            case .products:
                row.columns += [
                    ("revenue", money(m.value)), ("quantity", .int(m.items)), ("orders", .int(m.hits)), ("nb_actions", .int(m.pageviews)),
                    ("avg_price", money(m.items == 0 ? 0 : m.value / Double(m.items))),
                    ("avg_quantity", money(m.hits == 0 ? 0 : Double(m.items) / Double(m.hits))),
                ]
            }
            if report == "referrer_types", let code = referrerTypeCodes[label] { row.columns.append(("referrer_type", .int(code))) }
            if report == "countries" { row.columns.append(("code", .text(label.lowercased()))) }
            return row
        }
        return try filtered(rows, parameters, defaultSort: inTimeOrder ? nil : columns.main)
    }

    /// Matomo's names for Tally's channel types, and its `referrer_type` codes.
    static let referrerTypeLabels = [
        "direct": "Direct Entry", "search_engine": "Search Engines", "website": "Websites", "campaign": "Campaigns",
        "social": "Social Networks", "email": "E-mail", "ai_assistant": "AI Assistants",
    ]
    static let referrerTypeCodes = ["direct": 1, "search_engine": 2, "website": 3, "campaign": 6, "social": 7]

    /// Matomo's labels where its differ from Tally's: channel type names. Hours are "00" to "23" in both.
    static func displayLabel(_ label: String, report: String) -> String {
        report == "referrer_types" ? referrerTypeLabels[label] ?? label : label
    }

    /// Matomo's generic filters: `label`, `filter_sort_column` / `filter_sort_order` (default: the
    /// report's main metric, descending), `filter_offset`, `filter_limit` (100 by default, -1 for all),
    /// `showColumns`, `hideColumns`.
    /// A `defaultSort` of nil keeps the rows' order when no sort is asked for.
    static func filtered(_ rows: [MatomoRow], _ p: [String: String], defaultSort: String?) throws -> [MatomoRow] {
        var rows = rows
        if let labels = p["label"], !labels.isEmpty {
            let wanted = Set(labels.split(separator: ",").map { String($0) })
            rows = rows.filter { row in row["label"].map { wanted.contains($0.plain) } ?? false }
        }
        let ascending = p["filter_sort_order"] == "asc"
        if let order = p["filter_sort_order"], !["asc", "desc", ""].contains(order) {
            throw MatomoAPIController.Failure(message: "filter_sort_order=\(order) is not asc or desc.")
        }
        if let column = p["filter_sort_column"].flatMap({ $0.isEmpty ? nil : $0 }) ?? defaultSort {
            rows.sort { a, b in
                let (x, y) = (a[column], b[column])
                if column == "label" || x?.sortKey == nil || y?.sortKey == nil {
                    let (s, t) = (x?.plain ?? "", y?.plain ?? "")
                    if s != t { return ascending ? s < t : s > t }
                } else if let x = x?.sortKey, let y = y?.sortKey, x != y {
                    return ascending ? x < y : x > y
                }
                return (a["label"]?.plain ?? "") < (b["label"]?.plain ?? "")
            }
        }
        let offsetText = p["filter_offset"] ?? "0"
        guard let offset = Int(offsetText), offset >= 0 else {
            throw MatomoAPIController.Failure(message: "filter_offset=\(offsetText) is not a whole number of 0 or more.")
        }
        let limitText = p["filter_limit"] ?? "100"
        guard let limit = Int(limitText), limit == -1 || (0...MatomoAPIController.maxFilterLimit).contains(limit) else {
            throw MatomoAPIController.Failure(message: "filter_limit=\(limitText) is not -1 or a number from 0 to \(MatomoAPIController.maxFilterLimit).")
        }
        rows = Array(rows.dropFirst(offset))
        if limit >= 0 { rows = Array(rows.prefix(limit)) }
        return try rows.map { try project($0, p) }
    }

    /// `showColumns` keeps only the listed columns (and the label); `hideColumns` removes the listed ones.
    static func project(_ row: MatomoRow, _ p: [String: String]) throws -> MatomoRow {
        var row = row
        if let show = p["showColumns"], !show.isEmpty {
            let wanted = Set(show.split(separator: ",").map(String.init))
            row.columns = row.columns.filter { $0.name == "label" || wanted.contains($0.name) }
        }
        if let hide = p["hideColumns"], !hide.isEmpty {
            let unwanted = Set(hide.split(separator: ",").map(String.init))
            row.columns = row.columns.filter { !unwanted.contains($0.name) }
        }
        return row
    }
}
