import TallyCore

/// The privacy rules a hit is collected under (SPEC §2.2). The defaults follow common regulator
/// guidance for consent-free analytics (CNIL's audience-measurement exemption, EDPB guidance on IP
/// truncation): 2 IPv4 bytes masked, 80 IPv6 bits masked, DNT honoured, daily salts, no stored IPs.
public struct PrivacyPolicy: Sendable, Equatable {
    public enum SignalMode: String, Sendable, CaseIterable { case drop, countOnly = "count_only", ignore }
    public enum ConsentMode: String, Sendable, CaseIterable { case notRequired = "not_required", required }
    public enum WithoutConsent: String, Sendable, CaseIterable { case drop, countOnly = "count_only" }
    public enum GeoPrecision: String, Sendable, CaseIterable, Comparable {
        case none, country, region, city
        var rank: Int { Self.allCases.firstIndex(of: self) ?? 0 }
        public static func < (a: Self, b: Self) -> Bool { a.rank < b.rank }
    }
    public enum GeoSource: String, Sendable, CaseIterable { case fullIP = "full_ip", maskedIP = "masked_ip" }
    public enum SaltRotation: String, Sendable, CaseIterable { case daily, weekly, monthly }
    public enum QueryMode: String, Sendable, CaseIterable { case denylist, allowlist }
    public enum ReferrerMode: String, Sendable, CaseIterable {
        case full, stripQuery = "strip_query", origin, none
    }
    public enum UserIDMode: String, Sendable, CaseIterable { case drop, hash, keep }
    public enum BotMode: String, Sendable, CaseIterable { case drop, countSeparately = "count_separately" }

    public var dnt: SignalMode = .drop
    public var consent: ConsentMode = .notRequired
    public var withoutConsent: WithoutConsent = .drop
    public var geo: GeoPrecision = .city
    public var geoSource: GeoSource = .fullIP
    public var ipv4MaskBytes = 2
    public var ipv6MaskBits = 80
    public var storeMaskedIP = false
    public var saltRotation: SaltRotation = .daily
    public var trustClientVisitorID = false
    public var queryMode: QueryMode = .denylist
    public var stripQueryParams: [String] = PrivacyPolicy.defaultStripQueryParams
    public var allowedQueryParams: [String] = []
    public var redactEmails = true
    public var redactPatterns: [String] = []
    public var referrer: ReferrerMode = .stripQuery
    public var userID: UserIDMode = .hash
    public var bots: BotMode = .drop
    public var excludedIPs: [CIDRRange] = []
    public var excludedUserAgents: [String] = []

    public init() {}

    /// Click ids, session ids and credentials that identify a person or a session more than a page.
    public static let defaultStripQueryParams = [
        "gclid", "gbraid", "wbraid", "dclid", "fbclid", "msclkid", "twclid", "ttclid", "li_fat_id", "mc_eid",
        "yclid", "_ga", "_gl", "sessionid", "session_id", "sid", "phpsessid", "jsessionid", "aspsessionid",
        "token", "access_token", "auth", "password", "passwd", "pwd", "email", "e-mail", "mail",
    ]

    /// The canonical text the policy digest is computed over: one `key=value` line per rule, in a fixed
    /// order, so equal policies have equal digests whatever the file's layout.
    public var canonicalText: String {
        let lines: [(String, String)] = [
            ("dnt", dnt.rawValue),
            ("consent", consent.rawValue),
            ("without_consent", withoutConsent.rawValue),
            ("geo", geo.rawValue),
            ("geo_source", geoSource.rawValue),
            ("ipv4_mask_bytes", String(ipv4MaskBytes)),
            ("ipv6_mask_bits", String(ipv6MaskBits)),
            ("store_masked_ip", String(storeMaskedIP)),
            ("salt_rotation", saltRotation.rawValue),
            ("trust_client_visitor_id", String(trustClientVisitorID)),
            ("query_mode", queryMode.rawValue),
            ("strip_query_params", stripQueryParams.joined(separator: ",")),
            ("allowed_query_params", allowedQueryParams.joined(separator: ",")),
            ("redact_emails", String(redactEmails)),
            ("redact_patterns", redactPatterns.joined(separator: "\u{1f}")),
            ("referrer", referrer.rawValue),
            ("user_id", userID.rawValue),
            ("bots", bots.rawValue),
            ("excluded_ips", excludedIPs.map(\.description).joined(separator: ",")),
            ("excluded_user_agents", excludedUserAgents.joined(separator: "\u{1f}")),
        ]
        return "tally-policy-v1\n" + lines.map { "\($0.0)=\($0.1)\n" }.joined()
    }

    public var digest: PolicyDigest { PolicyDigest(canonicalText: canonicalText) }
}
