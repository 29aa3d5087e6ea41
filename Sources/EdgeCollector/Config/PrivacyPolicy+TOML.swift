import Foundation
import TallyCore

extension PrivacyPolicy {
    /// Applies the keys present in a `[privacy]` or `[sites.privacy]` table on top of this policy, so a
    /// site's policy is the global one with only its overrides changed.
    func applying(_ reader: TOMLReader) throws -> PrivacyPolicy {
        var reader = reader
        var policy = self
        if let v = try reader.choice("dnt", as: SignalMode.self) { policy.dnt = v }
        if let v = try reader.choice("consent", as: ConsentMode.self) { policy.consent = v }
        if let v = try reader.choice("without_consent", as: WithoutConsent.self) { policy.withoutConsent = v }
        if let v = try reader.choice("geo", as: GeoPrecision.self) { policy.geo = v }
        if let v = try reader.choice("geo_source", as: GeoSource.self) { policy.geoSource = v }
        if let v = try reader.int("ipv4_mask_bytes", in: 0...4) { policy.ipv4MaskBytes = v }
        if let v = try reader.int("ipv6_mask_bits", in: 0...128) { policy.ipv6MaskBits = v }
        if let v = try reader.bool("store_masked_ip") { policy.storeMaskedIP = v }
        if let v = try reader.choice("salt_rotation", as: SaltRotation.self) { policy.saltRotation = v }
        if let v = try reader.bool("trust_client_visitor_id") { policy.trustClientVisitorID = v }
        if let v = try reader.choice("query_mode", as: QueryMode.self) { policy.queryMode = v }
        if let v = try reader.stringArray("strip_query_params") { policy.stripQueryParams = v.map { $0.lowercased() } }
        if let v = try reader.stringArray("allowed_query_params") { policy.allowedQueryParams = v.map { $0.lowercased() } }
        if let v = try reader.bool("redact_emails") { policy.redactEmails = v }
        if let v = try reader.stringArray("redact_patterns") {
            for pattern in v {
                do {
                    _ = try NSRegularExpression(pattern: pattern)
                } catch {
                    throw ConfigError.invalid(
                        key: reader.path("redact_patterns"), value: "\"\(pattern)\"",
                        expected: "a valid regular expression (ICU syntax)")
                }
            }
            policy.redactPatterns = v
        }
        if let v = try reader.choice("referrer", as: ReferrerMode.self) { policy.referrer = v }
        if let v = try reader.choice("user_id", as: UserIDMode.self) { policy.userID = v }
        if let v = try reader.choice("bots", as: BotMode.self) { policy.bots = v }
        if let v = try reader.stringArray("excluded_ips") {
            policy.excludedIPs = try v.map { text in
                guard let range = CIDRRange(text) else {
                    throw ConfigError.invalid(
                        key: reader.path("excluded_ips"), value: "\"\(text)\"",
                        expected: "an IPv4 or IPv6 address or CIDR range such as \"10.0.0.0/8\"")
                }
                return range
            }
        }
        if let v = try reader.stringArray("excluded_user_agents") {
            policy.excludedUserAgents = v.filter { !$0.isEmpty }.map { $0.lowercased() }
        }
        try reader.rejectUnknownKeys()
        return policy
    }
}
