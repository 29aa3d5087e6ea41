/// The additive counts every report row is made of. Because visits end at midnight (site time), each
/// count of a period is the exact sum of its days' counts; only unique visitors are not additive.
public struct Metrics: Sendable, Equatable {
    public var visits = 0
    public var actions = 0
    public var bounces = 0
    public var visitSeconds = 0
    public var pageviews = 0
    public var uniquePageviews = 0
    /// Events, searches, clicks or conversions, depending on the report.
    public var hits = 0
    /// Event values or revenue, depending on the report.
    public var value = 0.0
    /// Ecommerce: items ordered (quantities), or interactions in the contents report.
    public var items = 0
    /// Ecommerce: abandoned carts (visits whose cart was updated and not ordered).
    public var carts = 0

    public init() {}

    public static func + (a: Metrics, b: Metrics) -> Metrics {
        var m = a
        m.visits += b.visits
        m.actions += b.actions
        m.bounces += b.bounces
        m.visitSeconds += b.visitSeconds
        m.pageviews += b.pageviews
        m.uniquePageviews += b.uniquePageviews
        m.hits += b.hits
        m.value += b.value
        m.items += b.items
        m.carts += b.carts
        return m
    }

    public static func += (a: inout Metrics, b: Metrics) { a = a + b }
}
