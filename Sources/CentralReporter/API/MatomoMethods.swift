import Foundation

/// The report methods of Matomo's API that Tally answers, each read from one of Tally's reports
/// (docs/reports.md) and given Matomo's column names and definitions.
enum MatomoMethods {
    /// How a method builds its answer for one site and period.
    struct Handler: Sendable {
        let category: String
        let name: String
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
    }

    /// The method names and what answers them. `VisitsSummary.get*` single metrics answer one value.
    static let handlers: [String: Handler] = {
        var table: [String: Handler] = [
            "VisitsSummary.get": Handler(category: "Visits", name: "Visits overview") { api, site, period, p in
                .row(try project(try await summary(api, site: site, period: period), p))
            },
            "Actions.get": Handler(category: "Actions", name: "Actions overview") { api, site, period, p in
                .row(try project(try await actionsSummary(api, site: site, period: period), p))
            },
        ]
        let singles = [
            ("getVisits", "nb_visits"), ("getUniqueVisitors", "nb_uniq_visitors"), ("getActions", "nb_actions"),
            ("getBounceCount", "bounce_count"), ("getSumVisitsLength", "sum_visit_length"),
        ]
        for (action, column) in singles {
            table["VisitsSummary.\(action)"] = Handler(category: "Visits", name: column) { api, site, period, _ in
                .value(try await summary(api, site: site, period: period)[column] ?? .int(0))
            }
        }
        let reports: [(String, String, String, String, Columns)] = [
            ("Actions.getPageUrls", "Actions", "Page URLs", "pages", .pages),
            ("Actions.getPageTitles", "Actions", "Page titles", "page_titles", .pages),
            ("Actions.getEntryPageUrls", "Actions", "Entry pages", "entry_pages", .entryPages),
            ("Actions.getExitPageUrls", "Actions", "Exit pages", "exit_pages", .exitPages),
            ("Actions.getOutlinks", "Actions", "Outlinks", "outlinks", .clicks),
            ("Actions.getDownloads", "Actions", "Downloads", "downloads", .clicks),
            ("Actions.getSiteSearchKeywords", "Actions", "Site search keywords", "site_search", .searches),
            ("Referrers.getReferrerType", "Referrers", "Channel types", "referrer_types", .visits),
            ("Referrers.getAll", "Referrers", "All referrers", "referrers", .visits),
            ("Referrers.getSearchEngines", "Referrers", "Search engines", "search_engines", .visits),
            ("Referrers.getSocials", "Referrers", "Social networks", "social_networks", .visits),
            ("Referrers.getCampaigns", "Referrers", "Campaigns", "campaigns", .visits),
            ("UserCountry.getCountry", "Locations", "Country", "countries", .visits),
            ("UserCountry.getRegion", "Locations", "Region", "regions", .visits),
            ("UserCountry.getCity", "Locations", "City", "cities", .visits),
            ("DevicesDetection.getType", "Devices", "Device type", "devices", .visits),
            ("DevicesDetection.getBrands", "Devices", "Device brand", "device_brands", .visits),
            ("DevicesDetection.getBrowsers", "Software", "Browsers", "browsers", .visits),
            ("DevicesDetection.getOsFamilies", "Software", "Operating system families", "os", .visits),
            ("Resolution.getResolution", "Devices", "Screen resolution", "resolutions", .visits),
            ("UserLanguage.getLanguage", "Locations", "Browser language", "languages", .visits),
            ("VisitTime.getVisitInformationPerServerTime", "Visits", "Visits per server time", "hours", .visits),
        ]
        for (method, category, name, report, columns) in reports {
            table[method] = Handler(category: category, name: name) { api, site, period, p in
                .table(try await rows(api, report: report, columns: columns, site: site, period: period, parameters: p))
            }
        }
        return table
    }()

    /// `API.getReportMetadata`: every report method, flat.
    static let reportMetadata: [MatomoRow] = handlers.keys.sorted().map { method in
        let parts = method.split(separator: ".", maxSplits: 1).map(String.init)
        let handler = handlers[method]!
        return MatomoRow(columns: [
            ("category", .text(handler.category)), ("name", .text(handler.name)),
            ("module", .text(parts[0])), ("action", .text(parts[1])),
        ])
    }

