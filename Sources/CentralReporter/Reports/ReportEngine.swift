import Foundation
import TallyCore

/// One report, ready to render: the rows in order, each a label and one value per column.
public struct ReportTable: Sendable {
    public struct Column: Sendable, Equatable {
        public var id: String
        public var title: String
        public var format: ReportColumn.Format

        public init(id: String, title: String, format: ReportColumn.Format) {
            self.id = id
            self.title = title
            self.format = format
        }
    }

    public struct Row: Sendable, Equatable {
        public var label: String
        public var values: [Double]

        public init(label: String, values: [Double]) {
            self.label = label
            self.values = values
        }
    }

    public var report: ReportID
    public var title: String
    public var site: ReportSite
    public var period: ReportPeriod
    public var generatedAt: Date
    public var dimension: String
    public var columns: [Column]
    public var rows: [Row]

    public static let othersLabel = "Others"

    public init(report: ReportID, title: String, site: ReportSite, period: ReportPeriod, generatedAt: Date, dimension: String, columns: [Column], rows: [Row]) {
        self.report = report
        self.title = title
        self.site = site
        self.period = period
        self.generatedAt = generatedAt
        self.dimension = dimension
        self.columns = columns
        self.rows = rows
    }
}

/// Builds reports from the daily aggregates of a period (made fresh first for days still dirty).
public struct ReportEngine: Sendable {
    let store: any CentralStore
    let config: CentralConfig
    let clock: any TallyClock

    public init(store: any CentralStore, config: CentralConfig, clock: any TallyClock = SystemClock()) {
        self.store = store
        self.config = config
        self.clock = clock
    }

    /// The summary's columns: the visit metrics plus unique visitors, which are not additive over days.
    static let summaryColumns: [ReportTable.Column] = [
        .init(id: "visits", title: "Visits", format: .integer),
        .init(id: "unique_visitors", title: "Unique visitors", format: .integer),
        .init(id: "pageviews", title: "Pageviews", format: .integer),
        .init(id: "unique_pageviews", title: "Unique pageviews", format: .integer),
        .init(id: "actions", title: "Actions", format: .integer),
        .init(id: "bounce_rate", title: "Bounce rate", format: .percent),
        .init(id: "avg_visit_duration", title: "Avg. duration", format: .duration),
        .init(id: "actions_per_visit", title: "Actions/visit", format: .decimal),
        .init(id: "bot_hits", title: "Bot hits", format: .integer),
    ]

    static func summaryValues(_ m: Metrics, uniqueVisitors: Int, botHits: Int) -> [Double] {
        [Double(m.visits), Double(uniqueVisitors), Double(m.pageviews), Double(m.uniquePageviews), Double(m.actions),
         ReportColumn.bounceRate.value(m), ReportColumn.averageDuration.value(m), ReportColumn.actionsPerVisit.value(m),
         Double(botHits)]
    }

    /// The site's today, in its time zone.
    public func today(site: ReportSite) -> LocalDay { LocalDay(containing: clock.now(), in: site.timeZone) }

    /// Aggregates the site's days of the period that are still dirty, so what is read next is current.
    func refresh(site: ReportSite, period: ReportPeriod) async throws {
        let gap = Double(config.aggregation.visitGapMinutes * 60)
        _ = try await store.recompute(
            try await store.dirtyDays(limit: .max).filter { $0.site == site.id && $0.day >= period.from && $0.day <= period.to }, gap: gap)
    }

    public func report(_ definition: ReportDefinition, site: ReportSite, period: ReportPeriod, limit: Int) async throws -> ReportTable {
        try await refresh(site: site, period: period)
        var table = ReportTable(
            report: definition.id, title: definition.title, site: site, period: period, generatedAt: clock.now(),
            dimension: definition.dimension,
            columns: definition.columns.map { .init(id: $0.id, title: $0.title, format: $0.format) }, rows: [])
        switch definition.id.rawValue {
        case "summary":
            let days = try await store.dailySummaries(site: site.id, from: period.from, to: period.to)
            let total = days.values.reduce(Metrics()) { $0 + $1.metrics }
            let bots = days.values.reduce(0) { $0 + $1.botHits }
            let unique = try await store.uniqueVisitors(site: site.id, from: period.from, to: period.to, zone: site.timeZone)
            table.columns = Self.summaryColumns
            table.rows = [.init(label: period.description, values: Self.summaryValues(total, uniqueVisitors: unique, botHits: bots))]
        case "ecommerce":
            let rows = try await store.periodRows(site: site.id, report: "ecommerce", from: period.from, to: period.to)
            let total = rows.reduce(Metrics()) { $0 + $1.1 }
            let visits = try await store.dailySummaries(site: site.id, from: period.from, to: period.to).values.reduce(0) { $0 + $1.metrics.visits }
            // Matomo's ecommerce conversion rate: the share of visits with an order.
            let rate = visits == 0 ? 0 : (1000 * Double(total.visits) / Double(visits)).rounded() / 10
            table.columns.insert(.init(id: "conversion_rate", title: "Conversion rate", format: .percent), at: 4)
            var values = definition.columns.map { $0.value(total) }
            values.insert(rate, at: 4)
            table.rows = [.init(label: period.description, values: values)]
        case "evolution":
            let days = try await store.dailySummaries(site: site.id, from: period.from, to: period.to)
            table.columns = Self.summaryColumns
            table.rows = period.days.map { day in
                let entry = days[day]
                return .init(label: day.description, values: Self.summaryValues(entry?.metrics ?? Metrics(), uniqueVisitors: entry?.uniqueVisitors ?? 0, botHits: entry?.botHits ?? 0))
            }
        default:
            let rows = try await store.periodRows(site: site.id, report: definition.id.rawValue, from: period.from, to: period.to)
            let main = definition.columns.first
            let sorted = rows.sorted { a, b in
                if definition.order == .mainMetric, let main {
                    let (x, y) = (main.value(a.1), main.value(b.1))
                    if x != y { return x > y }
                }
                return a.0 < b.0
            }
            var kept = Array(sorted.prefix(limit))
            if sorted.count > limit {
                let rest = sorted.dropFirst(limit).reduce(Metrics()) { $0 + $1.1 }
                kept.append((ReportTable.othersLabel, rest))
            }
            table.rows = kept.map { label, metrics in .init(label: label, values: definition.columns.map { $0.value(metrics) }) }
        }
        return table
    }
}
