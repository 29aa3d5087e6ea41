import Foundation
import TallyCore

/// A site-day's aggregates: one table of rows per report, the day's unique visitors and their sketch.
public struct DayAggregate: Sendable, Equatable {
    /// report id → label → metrics
    public var rows: [String: [String: Metrics]] = [:]
    public var hitCount = 0
    public var uniqueVisitors = 0
    public var botHits = 0
    public var sketch = HyperLogLog()

    mutating func add(_ report: String, _ label: String, _ metrics: Metrics) {
        rows[report, default: [:]][label, default: Metrics()] += metrics
    }
}

/// Builds visits from a site-day's hits and counts every report's rows.
///
/// A visit is a run of one visitor's hits with gaps of at most `gap` that does not cross midnight in
/// the site's time zone (each day is aggregated alone; the daily visitor-id salt splits visits there
/// anyway). Actions are Matomo's: pageviews, events, site searches, outlinks, downloads and content
/// interactions; pings, content impressions, orders, cart updates, goal conversions and custom actions
/// are part of a visit without being actions; a bounce is a visit with at most one action. Aggregate-only
/// hits (`count_only`) add pageviews, events, orders and the like, never visits or visitors. Bot hits are
/// only counted as such.
public enum DayAggregator {
    static let actionKinds: Set<HitKind> = [.pageview, .event, .siteSearch, .outlink, .download, .contentInteraction]
    public static let unknown = "(unknown)"

    /// `countedOrders`: for the day's order ids, the time of the order that counts (the first one
    /// central received under that id); every other order hit with the id is a repeat and not counted.
    public static func aggregate(_ hits: [Hit], zone: TimeZone, gap: TimeInterval, countedOrders: [String: Int64] = [:]) -> DayAggregate {
        var day = DayAggregate()
        day.hitCount = hits.count
        var byVisitor: [String: [Hit]] = [:]
        var ordersSeen: Set<String> = []
        for hit in hits {
            if hit.kind == .ecommerceOrder {
                guard let order = hit.orderID, countedOrders[order] == hit.timestamp, ordersSeen.insert(order).inserted else { continue }
            }
            if hit.isBot {
                day.botHits += 1
                var bot = Metrics()
                bot.hits = 1
                let name = hit.botName ?? unknown
                day.add("bots", hit.botCategory.map { "\(name) (\($0))" } ?? name, bot)
            } else if let visitor = hit.visitorID, !hit.aggregateOnly {
                byVisitor[visitor, default: []].append(hit)
            } else {
                countActions(of: [hit], into: &day, visit: nil)
            }
        }
        day.uniqueVisitors = byVisitor.count
        for (visitor, hits) in byVisitor {
            day.sketch.insert(visitor)
            let sorted = hits.sorted { ($0.timestamp, $0.kind.rawValue) < ($1.timestamp, $1.kind.rawValue) }
            var current: [Hit] = []
            for hit in sorted {
                if let last = current.last, Double(hit.timestamp - last.timestamp) / 1000 > gap || hit.newVisit {
                    addVisit(current, into: &day, zone: zone)
                    current = []
                }
                current.append(hit)
            }
            if !current.isEmpty { addVisit(current, into: &day, zone: zone) }
        }
        return day
    }

