import TrackingInput
import Foundation
import TallyCore

extension PrivacyPipeline {
    /// 1. Parse and validate; unknown `idsite` is rejected as `unknown_site`. Makes the state the other
    /// steps work on.
    func parse(_ request: IncomingRequest, tracing: Bool) throws(RequestRejection) -> (State, Decision) {
        var request = request
        var (fields, site) = try TrackingFields.parse(request.parameters, config: config, now: request.receivedAt)
        var page: WebAddress?
        if let url = fields.url {
            // A page address Tally cannot read (relative, not http) cannot be scrubbed, so it is not kept;
            // the hit is, as Matomo keeps it.
            if var address = WebAddress(url) {
                if fields.kind == .pageview, let search = site.siteSearch.detect(in: address) {
                    fields.kind = .siteSearch
                    fields.searchKeyword = search.keyword
                    fields.searchCategory = search.category
                    address = search.page
                }
                page = address
            } else {
                fields.url = nil
                fields.repairs.note(.unusableValue)
            }
        }
        if let address = fields.overrideIP { request.clientIP = address }
        var hit = Hit(siteID: fields.siteID, kind: fields.kind, timestamp: fields.timestamp)
        hit.newVisit = fields.newVisit
        hit.pageviewID = fields.pageviewID
        hit.localTime = fields.localTime
        hit.resolution = fields.resolution
        hit.goalID = fields.goalID
        hit.revenue = fields.revenue
        hit.eventValue = fields.eventValue
        hit.searchCount = fields.searchCount
        hit.subtotal = fields.subtotal
        hit.tax = fields.tax
        hit.shipping = fields.shipping
        hit.discount = fields.discount
        hit.productPrice = fields.productPrice
        hit.language = Self.primaryLanguage(fields.language ?? request.acceptLanguage)
        // TrackingFields.parse found the site in the configuration, so its runtime exists.
        let state = State(request: request, fields: fields, site: sites[site.id]!, hit: hit, page: page, tracing: tracing)
        return (state, state.pass("site \(site.id), \(fields.kind)"))
    }

    /// 2. With `exclude_unknown_urls`, the page's host must be one of the site's domains.
    func siteChecks(_ s: inout State) -> Decision {
        let site = s.site.site
        guard site.excludeUnknownURLs else { return s.pass("site tracks pages on any host") }
        guard let host = s.pageHost else { return s.pass("no page URL to check") }
        guard site.allows(host: host) else { return s.drop(.domainNotAllowed, "host \(host) is not one of \(site.domains)") }
        return s.pass("host \(host) belongs to the site")
    }

    /// 3. Excluded address ranges and user agents, bots, and prefetches.
    func exclusions(_ s: inout State) -> Decision {
        let policy = s.policy
        if let range = policy.excludedIPs.first(where: { $0.contains(s.request.clientIP) }) {
            return s.drop(.excludedIP, "address is in excluded range \(range)")
        }
        if !policy.excludedUserAgents.isEmpty {
            let ua = s.request.userAgent.lowercased()
            if let token = policy.excludedUserAgents.first(where: { ua.contains($0) }) {
                return s.drop(.excludedUserAgent, "user agent contains excluded \"\(token)\"")
            }
        }
        if BotDetector.isPrefetch(headers: s.request.headers) {
            return s.drop(.prefetch, "the browser prefetched the page")
        }
        let summary = userAgents.summarize(s.request.userAgent, hints: s.request.clientHints)
        s.userAgent = summary
        if summary.isBot {
            // `bots=1` is Matomo's "track this even though it looks like a bot": never dropped, and
            // still labelled a bot so it stays out of the human counts.
            if s.fields.countAsBot {
                s.isBot = true
                return s.pass("bot traffic, tracked because of bots=1, counted separately")
            }
            switch policy.bots {
            case .drop: return s.drop(.bot, "bot traffic, bots = \"drop\"")
            case .countSeparately:
                s.isBot = true
                return s.pass("bot traffic, counted separately")
            }
        }
        return s.pass("not excluded")
    }

