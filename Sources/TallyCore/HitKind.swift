/// What a hit records. An open set: a newer edge may send kinds an older central does not know.
public struct HitKind: OpenSetValue, Codable {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    public static let pageview = HitKind(rawValue: "pageview")
    public static let event = HitKind(rawValue: "event")
    public static let siteSearch = HitKind(rawValue: "site_search")
    public static let outlink = HitKind(rawValue: "outlink")
    public static let download = HitKind(rawValue: "download")
    public static let goal = HitKind(rawValue: "goal")
    /// Matomo's heartbeat (`ping=1`): extends the visit's duration, is not an action.
    public static let ping = HitKind(rawValue: "ping")
    /// An ecommerce order (`idgoal=0` with `ec_id`); a repeated order id of a site counts once.
    public static let ecommerceOrder = HitKind(rawValue: "ecommerce_order")
    /// An ecommerce cart update (`idgoal=0` without `ec_id`): the cart's items and total so far.
    public static let cartUpdate = HitKind(rawValue: "cart_update")
    /// A content impression (`c_n` without `c_i`): not a pageview, not an action of the visit.
    public static let contentImpression = HitKind(rawValue: "content_impression")
    /// A content interaction (`c_n` with `c_i`, such as a click on a banner): an action, as in Matomo.
    public static let contentInteraction = HitKind(rawValue: "content_interaction")
    /// A custom action (`ca=1`: crash and exception reports, plugin requests): stored, never a pageview.
    public static let customAction = HitKind(rawValue: "custom_action")
}

/// How a visitor arrived, after Matomo's referrer types.
public struct ReferrerType: OpenSetValue, Codable {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    public static let direct = ReferrerType(rawValue: "direct")
    public static let searchEngine = ReferrerType(rawValue: "search_engine")
    public static let website = ReferrerType(rawValue: "website")
    public static let social = ReferrerType(rawValue: "social")
    public static let campaign = ReferrerType(rawValue: "campaign")
    /// Webmail (Gmail, Yahoo! Mail, Outlook.com…).
    public static let email = ReferrerType(rawValue: "email")
    /// AI assistants that link to their sources (ChatGPT, Perplexity, Claude, Copilot, Gemini…).
    public static let aiAssistant = ReferrerType(rawValue: "ai_assistant")
}

/// The kind of device a user agent names, by Matomo's device-type names ("desktop", "smartphone",
/// "tablet", "phablet", "feature phone", "console", "tv", "car browser", "smart display", "camera",
/// "portable media player", "wearable", "peripheral", "smart speaker"), plus "bot", and "other" when
/// the user agent names none. Records from before the device-detector database say "mobile".
public struct DeviceType: OpenSetValue, Codable {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    public static let desktop = DeviceType(rawValue: "desktop")
    public static let smartphone = DeviceType(rawValue: "smartphone")
    public static let tablet = DeviceType(rawValue: "tablet")
    public static let bot = DeviceType(rawValue: "bot")
    public static let other = DeviceType(rawValue: "other")
}
