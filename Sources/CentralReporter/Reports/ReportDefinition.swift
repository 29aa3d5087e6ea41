import TallyCore

/// Report ids: an open set, so a newer central can add reports an older client lists without breaking.
public struct ReportID: OpenSetValue {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
}

/// A column of a report: its id (the CSV and JSON key), its title in text output, and how it is
/// computed from a row's metrics.
public struct ReportColumn: Sendable {
    public enum Format: Sendable { case integer, decimal, percent, duration }

    public let id: String
    public let title: String
    public let format: Format
    let value: @Sendable (Metrics) -> Double

    static let visits = ReportColumn(id: "visits", title: "Visits", format: .integer) { Double($0.visits) }
    static let actions = ReportColumn(id: "actions", title: "Actions", format: .integer) { Double($0.actions) }
    static let pageviews = ReportColumn(id: "pageviews", title: "Pageviews", format: .integer) { Double($0.pageviews) }
    static let uniquePageviews = ReportColumn(id: "unique_pageviews", title: "Unique pageviews", format: .integer) { Double($0.uniquePageviews) }
    static let bounceRate = ReportColumn(id: "bounce_rate", title: "Bounce rate", format: .percent) {
        $0.visits == 0 ? 0 : (1000 * Double($0.bounces) / Double($0.visits)).rounded() / 10
    }
    static let averageDuration = ReportColumn(id: "avg_visit_duration", title: "Avg. duration", format: .duration) {
        $0.visits == 0 ? 0 : (Double($0.visitSeconds) / Double($0.visits)).rounded()
    }
    static let actionsPerVisit = ReportColumn(id: "actions_per_visit", title: "Actions/visit", format: .decimal) {
        $0.visits == 0 ? 0 : (100 * Double($0.actions) / Double($0.visits)).rounded() / 100
    }
    static let entrances = ReportColumn(id: "entrances", title: "Entrances", format: .integer) { Double($0.visits) }
    static let exits = ReportColumn(id: "exits", title: "Exits", format: .integer) { Double($0.visits) }
    static let events = ReportColumn(id: "events", title: "Events", format: .integer) { Double($0.hits) }
    static let eventValue = ReportColumn(id: "event_value", title: "Value", format: .decimal) { ($0.value * 100).rounded() / 100 }
    static let searches = ReportColumn(id: "searches", title: "Searches", format: .integer) { Double($0.hits) }
    static let clicks = ReportColumn(id: "clicks", title: "Clicks", format: .integer) { Double($0.hits) }
    static let conversions = ReportColumn(id: "conversions", title: "Conversions", format: .integer) { Double($0.hits) }
    static let revenue = ReportColumn(id: "revenue", title: "Revenue", format: .decimal) { ($0.value * 100).rounded() / 100 }
    static let uniqueVisits = ReportColumn(id: "visits", title: "Visits", format: .integer) { Double($0.visits) }
    static let orders = ReportColumn(id: "orders", title: "Orders", format: .integer) { Double($0.hits) }
    static let averageOrderValue = ReportColumn(id: "avg_order_value", title: "Avg. order value", format: .decimal) {
        $0.hits == 0 ? 0 : ($0.value / Double($0.hits) * 100).rounded() / 100
    }
    static let items = ReportColumn(id: "items", title: "Items", format: .integer) { Double($0.items) }
    static let abandonedCarts = ReportColumn(id: "abandoned_carts", title: "Abandoned carts", format: .integer) { Double($0.carts) }
    static let quantity = ReportColumn(id: "quantity", title: "Quantity", format: .integer) { Double($0.items) }
    static let averagePrice = ReportColumn(id: "avg_price", title: "Avg. price", format: .decimal) {
        $0.items == 0 ? 0 : ($0.value / Double($0.items) * 100).rounded() / 100
    }
    static let productViews = ReportColumn(id: "product_views", title: "Product views", format: .integer) { Double($0.pageviews) }
    static let botHits = ReportColumn(id: "hits", title: "Hits", format: .integer) { Double($0.hits) }
    static let impressions = ReportColumn(id: "impressions", title: "Impressions", format: .integer) { Double($0.hits) }
    static let interactions = ReportColumn(id: "interactions", title: "Interactions", format: .integer) { Double($0.items) }
    static let interactionRate = ReportColumn(id: "interaction_rate", title: "Interaction rate", format: .percent) {
        $0.hits == 0 ? 0 : (1000 * Double($0.items) / Double($0.hits)).rounded() / 10
    }
}

