import TrackingInput
import Foundation
import TallyCore

/// The Matomo tracking parameters of one request, validated and typed but not yet anonymised: the raw
/// URL, referrer and user id are still here, so this value is request-scoped like `IncomingRequest`.
/// Reference: https://developer.matomo.org/api-reference/tracking-api
public struct TrackingFields: Sendable {
    public var siteID: Int
    public var kind: HitKind
    public var timestamp: Int64
    public var url: String?
    public var title: String?
    public var referrer: String?
    public var clientVisitorID: String?
    public var userID: String?
    public var resolution: String?
    public var language: String?
    public var localTime: String?
    public var pageviewID: String?
    public var newVisit = false
    public var eventCategory: String?
    public var eventAction: String?
    public var eventName: String?
    public var eventValue: Double?
    public var searchKeyword: String?
    public var searchCategory: String?
    public var searchCount: Int?
    public var linkURL: String?
    public var goalID: Int?
    public var revenue: Double?
    /// Values of the site's declared custom dimensions, keyed `visit.N` / `action.N`.
    public var dimensions: [String: String] = [:]
    /// Content tracking: name, piece, target and interaction (`c_n`, `c_p`, `c_t`, `c_i`).
    public var contentName: String?
    public var contentPiece: String?
    public var contentTarget: String?
    public var contentInteraction: String?
    /// Ecommerce: order id, items, and the order's amounts (`ec_st`, `ec_tx`, `ec_sh`, `ec_dt`).
    public var orderID: String?
    public var items: [EcommerceItem]?
    public var subtotal: Double?
    public var tax: Double?
    public var shipping: Double?
    public var discount: Double?
    /// A product page view (`_pks`, `_pkn`, `_pkc`, `_pkp`).
    public var productSKU: String?
    public var productName: String?
    public var productCategory: String?
    public var productPrice: Double?
    /// `_rcn` / `_rck`: campaign name and keyword the JavaScript tracker remembered from an earlier visit.
    public var campaignName: String?
    public var campaignKeyword: String?
    /// `send_image=0` asks for 204 instead of the GIF.
    public var sendImage = true
    /// `consent=1`: the site's consent manager recorded the visitor's consent.
    public var consentGiven = false
    /// `bots=1`: the sender says this is a bot request to be counted as such, not dropped.
    public var countAsBot = false
    /// `cip`, honoured only with a valid `token_auth`.
    public var overrideIP: IPAddress?
    /// `country`, `region`, `city`: a location the sender knows (an app, a server-side import), honoured
    /// only with a valid `token_auth` and still cut to the site's geo precision.
    public var overrideLocation: GeoResult?
    public var tokenAuth: String?
    /// Values repaired rather than refused (the parameters' own repairs included), for `/metrics`.
    public var repairs: [InputRepair] = []
}

