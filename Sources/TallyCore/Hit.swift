import Foundation

/// The anonymised record of one tracking request: everything Tally keeps, and nothing else.
///
/// Every field here is stored in the edge buffer, shipped in batches and kept by central, so a field
/// belongs here only if the privacy policy allows it. The full IP address, the raw user agent and the
/// visitor-hash salts have no field: they exist only in the edge's request-scoped values.
public struct Hit: Codable, Sendable, Equatable {
    /// Format version of this record; bumped when a field changes meaning.
    public static let formatVersion = 1

    public var siteID: Int
    public var kind: HitKind
    /// When the hit happened, in milliseconds since 1970 UTC.
    public var timestamp: Int64
    /// `true` for records kept under `count_only` (DNT/GPC or missing consent): counted in page and event
    /// totals, never in visits or visitors; no visitor id, user id, region, city or user-agent detail.
    public var aggregateOnly: Bool = false
    /// `true` when the request came from a bot and the policy counts bots separately.
    public var isBot: Bool = false
    /// 64-bit keyed hash (16 hex digits) of site, full IP and user agent under the current salt.
    public var visitorID: String?
    /// The user id after the policy's `user_id` mode: absent, a keyed hash, or kept as sent.
    public var userID: String?
    /// Matomo's `new_visit=1`: the client asks for a new visit to start here.
    public var newVisit: Bool = false
    /// Matomo's 6-character page view id (`pv_id`), which ties pings and events to their page view.
    public var pageviewID: String?

    public var url: String?
    public var title: String?

    public var referrerType: ReferrerType?
    public var referrerName: String?
    public var referrerURL: String?

    public var campaignName: String?
    public var campaignSource: String?
    public var campaignMedium: String?
    public var campaignKeyword: String?
    public var campaignContent: String?

    /// ISO 3166-1 alpha-2 country code.
    public var country: String?
    /// ISO 3166-2 subdivision code (without the country prefix), as in GeoIP2.
    public var region: String?
    public var city: String?
    /// The truncated IP address, stored only when the policy's `store_masked_ip` is on.
    public var maskedIP: String?

    public var browser: String?
    public var browserVersion: String?
    public var os: String?
    public var osVersion: String?
    public var device: DeviceType?
    /// The device's brand as Matomo's device-detector names it ("Apple", "Samsung"); never the model.
    public var deviceBrand: String?
    /// For bots: the bot's name and category from the detection databases (the bots report).
    public var botName: String?
    public var botCategory: String?
    /// Screen resolution as `WIDTHxHEIGHT`.
    public var resolution: String?
    /// Primary language tag, lower case (`de`, `pt-br`).
    public var language: String?
    /// The visitor's local time of day, `HH:MM:SS`, from Matomo's `h`, `m`, `s`.
    public var localTime: String?

    public var eventCategory: String?
    public var eventAction: String?
    public var eventName: String?
    public var eventValue: Double?

    public var searchKeyword: String?
    public var searchCategory: String?
    public var searchCount: Int?

    /// Target of an outlink or download.
    public var linkURL: String?
    public var goalID: Int?
    /// A goal's revenue, an order's grand total, or a cart's total.
    public var revenue: Double?

    /// Content tracking: the block's name, piece and target, and the interaction (`click`…) if any.
    public var contentName: String?
    public var contentPiece: String?
    public var contentTarget: String?
    public var contentInteraction: String?

    /// Ecommerce: the order id (`ec_id`), the items of an order or cart as canonical JSON
    /// (`[{"sku":…,"name":…,"categories":[…],"price":…,"quantity":…}]`), and the order's sub-total, tax,
    /// shipping and discount.
    public var orderID: String?
    public var items: String?
    public var subtotal: Double?
    public var tax: Double?
    public var shipping: Double?
    public var discount: Double?

    /// Custom dimensions the site declares, as canonical JSON keyed by scope and id:
    /// `{"action.3":"Blue","visit.1":"Pro"}` (from `dimensionN`, `_cvar` and `cvar`).
    public var dimensions: String?

    /// A product page view (`_pks`, `_pkn`, `_pkc`, `_pkp`).
    public var productSKU: String?
    public var productName: String?
    public var productCategory: String?
    public var productPrice: Double?