    /// 4. The opt-out cookie always wins (`tally_optout=1`, Matomo's `matomo_ignore`).
    func optOut(_ s: inout State) -> Decision {
        if s.request.cookies["tally_optout"] == "1" { return s.drop(.optOut, "tally_optout cookie") }
        if s.request.cookies["matomo_ignore"] != nil { return s.drop(.optOut, "matomo_ignore cookie") }
        return s.pass("no opt-out cookie")
    }

    /// 5. Do-Not-Track and Global Privacy Control under the policy's `dnt` mode.
    func doNotTrack(_ s: inout State) -> Decision {
        let headers = s.request.headers
        let gpc = headers["sec-gpc"] == "1"
        let dnt = headers["dnt"] == "1" || headers["x-do-not-track"] == "1"
        guard gpc || dnt else { return s.pass("no DNT or GPC signal") }
        let signal = gpc ? "Sec-GPC: 1" : "DNT: 1"
        switch s.policy.dnt {
        case .drop:
            return s.drop(gpc ? .globalPrivacyControl : .doNotTrack, "\(signal), dnt = \"drop\"")
        case .countOnly:
            s.aggregateOnly = true
            return s.pass("\(signal), kept as an aggregate-only record")
        case .ignore:
            return s.pass("\(signal) ignored, dnt = \"ignore\"")
        }
    }

    /// 6. Consent, when the policy requires it: `consent=1`, or the `tally_consent=1` / `mtm_consent` cookie.
    func consent(_ s: inout State) -> Decision {
        let policy = s.policy
        guard policy.consent == .required else { return s.pass("consent not required") }
        let given = s.fields.consentGiven || s.request.cookies["tally_consent"] == "1" || s.request.cookies["mtm_consent"] != nil
        guard !given else { return s.pass("consent given") }
        switch policy.withoutConsent {
        case .drop: return s.drop(.noConsent, "no consent signal, without_consent = \"drop\"")
        case .countOnly:
            s.aggregateOnly = true
            return s.pass("no consent signal, kept as an aggregate-only record")
        }
    }

    /// 7. GeoIP on the full address (or the masked one with `geo_source = "masked_ip"`), at the policy's
    /// precision; aggregate-only records get the country at most.
    func geoIP(_ s: inout State) -> Decision {
        let policy = s.policy
        let precision = s.aggregateOnly ? min(policy.geo, .country) : policy.geo
        guard precision != .none else { return s.pass("geo = \"none\"") }
        if let given = s.fields.overrideLocation?.limited(to: precision) {
            s.hit.country = given.country
            s.hit.region = given.region
            s.hit.city = given.city
            return s.pass("location given by an authenticated sender, at \(precision.rawValue) precision")
        }
        guard let geo else { return s.pass("no GeoIP database configured") }
        let address = policy.geoSource == .fullIP ? s.request.clientIP : Self.mask(s.request.clientIP, policy)
        guard let found = geo.locate(address)?.limited(to: precision) else { return s.pass("address not in the GeoIP database") }
        s.hit.country = found.country
        s.hit.region = found.region
        s.hit.city = found.city
        let place = [found.city, found.region, found.country].compactMap { $0 }.joined(separator: ", ")
        return s.pass("\(place) at \(precision.rawValue) precision from the \(policy.geoSource == .fullIP ? "full" : "masked") address")
    }

    /// 8. Masking: IPv4 keeps its first 4 − `ipv4_mask_bytes` bytes, IPv6 loses its last `ipv6_mask_bits`
    /// bits (Matomo's semantics). The masked address is stored only with `store_masked_ip = true`.
    func ipMasking(_ s: inout State) -> Decision {
        let policy = s.policy
        let masked = Self.mask(s.request.clientIP, policy)
        let rule = s.request.clientIP.isIPv4 ? "\(policy.ipv4MaskBytes) bytes" : "\(policy.ipv6MaskBits) bits"
        if policy.storeMaskedIP, !s.aggregateOnly {
            s.hit.maskedIP = masked.description
            return s.pass("masked \(rule) to \(masked), stored")
        }
        return s.pass("masked \(rule) to \(masked), not stored")
    }