extension TrackingFields {
    /// Validates the parameters, refusing a hit only where Matomo refuses it: no `idsite` or `rec=1`, a
    /// site this edge does not have (`unknown_site`), `cid` that is not a visitor id, and `cip`, a custom
    /// time older than 24 hours or a location override without the site's token. Every other value that
    /// cannot be used is ignored (or cut, or clamped, as Matomo does) and the repair recorded.
    static func parse(_ p: QueryParameters, config: EdgeConfig, now: Date) throws(RequestRejection) -> (TrackingFields, SiteConfig) {
        guard let rawSite = p["idsite"] else { throw RequestRejection("idsite is required; add idsite=<site id>.") }
        guard let siteID = Int(rawSite), siteID > 0 else {
            throw RequestRejection("idsite=\(rawSite) is not a site id; use a positive whole number.")
        }
        guard let site = config.site(id: siteID) else {
            throw RequestRejection("idsite=\(siteID) is not a site on this edge; check the tracker's site id.", dropReason: .unknownSite)
        }
        guard p["rec"] == "1" else { throw RequestRejection("rec=1 is required for a tracking request.") }

        let tokenAuth = p["token_auth"]
        let authenticated = tokenAuth.map(site.accepts(token:)) ?? false

        var f = TrackingFields(siteID: siteID, kind: .pageview, timestamp: now.millisecondsSince1970)
        f.timestamp = try customTime(p, now: now, authenticated: authenticated, repairs: &f.repairs)
        if let cip = p["cip"].flatMap(nonEmpty) {
            guard authenticated else { throw RequestRejection("cip requires a valid token_auth for site \(siteID); drop cip or send the site's tracking token.") }
            guard let address = IPAddress(cip) else { throw RequestRejection("cip=\(cip) is not an IP address.") }
            f.overrideIP = address
        }
        let location = GeoResult(
            country: p["country"].flatMap(nonEmpty).map { $0.uppercased() }, region: p["region"].flatMap(nonEmpty),
            city: p["city"].flatMap(nonEmpty))
        if location != GeoResult() || p["lat"].flatMap(nonEmpty) != nil || p["long"].flatMap(nonEmpty) != nil {
            guard authenticated else {
                throw RequestRejection("country, region, city, lat and long require a valid token_auth for site \(siteID); drop them or send the site's tracking token.")
            }
            if let country = location.country, country.utf8.count != 2 || !country.utf8.allSatisfy(ASCII.isAlphanumeric) {
                throw RequestRejection("country=\(country) is not a two-letter country code such as fr.")
            }
            // Coordinates are never stored: the place's name at the site's precision is all a report needs.
            if location != GeoResult() { f.overrideLocation = location }
        }
        f.tokenAuth = tokenAuth
        f.url = p["url"].flatMap(nonEmpty).map { unwrapped($0, &f.repairs) }
        f.title = p["action_name"].flatMap(nonEmpty)
        f.referrer = p["urlref"].flatMap(nonEmpty).map { unwrapped($0, &f.repairs) }
        if let ua = p["ua"], QueryParameters.unwrappingBytesLiteral(ua) != nil { f.repairs.note(.bytesLiteral) }
        if let cid = p["cid"].flatMap(nonEmpty) {
            guard cid.utf8.count == 16, cid.utf8.allSatisfy(ASCII.isHexDigit) else {
                throw RequestRejection("cid=\(cid) is not a visitor id; use 16 hex digits, as Matomo's setVisitorId does.")
            }
            f.clientVisitorID = cid.lowercased()
        } else if let id = p["_id"].flatMap(nonEmpty) {
            // Matomo reads the first 16 characters of a longer _id and ignores a shorter one.
            let head = id.utf8.prefix(16)
            if head.count == 16, head.allSatisfy(ASCII.isHexDigit) {
                f.clientVisitorID = String(decoding: head, as: UTF8.self).lowercased()
            } else {
                f.repairs.note(.unusableValue)
            }
        }
        f.userID = p["uid"].flatMap(nonEmpty)
        if let res = p["res"].flatMap(nonEmpty) {
            let parts = res.utf8.split { $0 == UInt8(ascii: "x") || $0 == UInt8(ascii: "X") }
            if parts.count == 2, let w = ASCII.integer(parts[0]), let h = ASCII.integer(parts[1]),
               (1...100_000).contains(w), (1...100_000).contains(h) {
                f.resolution = "\(w)x\(h)"
            } else {
                f.repairs.note(.unusableValue)
            }
        }
        f.language = p["lang"].flatMap(nonEmpty)
        if p["h"] != nil || p["m"] != nil || p["s"] != nil {
            // Matomo reads each part as a number and puts 0 for one out of range.
            let parts = ["h", "m", "s"].compactMap { p[$0].flatMap { Int($0) } }
            if parts.count == 3 {
                let clamped = zip(parts, [23, 59, 59]).map { value, top in (0...top).contains(value) ? value : 0 }
                if clamped != parts { f.repairs.note(.unusableValue) }
                f.localTime = clamped.map(twoDigits).joined(separator: ":")
            } else {
                f.repairs.note(.unusableValue)
            }
        }
        if let pv = p["pv_id"].flatMap(nonEmpty) {
            if pv.utf8.count <= 32, pv.utf8.allSatisfy(ASCII.isAlphanumeric) {
                f.pageviewID = pv
            } else {
                f.repairs.note(.unusableValue)
            }
        }
        f.newVisit = p["new_visit"] == "1"
        f.sendImage = p["send_image"] != "0"
        f.consentGiven = p["consent"] == "1"
        f.countAsBot = p["bots"] == "1"
        f.campaignName = p["_rcn"].flatMap(nonEmpty)?.lowercased()
        f.campaignKeyword = p["_rck"].flatMap(nonEmpty)?.lowercased()

        // The kind, in Matomo's order: a heartbeat is no action; a goal conversion or an ecommerce request
        // records no action; of the actions a request could be, a download wins over an outlink, an
        // outlink over an event, an event over content, content over a site search; then a request
        // marked ca=1 is a custom action, and a pageview is what remains (core/Tracker/Action.php).
        let goalText = p["idgoal"].flatMap(nonEmpty)
        let goal = goalText.flatMap { Int($0) }.flatMap { (0...Int(Int32.max)).contains($0) ? $0 : nil }
        if goalText != nil, goal == nil { f.repairs.note(.unusableValue) }
        if p["ping"] == "1" {
            f.kind = .ping
        } else if goal == 0 {
            // Ecommerce (core/Tracker/GoalManager.php): an order with ec_id, else a cart update.
            f.kind = p["ec_id"].flatMap(nonEmpty) == nil ? .cartUpdate : .ecommerceOrder
            f.orderID = p["ec_id"].flatMap(nonEmpty)
            f.subtotal = amount(p["ec_st"], &f.repairs)
            f.tax = amount(p["ec_tx"], &f.repairs)
            f.shipping = amount(p["ec_sh"], &f.repairs)
            f.discount = amount(p["ec_dt"], &f.repairs)
            if let text = p["ec_items"].flatMap(nonEmpty) {
                if let items = EcommerceItem.parse(text) { f.items = items } else { f.repairs.note(.unusableValue) }
            }
        } else if let goal, goal > 0 {
            f.kind = .goal
            f.goalID = goal
        } else if let link = p["download"].flatMap(nonEmpty) {
            f.kind = .download
            f.linkURL = link
        } else if let link = p["link"].flatMap(nonEmpty) {
            f.kind = .outlink
            f.linkURL = link
        } else if let category = p["e_c"].flatMap(nonEmpty), let action = p["e_a"].flatMap(nonEmpty) {
            f.kind = .event
            f.eventCategory = category
            f.eventAction = action
            f.eventName = p["e_n"].flatMap(nonEmpty)
            // A value that is not a number, or not a storable one (1e308, inf), is dropped and the event
            // kept, as Matomo keeps an event whose value it cannot use.
            if let value = p["e_v"].flatMap(nonEmpty) {
                if let number = Double(value), Hit.isStorable(number) {
                    f.eventValue = number
                } else {
                    f.repairs.note(.numberOutOfRange)
                }
            }
        } else if let name = p["c_n"].flatMap(nonEmpty) {
            f.contentName = name
            f.contentPiece = p["c_p"].flatMap(nonEmpty)
            f.contentTarget = p["c_t"].flatMap(nonEmpty)
            f.contentInteraction = p["c_i"].flatMap(nonEmpty)
            f.kind = f.contentInteraction == nil ? .contentImpression : .contentInteraction
        } else if let keyword = p["search"].map(TextCleaning.trimmingSpaces).flatMap(nonEmpty) {
            f.kind = .siteSearch
            f.searchKeyword = keyword
            f.searchCategory = p["search_cat"].map(TextCleaning.trimmingSpaces).flatMap(nonEmpty)
            if let count = p["search_count"].flatMap(nonEmpty) {
                if let n = Int(count), n >= 0 {
                    f.searchCount = n
                } else {
                    f.repairs.note(.unusableValue)
                }
            }
        } else if p["ca"] == "1" {
            // ca=1 says "not a pageview" (MatomoTracker.php also sends it with events and content); what
            // no other rule claims is a custom action, such as a crash report.
            f.kind = .customAction
        }
        f.revenue = amount(p["revenue"], &f.repairs)
        if f.kind == .pageview, p["_pks"].flatMap(nonEmpty) != nil || p["_pkn"].flatMap(nonEmpty) != nil {
            f.productSKU = p["_pks"].flatMap(nonEmpty)
            f.productName = p["_pkn"].flatMap(nonEmpty)
            f.productCategory = p["_pkc"].flatMap(nonEmpty).flatMap(productCategory)
            f.productPrice = amount(p["_pkp"], &f.repairs)
        }
        f.dimensions = CustomDimension.values(in: p, declared: site.dimensions, repairs: &f.repairs)
        for repair in p.repairs { f.repairs.note(repair) }
        return (f, site)
    }

