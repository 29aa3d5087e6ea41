/// What a site's policy stores, field by field, with its precision and the reason it is kept — the
/// record a privacy officer signs off — and the places where the policy is weaker than common guidance.
public struct DataInventory: Sendable {
    public struct Entry: Sendable, Equatable {
        public var field: String
        public var precision: String
        public var why: String
    }

    public let entries: [Entry]
    public let warnings: [String]

    public init(policy p: PrivacyPolicy, geoIPConfigured: Bool, dimensions: [CustomDimension] = []) {
        var e: [Entry] = [
            Entry(field: "site_id, kind, ts", precision: "site, hit type, time in ms", why: "what happened where and when"),
        ]
        if p.trustClientVisitorID {
            e.append(Entry(field: "visitor_id", precision: "the tracker's own _id/cid when sent, else a salted 64-bit hash", why: "visits and unique visitors"))
        } else {
            e.append(Entry(
                field: "visitor_id",
                precision: "64-bit HMAC of site, full IP and user agent; salt rotates \(p.saltRotation.rawValue), deleted one day after its period",
                why: "visits and unique visitors without cookies"))
        }
        switch p.userID {
        case .drop: break
        case .hash: e.append(Entry(field: "user_id", precision: "128-bit HMAC with the site's key", why: "logged-in users across devices; findable for deletion requests"))
        case .keep: e.append(Entry(field: "user_id", precision: "as sent by the site", why: "logged-in users across devices"))
        }
        let query = switch p.queryMode {
        case .denylist: "query without \(p.stripQueryParams.count) denied parameters"
        case .allowlist: p.allowedQueryParams.isEmpty ? "no query" : "query with only \(p.allowedQueryParams.joined(separator: ", "))"
        }
        let redaction = p.redactEmails ? ", e-mail addresses redacted" : ""
        e.append(Entry(field: "url", precision: "scheme, host, path, \(query); no fragment\(redaction)", why: "pages, entry and exit pages"))
        e.append(Entry(field: "title, e_c, e_a, e_n, search", precision: "as sent\(redaction)", why: "page titles, events, site search"))
        e.append(Entry(field: "ref_type, ref_name", precision: "direct, search engine, website, social or campaign, with source", why: "where visitors come from"))
        let referrer = switch p.referrer {
        case .full: "full URL"
        case .stripQuery: "URL without query"
        case .origin: "scheme and host"
        case .none: nil as String?
        }
        if let referrer { e.append(Entry(field: "ref_url", precision: referrer, why: "referring pages")) }
        e.append(Entry(field: "cmp_*", precision: "campaign name, source, medium, keyword, content (lower case)", why: "campaign reports"))
        if p.geo != .none, geoIPConfigured {
            let fields = ["country", p.geo >= .region ? "region" : nil, p.geo >= .city ? "city" : nil].compactMap { $0 }
            e.append(Entry(
                field: fields.joined(separator: ", "),
                precision: "\(p.geo.rawValue), from the \(p.geoSource == .fullIP ? "full" : "masked") address",
                why: "location reports"))
        }
        if p.storeMaskedIP {
            e.append(Entry(
                field: "masked_ip",
                precision: "IPv4 first \(4 - p.ipv4MaskBytes) byte(s), IPv6 first \(128 - p.ipv6MaskBits) bits",
                why: "network-level diagnosis"))
        }
        e.append(Entry(field: "browser, os (+ major versions), device, brand", precision: "names and major versions (Matomo's device-detector); never the model", why: "technology reports"))
        e.append(Entry(field: "resolution, language, local_time", precision: "as sent", why: "technology and time-of-day reports"))
        e.append(Entry(field: "link, goal_id, revenue, e_v, pv_id", precision: "as sent (links scrubbed like URLs)", why: "outlinks, downloads, goals, events"))
        e.append(Entry(field: "c_n, c_p, c_t, c_i", precision: "content name, piece, target (scrubbed like URLs) and interaction\(redaction)", why: "content impressions and interactions"))
        e.append(Entry(
            field: "ec_id, ec_items, ec_st, ec_tx, ec_sh, ec_dt, pk_*",
            precision: "order id, items (SKU, name, categories, price, quantity), amounts, viewed product\(redaction)",
            why: "ecommerce and product reports"))
        for dimension in dimensions {
            e.append(Entry(
                field: "dims \(dimension.scope.rawValue).\(dimension.id)",
                precision: "custom dimension \"\(dimension.name)\" (\(dimension.scope.rawValue) scope), as sent\(redaction)",
                why: "the site's own dimension report"))
        }
        if p.bots == .countSeparately { e.append(Entry(field: "bot, bot_name, bot_cat", precision: "flag; the bot's name and category", why: "bots counted apart from people, by bot")) }
        entries = e

        var w: [String] = []
        if p.ipv4MaskBytes < 2 { w.append("ipv4_mask_bytes = \(p.ipv4MaskBytes) keeps more than half of an IPv4 address; regulators expect at least 2 bytes masked.") }
        if p.ipv6MaskBits < 80 { w.append("ipv6_mask_bits = \(p.ipv6MaskBits) keeps more than 48 bits of an IPv6 address; mask at least 80.") }
        if p.dnt == .ignore { w.append("dnt = \"ignore\" disregards visitors' Do-Not-Track and Global Privacy Control signals.") }
        if p.userID == .keep { w.append("user_id = \"keep\" stores user ids in clear; use \"hash\".") }
        if p.trustClientVisitorID { w.append("trust_client_visitor_id = true stores the tracker's cookie id, which follows a visitor for months.") }
        if p.referrer == .full { w.append("referrer = \"full\" keeps referrer query strings, which often carry search terms and ids.") }
        if p.saltRotation != .daily { w.append("salt_rotation = \"\(p.saltRotation.rawValue)\" lets visits be linked over a longer time than a day.") }
        if !p.redactEmails { w.append("redact_emails = false lets e-mail addresses in URLs and titles be stored.") }
        if p.storeMaskedIP, p.ipv4MaskBytes < 2 { w.append("store_masked_ip = true with fewer than 2 masked bytes stores near-complete addresses.") }
        warnings = w
    }
}