    private static func addVisit(_ hits: [Hit], into day: inout DayAggregate, zone: TimeZone) {
        let first = hits[0]
        var visit = Metrics()
        visit.visits = 1
        visit.actions = hits.filter { actionKinds.contains($0.kind) }.count
        visit.bounces = visit.actions <= 1 ? 1 : 0
        visit.visitSeconds = Int((hits[hits.count - 1].timestamp - first.timestamp) / 1000)
        let pageviews = hits.filter { $0.kind == .pageview }
        visit.pageviews = pageviews.count
        visit.uniquePageviews = Set(pageviews.map { $0.url ?? unknown }).count

        day.add("summary", "", visit)
        let ordered = hits.contains { $0.kind == .ecommerceOrder }
        let lastCart = hits.last { $0.kind == .cartUpdate }
        if ordered || lastCart != nil {
            var ecommerce = Metrics()
            ecommerce.visits = ordered ? 1 : 0
            ecommerce.carts = ordered ? 0 : 1
            day.add("ecommerce", "", ecommerce)
        }
        if !ordered, let lastCart {
            // An abandoned cart is the visit's last cart update: its total and its items' quantities.
            var cart = Metrics()
            cart.visits = 1
            cart.hits = 1
            cart.value = lastCart.revenue ?? 0
            cart.items = lastCart.decodedItems.reduce(0) { $0 + $1.quantity }
            day.add("abandoned_carts", "", cart)
        }
        if ordered || hits.contains(where: { $0.kind == .goal }) {
            var converted = Metrics()
            converted.visits = 1
            day.add("conversions", "", converted)
        }
        var perVisit = visit
        perVisit.pageviews = 0
        perVisit.uniquePageviews = 0
        let referrerType = first.referrerType?.rawValue ?? ReferrerType.direct.rawValue
        day.add("referrer_types", referrerType, perVisit)
        day.add("referrers", first.referrerName ?? (referrerType == ReferrerType.direct.rawValue ? "(direct)" : unknown), perVisit)
        if first.referrerType == .campaign {
            day.add("campaigns", first.campaignName ?? first.campaignSource ?? first.campaignMedium ?? "(not set)", perVisit)
        }
        let channelReports: [ReferrerType: String] = [
            .searchEngine: "search_engines", .social: "social_networks", .aiAssistant: "ai_assistants", .website: "websites",
        ]
        if let type = first.referrerType, let report = channelReports[type] {
            day.add(report, first.referrerName ?? unknown, perVisit)
        }
        day.add("countries", first.country ?? unknown, perVisit)
        day.add("regions", first.region.map { "\(first.country ?? "?")-\($0)" } ?? unknown, perVisit)
        day.add("cities", first.city.map { "\($0), \(first.country ?? "?")" } ?? unknown, perVisit)
        day.add("browsers", [first.browser, first.browserVersion].compactMap { $0 }.joined(separator: " ").nonEmpty ?? unknown, perVisit)
        day.add("os", [first.os, first.osVersion].compactMap { $0 }.joined(separator: " ").nonEmpty ?? unknown, perVisit)
        day.add("browser_families", first.browser ?? unknown, perVisit)
        day.add("os_families", first.os ?? unknown, perVisit)
        day.add("devices", first.device?.rawValue ?? unknown, perVisit)
        day.add("device_brands", first.deviceBrand ?? unknown, perVisit)
        day.add("resolutions", first.resolution ?? unknown, perVisit)
        day.add("languages", first.language ?? unknown, perVisit)
        let hour = LocalDay.gregorian(zone).component(.hour, from: Date(millisecondsSince1970: first.timestamp))
        day.add("hours", String(format: "%02d", hour), perVisit)
        // The visitor's own clock (Matomo's h, m, s) at the visit's first hit: its hour only.
        let localHour = first.localTime.flatMap { Int($0.prefix(2)) }.flatMap { (0...23).contains($0) ? $0 : nil }
        day.add("local_hours", localHour.map { String(format: "%02d", $0) } ?? unknown, perVisit)
        // A visit-scope dimension takes the visit's last value, as Matomo updates it with each action.
        var visitDimensions: [Int: String] = [:]
        for hit in hits {
            for (key, value) in hit.dimensionValues where key.scope == "visit" { visitDimensions[key.id] = value }
        }
        for (id, value) in visitDimensions { day.add("dimension\(id)", value, perVisit) }
        if let entry = pageviews.first {
            day.add("entry_pages", entry.url ?? unknown, perVisit)
        }
        if let exit = pageviews.last {
            var exitVisit = Metrics()
            exitVisit.visits = 1
            day.add("exit_pages", exit.url ?? unknown, exitVisit)
        }
        countActions(of: hits, into: &day, visit: hits)
    }