    /// The hit's time from Matomo's `cdt` (a Unix time or a UTC date and time) and `cdo` (seconds to
    /// subtract, from `cdt` or from now). A time in the future or more than 20 years back is ignored and
    /// the hit tracked now; a time more than 24 hours old needs the site's token, as in Matomo
    /// (`tracking_requests_require_authentication_when_custom_timestamp_newer_than`).
    static func customTime(_ p: QueryParameters, now: Date, authenticated: Bool, repairs: inout [InputRepair]) throws(RequestRejection) -> Int64 {
        let cdt = p["cdt"].flatMap(nonEmpty)
        let cdo = p["cdo"].flatMap(nonEmpty)
        guard cdt != nil || cdo != nil else { return now.millisecondsSince1970 }
        var time = now
        if let cdt {
            guard let date = parseCustomTime(cdt) else {
                repairs.note(.unusableValue)
                return now.millisecondsSince1970
            }
            time = date
        }
        if let cdo {
            guard let offset = Int(cdo), offset.magnitude <= 20 * 365 * 86_400 else {
                repairs.note(.unusableValue)
                return now.millisecondsSince1970
            }
            time = time.addingTimeInterval(-Double(offset.magnitude))
        }
        guard time <= now else {
            repairs.note(.futureTime)
            return now.millisecondsSince1970
        }
        let age = now.timeIntervalSince(time)
        guard age < 20 * 365 * 86_400 else {
            repairs.note(.unusableValue)
            return now.millisecondsSince1970
        }
        if age > 86_400, !authenticated {
            throw RequestRejection("cdt=\(cdt ?? "now") with cdo=\(cdo ?? "0") is more than 24 hours old, which requires a valid token_auth.")
        }
        return time.millisecondsSince1970
    }