extension EdgeConfig {
    /// The text `tally-edge check-config` prints: the effective policy of every site, its digest, its data
    /// inventory, and warnings.
    public func policyReport() -> String {
        var out = "Configuration is valid: edge \(edgeID), listening on \(listenHost):\(listenPort), data in \(dataDirectory)\n"
        out += "Buffer: ack = \(buffer.ack.rawValue), max_buffer_bytes = \(buffer.maxBufferBytes)\n"
        out += "GeoIP: \(geoIPDatabase ?? "none configured")\n"
        if let shipping {
            out += "Shipping: \(shipping.centralURL), batches of up to \(shipping.batchMaxHits) hits every \(shipping.batchIntervalSeconds) s\n"
        } else {
            out += "Shipping: not configured; hits stay in the buffer\n"
        }
        var warningCount = 0
        for site in sites {
            out += "\nSite \(site.id) (\(site.name)), time zone \(site.timeZone.identifier), domains: \(site.domains.isEmpty ? "any" : site.domains.joined(separator: ", "))\n"
            out += "  Policy \(site.policy.digest):\n"
            for line in site.policy.canonicalText.split(separator: "\n").dropFirst() {
                out += "    \(line)\n"
            }
            let inventory = DataInventory(policy: site.policy, geoIPConfigured: geoIPDatabase != nil, dimensions: site.dimensions)
            out += "  Data inventory (stored per hit):\n"
            let width = inventory.entries.map(\.field.count).max() ?? 0
            for entry in inventory.entries {
                out += "    \(entry.field.padding(toLength: width, withPad: " ", startingAt: 0))  \(entry.precision) — \(entry.why)\n"
            }
            out += "  Never stored: full IP address, raw user agent, salts, cookies, request headers.\n"
            for warning in inventory.warnings {
                out += "  WARNING: \(warning)\n"
                warningCount += 1
            }
        }
        out += "\n\(warningCount) warning(s).\n"
        return out
    }
}