    public init(siteID: Int, kind: HitKind, timestamp: Int64) {
        self.siteID = siteID
        self.kind = kind
        self.timestamp = timestamp
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case siteID = "site_id", kind, timestamp = "ts", aggregateOnly = "aggregate_only", isBot = "bot"
        case visitorID = "visitor_id", userID = "user_id", newVisit = "new_visit", pageviewID = "pv_id"
        case url, title
        case referrerType = "ref_type", referrerName = "ref_name", referrerURL = "ref_url"
        case campaignName = "cmp_name", campaignSource = "cmp_source", campaignMedium = "cmp_medium"
        case campaignKeyword = "cmp_keyword", campaignContent = "cmp_content"
        case country, region, city, maskedIP = "masked_ip"
        case browser, browserVersion = "browser_version", os, osVersion = "os_version", device
        case resolution, language, localTime = "local_time"
        case eventCategory = "e_c", eventAction = "e_a", eventName = "e_n", eventValue = "e_v"
        case searchKeyword = "search", searchCategory = "search_cat", searchCount = "search_count"
        case linkURL = "link", goalID = "goal_id", revenue
        case contentName = "c_n", contentPiece = "c_p", contentTarget = "c_t", contentInteraction = "c_i"
        case orderID = "ec_id", items = "ec_items", subtotal = "ec_st", tax = "ec_tx", shipping = "ec_sh", discount = "ec_dt"
        case productSKU = "pk_sku", productName = "pk_name", productCategory = "pk_cat", productPrice = "pk_price"
        case dimensions = "dims"
        case deviceBrand = "brand", botName = "bot_name", botCategory = "bot_cat"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        siteID = try c.decode(Int.self, forKey: .siteID)
        kind = try c.decode(HitKind.self, forKey: .kind)
        timestamp = try c.decode(Int64.self, forKey: .timestamp)
        aggregateOnly = try c.decodeIfPresent(Bool.self, forKey: .aggregateOnly) ?? false
        isBot = try c.decodeIfPresent(Bool.self, forKey: .isBot) ?? false
        visitorID = try c.decodeIfPresent(String.self, forKey: .visitorID)
        userID = try c.decodeIfPresent(String.self, forKey: .userID)
        newVisit = try c.decodeIfPresent(Bool.self, forKey: .newVisit) ?? false
        pageviewID = try c.decodeIfPresent(String.self, forKey: .pageviewID)
        url = try c.decodeIfPresent(String.self, forKey: .url)
        title = try c.decodeIfPresent(String.self, forKey: .title)
        referrerType = try c.decodeIfPresent(ReferrerType.self, forKey: .referrerType)
        referrerName = try c.decodeIfPresent(String.self, forKey: .referrerName)
        referrerURL = try c.decodeIfPresent(String.self, forKey: .referrerURL)
        campaignName = try c.decodeIfPresent(String.self, forKey: .campaignName)
        campaignSource = try c.decodeIfPresent(String.self, forKey: .campaignSource)
        campaignMedium = try c.decodeIfPresent(String.self, forKey: .campaignMedium)
        campaignKeyword = try c.decodeIfPresent(String.self, forKey: .campaignKeyword)
        campaignContent = try c.decodeIfPresent(String.self, forKey: .campaignContent)
        country = try c.decodeIfPresent(String.self, forKey: .country)
        region = try c.decodeIfPresent(String.self, forKey: .region)
        city = try c.decodeIfPresent(String.self, forKey: .city)
        maskedIP = try c.decodeIfPresent(String.self, forKey: .maskedIP)
        browser = try c.decodeIfPresent(String.self, forKey: .browser)
        browserVersion = try c.decodeIfPresent(String.self, forKey: .browserVersion)
        os = try c.decodeIfPresent(String.self, forKey: .os)
        osVersion = try c.decodeIfPresent(String.self, forKey: .osVersion)
        device = try c.decodeIfPresent(DeviceType.self, forKey: .device)
        resolution = try c.decodeIfPresent(String.self, forKey: .resolution)
        language = try c.decodeIfPresent(String.self, forKey: .language)
        localTime = try c.decodeIfPresent(String.self, forKey: .localTime)
        eventCategory = try c.decodeIfPresent(String.self, forKey: .eventCategory)
        eventAction = try c.decodeIfPresent(String.self, forKey: .eventAction)
        eventName = try c.decodeIfPresent(String.self, forKey: .eventName)
        eventValue = try c.decodeIfPresent(Double.self, forKey: .eventValue)
        searchKeyword = try c.decodeIfPresent(String.self, forKey: .searchKeyword)
        searchCategory = try c.decodeIfPresent(String.self, forKey: .searchCategory)
        searchCount = try c.decodeIfPresent(Int.self, forKey: .searchCount)
        linkURL = try c.decodeIfPresent(String.self, forKey: .linkURL)
        goalID = try c.decodeIfPresent(Int.self, forKey: .goalID)
        revenue = try c.decodeIfPresent(Double.self, forKey: .revenue)
        contentName = try c.decodeIfPresent(String.self, forKey: .contentName)
        contentPiece = try c.decodeIfPresent(String.self, forKey: .contentPiece)
        contentTarget = try c.decodeIfPresent(String.self, forKey: .contentTarget)
        contentInteraction = try c.decodeIfPresent(String.self, forKey: .contentInteraction)
        orderID = try c.decodeIfPresent(String.self, forKey: .orderID)
        items = try c.decodeIfPresent(String.self, forKey: .items)
        subtotal = try c.decodeIfPresent(Double.self, forKey: .subtotal)
        tax = try c.decodeIfPresent(Double.self, forKey: .tax)
        shipping = try c.decodeIfPresent(Double.self, forKey: .shipping)
        discount = try c.decodeIfPresent(Double.self, forKey: .discount)
        productSKU = try c.decodeIfPresent(String.self, forKey: .productSKU)
        productName = try c.decodeIfPresent(String.self, forKey: .productName)
        productCategory = try c.decodeIfPresent(String.self, forKey: .productCategory)
        productPrice = try c.decodeIfPresent(Double.self, forKey: .productPrice)
        dimensions = try c.decodeIfPresent(String.self, forKey: .dimensions)
        deviceBrand = try c.decodeIfPresent(String.self, forKey: .deviceBrand)
        botName = try c.decodeIfPresent(String.self, forKey: .botName)
        botCategory = try c.decodeIfPresent(String.self, forKey: .botCategory)
    }
}