    private static func unwrapped(_ text: String, _ repairs: inout [InputRepair]) -> String {
        guard let inner = QueryParameters.unwrappingBytesLiteral(text) else { return text }
        repairs.note(.bytesLiteral)
        return inner
    }

    /// A non-negative amount (revenue, tax, a price); an unusable one is dropped and the repair noted.
    private static func amount(_ text: String?, _ repairs: inout [InputRepair]) -> Double? {
        guard let text = text.flatMap(nonEmpty) else { return nil }
        guard let number = Double(text), number >= 0, Hit.isStorable(number) else {
            repairs.note(.numberOutOfRange)
            return nil
        }
        return number
    }

    /// `_pkc`: a category, or a JSON array of up to five (the first is kept for the product view).
    private static func productCategory(_ text: String) -> String? {
        guard text.hasPrefix("["), let list = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [Any] else { return text }
        return list.compactMap { $0 as? String }.first { !$0.isEmpty }
    }

    private static func nonEmpty(_ s: String) -> String? { s.isEmpty ? nil : s }

    /// Matomo's `cdt`: a Unix timestamp (seconds), "YYYY-MM-DD HH:MM:SS" in UTC, or ISO 8601 with a zone.
    static func parseCustomTime(_ text: String) -> Date? {
        if let seconds = Double(text), seconds.isFinite, seconds > 0, seconds < 1e11 { return Date(timeIntervalSince1970: seconds) }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
        if let date = formatter.date(from: text) { return date }
        return ISO8601DateFormatter().date(from: text)
    }
}

extension [InputRepair] {
    /// Records a repair once.
    mutating func note(_ repair: InputRepair) {
        if !contains(repair) { append(repair) }
    }
}