    static func mask(_ address: IPAddress, _ policy: PrivacyPolicy) -> IPAddress {
        address.zeroingLast(bits: address.isIPv4 ? policy.ipv4MaskBytes * 8 : policy.ipv6MaskBits)
    }

    /// 9. The keyed visitor hash under the current salt; a client id only with `trust_client_visitor_id`.
    func visitorID(_ s: inout State) throws(RequestRejection) -> Decision {
        let policy = s.policy
        guard !s.aggregateOnly else { return s.pass("aggregate-only record: no visitor id") }
        if policy.trustClientVisitorID, let id = s.fields.clientVisitorID {
            s.hit.visitorID = id
            return s.pass("client visitor id trusted by policy")
        }
        do {
            s.hit.visitorID = try visitors.visitorID(
                siteID: s.fields.siteID, address: s.request.clientIP, userAgent: s.request.userAgent,
                rotation: policy.saltRotation, at: s.request.receivedAt)
        } catch {
            throw RequestRejection(status: 503, "The edge cannot use its salt state now; retry later.", dropReason: .invalidRequest)
        }
        return s.pass("keyed hash under the \(policy.saltRotation.rawValue) salt")
    }

    /// 10. URL scrubbing: fragments, denied (or not allowed) query parameters, campaign parameters taken
    /// out, e-mail addresses and the policy's patterns redacted in URLs, titles and free-text fields.
    func urlScrubbing(_ s: inout State) -> Decision {
        let scrubber = s.site.scrubber
        let f = s.fields
        var removed = 0
        if let page = s.page {
            let result = scrubber.scrub(page)
            s.hit.url = result.url
            s.campaign = result.campaign
            removed = result.removed
        }
        // `_rcn`/`_rck` (the campaign the JavaScript tracker remembered) take precedence over the page URL's
        // campaign parameters, as in Matomo's `detectReferrerCampaign`.
        if let name = f.campaignName {
            s.campaign.name = scrubber.redact(name)
            s.campaign.keyword = f.campaignKeyword.map(scrubber.redact)
        }
        s.hit.title = f.title.map(scrubber.redact)
        s.hit.eventCategory = f.eventCategory.map(scrubber.redact)
        s.hit.eventAction = f.eventAction.map(scrubber.redact)
        s.hit.eventName = f.eventName.map(scrubber.redact)
        s.hit.searchKeyword = f.searchKeyword.map(scrubber.redact)
        s.hit.searchCategory = f.searchCategory.map(scrubber.redact)
        s.hit.linkURL = f.linkURL.map { scrubber.scrub(url: $0)?.url ?? scrubber.redact($0) }
        s.hit.contentName = f.contentName.map(scrubber.redact)
        s.hit.contentPiece = f.contentPiece.map { scrubber.scrub(url: $0)?.url ?? scrubber.redact($0) }
        s.hit.contentTarget = f.contentTarget.map { scrubber.scrub(url: $0)?.url ?? scrubber.redact($0) }
        s.hit.contentInteraction = f.contentInteraction.map(scrubber.redact)
        s.hit.dimensions = CustomDimension.encoded(f.dimensions.mapValues(scrubber.redact))
        s.hit.orderID = f.orderID.map(scrubber.redact)
        s.hit.items = f.items.flatMap { items in
            EcommerceItem.encoded(items.map { item in
                var item = item
                item.sku = scrubber.redact(item.sku)
                item.name = item.name.map(scrubber.redact)
                item.categories = item.categories.map(scrubber.redact)
                return item
            })
        }
        s.hit.productSKU = f.productSKU.map(scrubber.redact)
        s.hit.productName = f.productName.map(scrubber.redact)
        s.hit.productCategory = f.productCategory.map(scrubber.redact)
        return s.pass(s.hit.url == nil ? "no page URL" : "\(removed) query parameter(s) removed")
    }