extension Hit {
    /// The record's canonical JSON: sorted keys, absent fields left out, slashes unescaped, so equal records
    /// encode to equal bytes (what the buffer stores and what batches carry). Written field by field rather
    /// than through `JSONEncoder`, which costs several times more per hit; the output is byte for byte
    /// what `JSONEncoder` with `.sortedKeys` and `.withoutEscapingSlashes` writes (HitJSONTests checks it).
    public func encodedJSON() throws -> Data {
        var w = CanonicalJSONWriter()
        w.bool("aggregate_only", aggregateOnly)
        w.bool("bot", isBot)
        w.string("bot_cat", botCategory)
        w.string("bot_name", botName)
        w.string("brand", deviceBrand)
        w.string("browser", browser)
        w.string("browser_version", browserVersion)
        w.string("c_i", contentInteraction)
        w.string("c_n", contentName)
        w.string("c_p", contentPiece)
        w.string("c_t", contentTarget)
        w.string("city", city)
        w.string("cmp_content", campaignContent)
        w.string("cmp_keyword", campaignKeyword)
        w.string("cmp_medium", campaignMedium)
        w.string("cmp_name", campaignName)
        w.string("cmp_source", campaignSource)
        w.string("country", country)
        w.string("device", device?.rawValue)
        w.string("dims", dimensions)
        w.string("e_a", eventAction)
        w.string("e_c", eventCategory)
        w.string("e_n", eventName)
        try w.double("e_v", eventValue)
        try w.double("ec_dt", discount)
        w.string("ec_id", orderID)
        w.string("ec_items", items)
        try w.double("ec_sh", shipping)
        try w.double("ec_st", subtotal)
        try w.double("ec_tx", tax)
        w.integer("goal_id", goalID.map(Int64.init))
        w.string("kind", kind.rawValue)
        w.string("language", language)
        w.string("link", linkURL)
        w.string("local_time", localTime)
        w.string("masked_ip", maskedIP)
        w.bool("new_visit", newVisit)
        w.string("os", os)
        w.string("os_version", osVersion)
        w.string("pk_cat", productCategory)
        w.string("pk_name", productName)
        try w.double("pk_price", productPrice)
        w.string("pk_sku", productSKU)
        w.string("pv_id", pageviewID)
        w.string("ref_name", referrerName)
        w.string("ref_type", referrerType?.rawValue)
        w.string("ref_url", referrerURL)
        w.string("region", region)
        w.string("resolution", resolution)
        try w.double("revenue", revenue)
        w.string("search", searchKeyword)
        w.string("search_cat", searchCategory)
        w.integer("search_count", searchCount.map(Int64.init))
        w.integer("site_id", Int64(siteID))
        w.string("title", title)
        w.integer("ts", timestamp)
        w.string("url", url)
        w.string("user_id", userID)
        w.string("visitor_id", visitorID)
        return w.finish()
    }

