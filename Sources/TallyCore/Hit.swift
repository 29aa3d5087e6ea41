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
    public var revenue: Double?

    public init(siteID: Int, kind: HitKind, timestamp: Int64) {
        self.siteID = siteID
        self.kind = kind
        self.timestamp = timestamp
    }

    enum CodingKeys: String, CodingKey {
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
    }
}

extension Hit {
    /// The record's canonical JSON: sorted keys, absent fields left out, so equal records encode to equal
    /// bytes (what the buffer stores and what batches carry).
    public func encodedJSON() throws -> Data {
        try Hit.encoder.encode(self)
    }

    public static func decodeJSON(_ data: Data) throws -> Hit {
        try JSONDecoder().decode(Hit.self, from: data)
    }

    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()
}