    // MARK: Summaries

    /// `VisitsSummary.get`: Matomo's core visit metrics and the ones it derives from them.
    static func summary(_ api: MatomoAPIController, site: ReportSite, period: ReportPeriod) async throws -> MatomoRow {
        try await api.reports.refresh(site: site, period: period)
        let days = try api.store.dailySummaries(site: site.id, from: period.from, to: period.to)
        let total = days.values.reduce(Metrics()) { $0 + $1.metrics }
        let unique = try api.store.uniqueVisitors(site: site.id, from: period.from, to: period.to, zone: site.timeZone)
        return MatomoRow(columns: [("nb_uniq_visitors", .int(unique))] + visitColumns(total) + [("nb_pageviews", .int(total.pageviews))])
    }

    /// `Actions.get`: pageviews, downloads, outlinks and searches of the period.
    static func actionsSummary(_ api: MatomoAPIController, site: ReportSite, period: ReportPeriod) async throws -> MatomoRow {
        try await api.reports.refresh(site: site, period: period)
        let days = try api.store.dailySummaries(site: site.id, from: period.from, to: period.to)
        let total = days.values.reduce(Metrics()) { $0 + $1.metrics }
        func rows(_ report: String) throws -> [(String, Metrics)] {
            try api.store.periodRows(site: site.id, report: report, from: period.from, to: period.to)
        }
        func sum(_ rows: [(String, Metrics)]) -> Metrics { rows.reduce(Metrics()) { $0 + $1.1 } }
        let keywords = try rows("site_search")
        let downloads = sum(try rows("downloads")), outlinks = sum(try rows("outlinks")), searches = sum(keywords)
        return MatomoRow(columns: [
            ("nb_pageviews", .int(total.pageviews)), ("nb_uniq_pageviews", .int(total.uniquePageviews)),
            ("nb_downloads", .int(downloads.hits)), ("nb_uniq_downloads", .int(downloads.visits)),
            ("nb_outlinks", .int(outlinks.hits)), ("nb_uniq_outlinks", .int(outlinks.visits)),
            ("nb_searches", .int(searches.hits)), ("nb_keywords", .int(keywords.count)),
        ])
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
        var data = try api.store.periodRows(site: site.id, report: report, from: period.from, to: period.to)
        // Hours keep their order, as in Matomo, unless a sort is asked for.
        let inTimeOrder = report == "hours" && (parameters["filter_sort_column"] ?? "").isEmpty
        if inTimeOrder { data.sort { (Int($0.0) ?? 0) < (Int($1.0) ?? 0) } }
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
            }
            if report == "referrer_types", let code = referrerTypeCodes[label] { row.columns.append(("referer_type", .int(code))) }
            if report == "countries" { row.columns.append(("code", .text(label.lowercased()))) }
            return row
        }
        let main = switch columns {
        case .visits, .clicks, .searches: "nb_visits"
        case .pages: "nb_hits"
        case .entryPages: "entry_nb_visits"
        case .exitPages: "exit_nb_visits"
        }
        return try filtered(rows, parameters, defaultSort: inTimeOrder ? nil : main)
    }

    /// Matomo's names for Tally's channel types, and its `referer_type` codes.
    static let referrerTypeLabels = [
        "direct": "Direct Entry", "search_engine": "Search Engines", "website": "Websites", "campaign": "Campaigns",
        "social": "Social Networks", "email": "E-mail", "ai_assistant": "AI Assistants",
    ]
    static let referrerTypeCodes = ["direct": 1, "search_engine": 2, "website": 3, "campaign": 6, "social": 7]

    /// Matomo's labels where its differ from Tally's: channel type names, and hours as "7h".
    static func displayLabel(_ label: String, report: String) -> String {
        switch report {
        case "referrer_types": referrerTypeLabels[label] ?? label
        case "hours": Int(label).map { "\($0)h" } ?? label
        default: label
        }
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