    /// 11. Referrer: reduced per the policy's `referrer` mode and classified.
    func referrer(_ s: inout State) -> Decision {
        let runtime = s.site
        let result = runtime.referrers.classify(referrer: s.fields.referrer, campaign: s.campaign, site: runtime.site, pageHost: s.pageHost)
        s.hit.referrerType = result.type
        s.hit.referrerName = result.name
        s.hit.referrerURL = result.url
        if result.type == .campaign {
            s.hit.campaignName = s.campaign.reportedName
            s.hit.campaignSource = s.campaign.source
            s.hit.campaignMedium = s.campaign.medium
            s.hit.campaignKeyword = s.campaign.keyword
            s.hit.campaignContent = s.campaign.content
        }
        return s.pass("\(result.type)\(result.name.map { " (\($0))" } ?? "")")
    }

    /// 12. User id: dropped, hashed with the site's key, or kept, per `user_id`.
    func userID(_ s: inout State) -> Decision {
        guard let raw = s.fields.userID else { return s.pass("no user id") }
        guard !s.aggregateOnly else { return s.pass("aggregate-only record: user id dropped") }
        switch s.policy.userID {
        case .drop: return s.pass("user id dropped")
        case .hash:
            s.hit.userID = userIDs.hash(userID: raw, siteID: s.fields.siteID)
            return s.pass("user id hashed with the site's key")
        case .keep:
            s.hit.userID = raw
            return s.pass("user id kept as sent")
        }
    }

    /// 13. User agent → browser and OS families with major versions, device type. The string itself is
    /// never stored; aggregate-only records keep no user-agent detail at all.
    func userAgent(_ s: inout State) -> Decision {
        s.hit.aggregateOnly = s.aggregateOnly
        s.hit.isBot = s.isBot
        guard !s.aggregateOnly else { return s.pass("aggregate-only record: no user-agent detail") }
        let summary = s.userAgent ?? userAgents.summarize(s.request.userAgent, hints: s.request.clientHints)
        s.hit.browser = summary.browser
        s.hit.browserVersion = summary.browserVersion
        s.hit.os = summary.os
        s.hit.osVersion = summary.osVersion
        s.hit.device = s.isBot ? .bot : summary.device
        s.hit.deviceBrand = summary.brand
        if s.isBot {
            // A bot's name and category feed the bots report; `bots=1` hits that look human have none.
            s.hit.botName = summary.botName
            s.hit.botCategory = summary.botCategory
        }
        if s.isBot, !summary.isBot { return s.pass("tracked as a bot because of bots=1") }
        if s.isBot { return s.pass("bot: \(summary.botName ?? "unnamed")\(summary.botCategory.map { " (\($0))" } ?? "")") }
        let browser = [summary.browser, summary.browserVersion].compactMap { $0 }.joined(separator: " ")
        let os = [summary.os, summary.osVersion].compactMap { $0 }.joined(separator: " ")
        return s.pass("\(browser.isEmpty ? "unknown browser" : browser) on \(os.isEmpty ? "unknown OS" : os), \(s.hit.device!)")
    }

    /// The first language of `lang` or `Accept-Language` (RFC 9110 §12.5.4), lower case, without weights.
    static func primaryLanguage(_ header: String?) -> String? {
        // The first tag, up to a comma or a semicolon, trimmed; letters, digits, '-' and '_' only. Bytewise:
        // this runs for every hit.
        guard let header else { return nil }
        var tag: [UInt8] = []
        for byte in header.utf8 {
            if byte == UInt8(ascii: ",") || byte == UInt8(ascii: ";") { break }
            tag.append(byte)
        }
        while let last = tag.last, last == 0x20 || last == 0x09 { tag.removeLast() }
        let start = tag.firstIndex { $0 != 0x20 && $0 != 0x09 } ?? tag.endIndex
        tag.removeSubrange(..<start)
        guard !tag.isEmpty, tag.count <= 35 else { return nil }
        for (index, byte) in tag.enumerated() {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): tag[index] = byte + 32
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"): break
            case UInt8(ascii: "_"): tag[index] = UInt8(ascii: "-")
            default: return nil
            }
        }
        return String(decoding: tag, as: UTF8.self)
    }
}