/// What each report counts (docs/reports.md describes every one).
public struct ReportDefinition: Sendable {
    public enum Order: Sendable { case mainMetric, label }

    public let id: ReportID
    public let title: String
    /// The heading of the label column.
    public let dimension: String
    public let columns: [ReportColumn]
    /// Rows are sorted by this metric (descending), then by label.
    public let order: Order

    static let visitColumns: [ReportColumn] = [.visits, .actions, .bounceRate, .averageDuration, .actionsPerVisit]
    static let productColumns: [ReportColumn] = [.revenue, .quantity, .orders, .averagePrice, .productViews]

    public static let all: [ReportDefinition] = [
        ReportDefinition(id: .init(rawValue: "summary"), title: "Summary", dimension: "Period", columns: [], order: .label),
        ReportDefinition(id: .init(rawValue: "pages"), title: "Pages", dimension: "Page URL", columns: [.pageviews, .uniquePageviews], order: .mainMetric),
        ReportDefinition(id: .init(rawValue: "entry_pages"), title: "Entry pages", dimension: "Page URL", columns: [.entrances, .bounceRate, .averageDuration], order: .mainMetric),
        ReportDefinition(id: .init(rawValue: "exit_pages"), title: "Exit pages", dimension: "Page URL", columns: [.exits], order: .mainMetric),
        ReportDefinition(id: .init(rawValue: "page_titles"), title: "Page titles", dimension: "Title", columns: [.pageviews, .uniquePageviews], order: .mainMetric),
        ReportDefinition(id: .init(rawValue: "referrer_types"), title: "Channel types", dimension: "Channel", columns: visitColumns, order: .mainMetric),
        ReportDefinition(id: .init(rawValue: "referrers"), title: "Referrers", dimension: "Referrer", columns: visitColumns, order: .mainMetric),
        ReportDefinition(id: .init(rawValue: "search_engines"), title: "Search engines", dimension: "Search engine", columns: visitColumns, order: .mainMetric),
        ReportDefinition(id: .init(rawValue: "social_networks"), title: "Social networks", dimension: "Social network", columns: visitColumns, order: .mainMetric),
        ReportDefinition(id: .init(rawValue: "websites"), title: "Websites", dimension: "Website", columns: visitColumns, order: .mainMetric),
        ReportDefinition(id: .init(rawValue: "ai_assistants"), title: "AI assistants", dimension: "AI assistant", columns: visitColumns, order: .mainMetric),
        ReportDefinition(id: .init(rawValue: "campaigns"), title: "Campaigns", dimension: "Campaign", columns: visitColumns, order: .mainMetric),
        ReportDefinition(id: .init(rawValue: "countries"), title: "Countries", dimension: "Country", columns: visitColumns, order: .mainMetric),
        ReportDefinition(id: .init(rawValue: "regions"), title: "Regions", dimension: "Region", columns: visitColumns, order: .mainMetric),
        ReportDefinition(id: .init(rawValue: "cities"), title: "Cities", dimension: "City", columns: visitColumns, order: .mainMetric),
        ReportDefinition(id: .init(rawValue: "browsers"), title: "Browsers", dimension: "Browser", columns: visitColumns, order: .mainMetric),
        ReportDefinition(id: .init(rawValue: "browser_families"), title: "Browsers (all versions)", dimension: "Browser", columns: visitColumns, order: .mainMetric),
        ReportDefinition(id: .init(rawValue: "os"), title: "Operating systems", dimension: "Operating system", columns: visitColumns, order: .mainMetric),
        ReportDefinition(id: .init(rawValue: "os_families"), title: "Operating systems (all versions)", dimension: "Operating system", columns: visitColumns, order: .mainMetric),
        ReportDefinition(id: .init(rawValue: "devices"), title: "Device types", dimension: "Device", columns: visitColumns, order: .mainMetric),
        ReportDefinition(id: .init(rawValue: "device_brands"), title: "Device brands", dimension: "Brand", columns: visitColumns, order: .mainMetric),
        ReportDefinition(id: .init(rawValue: "resolutions"), title: "Screen resolutions", dimension: "Resolution", columns: visitColumns, order: .mainMetric),
        ReportDefinition(id: .init(rawValue: "languages"), title: "Languages", dimension: "Language", columns: visitColumns, order: .mainMetric),
        ReportDefinition(id: .init(rawValue: "events"), title: "Events", dimension: "Category / action", columns: [.events, .uniqueVisits, .eventValue], order: .mainMetric),
        ReportDefinition(id: .init(rawValue: "event_categories"), title: "Event categories", dimension: "Category", columns: [.events, .uniqueVisits, .eventValue], order: .mainMetric),
        ReportDefinition(id: .init(rawValue: "event_actions"), title: "Event actions", dimension: "Action", columns: [.events, .uniqueVisits, .eventValue], order: .mainMetric),
        ReportDefinition(id: .init(rawValue: "event_names"), title: "Event names", dimension: "Name", columns: [.events, .uniqueVisits, .eventValue], order: .mainMetric),
        ReportDefinition(id: .init(rawValue: "site_search"), title: "Site search keywords", dimension: "Keyword", columns: [.searches, .uniqueVisits], order: .mainMetric),
        ReportDefinition(id: .init(rawValue: "outlinks"), title: "Outlinks", dimension: "Link", columns: [.clicks, .uniqueVisits], order: .mainMetric),
        ReportDefinition(id: .init(rawValue: "downloads"), title: "Downloads", dimension: "File", columns: [.clicks, .uniqueVisits], order: .mainMetric),
        ReportDefinition(id: .init(rawValue: "goals"), title: "Goals", dimension: "Goal", columns: [.conversions, .uniqueVisits, .revenue], order: .mainMetric),
        // Ecommerce: one row for the period; its conversion rate is computed against the period's visits.
        ReportDefinition(
            id: .init(rawValue: "ecommerce"), title: "Ecommerce", dimension: "Period",
            columns: [.orders, .revenue, .averageOrderValue, .items, .abandonedCarts], order: .label),
        ReportDefinition(id: .init(rawValue: "product_skus"), title: "Product SKUs", dimension: "SKU", columns: productColumns, order: .mainMetric),
        ReportDefinition(id: .init(rawValue: "product_names"), title: "Product names", dimension: "Product", columns: productColumns, order: .mainMetric),
        ReportDefinition(id: .init(rawValue: "product_categories"), title: "Product categories", dimension: "Category", columns: productColumns, order: .mainMetric),
        ReportDefinition(id: .init(rawValue: "contents"), title: "Contents", dimension: "Content name / piece", columns: [.impressions, .interactions, .interactionRate, .uniqueVisits], order: .mainMetric),
        ReportDefinition(id: .init(rawValue: "content_names"), title: "Content names", dimension: "Content name", columns: [.impressions, .interactions, .interactionRate, .uniqueVisits], order: .mainMetric),
        ReportDefinition(id: .init(rawValue: "content_pieces"), title: "Content pieces", dimension: "Content piece", columns: [.impressions, .interactions, .interactionRate, .uniqueVisits], order: .mainMetric),
        // Bots, under bots = "count_separately" (or bots=1): hits per bot name and category, not visits.
        ReportDefinition(id: .init(rawValue: "bots"), title: "Bots", dimension: "Bot (category)", columns: [.botHits], order: .mainMetric),
        ReportDefinition(id: .init(rawValue: "hours"), title: "Visits per hour (site time)", dimension: "Hour", columns: visitColumns, order: .label),
        ReportDefinition(id: .init(rawValue: "local_hours"), title: "Visits per hour (visitor's time)", dimension: "Hour", columns: visitColumns, order: .label),
        ReportDefinition(id: .init(rawValue: "evolution"), title: "Evolution", dimension: "Day", columns: [], order: .label),
    ]

    /// A report by id: one of `all`, or `dimensionN` (N from 1 to 999) for a site's custom dimension.
    public static func named(_ id: String) -> ReportDefinition? {
        if let known = all.first(where: { $0.id.rawValue == id }) { return known }
        guard id.hasPrefix("dimension"), let number = Int(id.dropFirst("dimension".count)), (1...999).contains(number),
              id == "dimension\(number)" else { return nil }
        return ReportDefinition(
            id: .init(rawValue: id), title: "Custom dimension \(number)", dimension: "Value",
            columns: [.visits, .actions], order: .mainMetric)
    }
}