    public static func decodeJSON(_ data: Data) throws -> Hit {
        try readJSON(data)
    }
}

/// Writes one flat JSON object, keys in the order they are given (the caller gives them sorted).
struct CanonicalJSONWriter {
    struct NonFiniteNumber: Error, CustomStringConvertible {
        let key: String
        var description: String { "\(key) is not a finite number and has no JSON form" }
    }

    private static let hex = Array("0123456789abcdef".utf8)
    private var bytes: [UInt8] = []

    init() {
        bytes.reserveCapacity(512)
        bytes.append(UInt8(ascii: "{"))
    }

    private mutating func key(_ name: StaticString) {
        if bytes.count > 1 { bytes.append(UInt8(ascii: ",")) }
        bytes.append(UInt8(ascii: "\""))
        name.withUTF8Buffer { bytes.append(contentsOf: $0) }
        bytes.append(UInt8(ascii: "\""))
        bytes.append(UInt8(ascii: ":"))
    }

    mutating func bool(_ name: StaticString, _ value: Bool) {
        key(name)
        let literal: StaticString = value ? "true" : "false"
        literal.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    mutating func integer(_ name: StaticString, _ value: Int64?) {
        guard let value else { return }
        key(name)
        bytes.append(contentsOf: String(value).utf8)
    }

    /// As `JSONEncoder`: Swift's shortest round-trip form, without a trailing `.0`.
    mutating func double(_ name: StaticString, _ value: Double?) throws {
        guard let value else { return }
        guard value.isFinite else { throw NonFiniteNumber(key: "\(name)") }
        key(name)
        var text = value.description
        if text.hasSuffix(".0") { text.removeLast(2) }
        bytes.append(contentsOf: text.utf8)
    }

    /// Escapes quotes, backslashes and control characters (`\b \t \n \f \r` by name, the others as
    /// `\u00xx`); everything else, slashes and non-ASCII included, is copied as UTF-8.
    mutating func string(_ name: StaticString, _ value: String?) {
        guard var value else { return }
        key(name)
        bytes.append(UInt8(ascii: "\""))
        value.withUTF8 { utf8 in
            var start = 0
            for (index, byte) in utf8.enumerated() where byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
                bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start..<index]))
                start = index + 1
                bytes.append(UInt8(ascii: "\\"))
                switch byte {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"): bytes.append(byte)
                case 0x08: bytes.append(UInt8(ascii: "b"))
                case 0x09: bytes.append(UInt8(ascii: "t"))
                case 0x0A: bytes.append(UInt8(ascii: "n"))
                case 0x0C: bytes.append(UInt8(ascii: "f"))
                case 0x0D: bytes.append(UInt8(ascii: "r"))
                default:
                    bytes.append(contentsOf: [UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), Self.hex[Int(byte >> 4)], Self.hex[Int(byte & 0xF)]])
                }
            }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start...]))
        }
        bytes.append(UInt8(ascii: "\""))
    }

    mutating func finish() -> Data {
        bytes.append(UInt8(ascii: "}"))
        return Data(bytes)
    }
}