    /// Page, title, event, search, link and goal rows. `visit` is nil for aggregate-only hits, which
    /// count but have no visit to be unique within.
    private static func countActions(of hits: [Hit], into day: inout DayAggregate, visit: [Hit]?) {
        var seen: Set<String> = []
        func once(_ key: String) -> Int {
            guard visit != nil else { return 0 }
            return seen.insert(key).inserted ? 1 : 0
        }
        for hit in hits {
            if actionKinds.contains(hit.kind) {
                for (key, value) in hit.dimensionValues where key.scope == "action" {
                    var m = Metrics()
                    m.actions = 1
                    m.visits = once("d\(key.id):" + value)
                    day.add("dimension\(key.id)", value, m)
                }
            }
            var m = Metrics()
            switch hit.kind {
            case .pageview:
                if hit.productSKU != nil || hit.productName != nil {
                    var view = Metrics()
                    view.pageviews = 1
                    if let sku = hit.productSKU { day.add("product_skus", sku, view) }
                    day.add("product_names", hit.productName ?? hit.productSKU ?? unknown, view)
                    if let category = hit.productCategory { day.add("product_categories", category, view) }
                }
                m.pageviews = 1
                if visit == nil { day.add("summary", "", m) }
                let url = hit.url ?? unknown
                m.uniquePageviews = once("p:" + url)
                day.add("pages", url, m)
                m.uniquePageviews = once("t:" + (hit.title ?? unknown))
                day.add("page_titles", hit.title ?? unknown, m)
            case .event:
                let label = [hit.eventCategory, hit.eventAction].compactMap { $0 }.joined(separator: " / ")
                m.hits = 1
                m.value = hit.eventValue ?? 0
                m.visits = once("e:" + label)
                day.add("events", label, m)
                // Each of the event's three dimensions on its own; items counts the events with a value.
                m.items = hit.eventValue == nil ? 0 : 1
                for (report, key, value) in [
                    ("event_categories", "ec:", hit.eventCategory), ("event_actions", "ea:", hit.eventAction), ("event_names", "en:", hit.eventName),
                ] {
                    m.visits = once(key + (value ?? unknown))
                    day.add(report, value ?? unknown, m)
                }
            case .siteSearch:
                let keyword = (hit.searchKeyword ?? "").lowercased()
                m.hits = 1
                m.visits = once("s:" + keyword)
                day.add("site_search", keyword.nonEmpty ?? "(empty)", m)
            case .outlink, .download:
                let report = hit.kind == .outlink ? "outlinks" : "downloads"
                m.hits = 1
                m.visits = once(report + ":" + (hit.linkURL ?? unknown))
                day.add(report, hit.linkURL ?? unknown, m)
            case .goal:
                m.hits = 1
                m.value = hit.revenue ?? 0
                day.add("conversions", "", m)
                m.visits = once("g:\(hit.goalID ?? 0)")
                day.add("goals", "goal \(hit.goalID ?? 0)", m)
            case .ecommerceOrder:
                let items = hit.decodedItems
                m.hits = 1
                m.value = hit.revenue ?? 0
                day.add("conversions", "", m)
                m.items = items.reduce(0) { $0 + $1.quantity }
                day.add("ecommerce", "", m)
                for (label, part) in [("subtotal", hit.subtotal), ("tax", hit.tax), ("shipping", hit.shipping), ("discount", hit.discount)] {
                    var amount = Metrics()
                    amount.hits = 1
                    amount.value = part ?? 0
                    day.add("order_amounts", label, amount)
                }
                // Per report and label, the order's lines are summed first: an order with two shirts of one
                // category is one order of that category, as in Matomo's product reports.
                var lines: [String: [String: Metrics]] = [:]
                for item in items {
                    var line = Metrics()
                    line.items = item.quantity
                    line.value = item.price * Double(item.quantity)
                    lines["product_skus", default: [:]][item.sku, default: Metrics()] += line
                    lines["product_names", default: [:]][item.name ?? item.sku, default: Metrics()] += line
                    for category in Set(item.categories) { lines["product_categories", default: [:]][category, default: Metrics()] += line }
                }
                for (report, labels) in lines {
                    for (label, var line) in labels {
                        line.hits = 1
                        day.add(report, label, line)
                    }
                }
            case .contentImpression, .contentInteraction:
                let label = [hit.contentName ?? unknown, hit.contentPiece].compactMap { $0 }.joined(separator: " / ")
                if hit.kind == .contentImpression { m.hits = 1 } else { m.items = 1 }
                m.visits = once("c:" + label)
                day.add("contents", label, m)
                m.visits = once("cn:" + (hit.contentName ?? unknown))
                day.add("content_names", hit.contentName ?? unknown, m)
                m.visits = once("cp:" + (hit.contentPiece ?? unknown))
                day.add("content_pieces", hit.contentPiece ?? unknown, m)
            default:
                break
            }
        }
    }
}

extension String {
    var nonEmpty: String? { isEmpty ? nil : self }
}

/// One line of an order as the edge recorded it in `ec_items`.
struct OrderItem: Decodable {
    var sku: String
    var name: String?
    var categories: [String]
    var price: Double
    var quantity: Int
}

extension Hit {
    /// The record's custom dimension values, by scope (`visit`, `action`) and id.
    var dimensionValues: [(key: (scope: Substring, id: Int), value: String)] {
        guard let dimensions, let values = try? JSONDecoder().decode([String: String].self, from: Data(dimensions.utf8)) else { return [] }
        return values.sorted { $0.key < $1.key }.compactMap { key, value in
            let parts = key.split(separator: ".")
            guard parts.count == 2, let id = Int(parts[1]), (1...999).contains(id) else { return nil }
            return ((parts[0], id), value)
        }
    }

    /// The order's lines; none when the record has no (readable) items.
    var decodedItems: [OrderItem] {
        guard let items, let lines = try? JSONDecoder().decode([OrderItem].self, from: Data(items.utf8)) else { return [] }
        return lines.filter { Hit.isStorable($0.price) && $0.quantity >= 0 }
    }
}
