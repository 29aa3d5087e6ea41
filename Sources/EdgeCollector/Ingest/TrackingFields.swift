import TrackingInput
import Crypto
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
    public var tokenAuth: String?
    /// Values repaired rather than refused (the parameters' own repairs included), for `/metrics`.
    public var repairs: [InputRepair] = []
}

extension TrackingFields {
    /// Validates the parameters. `idsite` must be a configured site (else `unknown_site`), `rec=1` must be
    /// present, numbers must be in range, and `cip` or a `cdt` older than 24 hours need the site's token.
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
        let authenticated = tokenAuth.map { token in
            site.trackingTokenSHA256 != nil && Hex.string(SHA256Digest.of(token)) == site.trackingTokenSHA256
        } ?? false

        var timestamp = now.millisecondsSince1970
        if let cdt = p["cdt"] {
            guard let date = parseCustomTime(cdt) else {
                throw RequestRejection("cdt=\(cdt) is not a time; use a Unix timestamp or \"YYYY-MM-DD HH:MM:SS\" (UTC).")
            }
            let age = now.timeIntervalSince(date)
            // Matomo accepts a custom time up to 24 hours old without a token (tracking_requests_require_authentication_when_custom_timestamp_newer_than).
            if age > 86_400, !authenticated {
                throw RequestRejection("cdt=\(cdt) is more than 24 hours old, which requires a valid token_auth.")
            }
            guard age > -300 else { throw RequestRejection("cdt=\(cdt) is in the future; send the time the hit happened.") }
            timestamp = date.millisecondsSince1970
        }

        var f = TrackingFields(siteID: siteID, kind: .pageview, timestamp: timestamp)
        if let cip = p["cip"] {
            guard authenticated else { throw RequestRejection("cip requires a valid token_auth for site \(siteID); drop cip or send the site's tracking token.") }
            guard let address = IPAddress(cip) else { throw RequestRejection("cip=\(cip) is not an IP address.") }
            f.overrideIP = address
        }
        f.tokenAuth = tokenAuth
        f.url = p["url"].flatMap(nonEmpty)
        f.title = p["action_name"].flatMap(nonEmpty)
        f.referrer = p["urlref"].flatMap(nonEmpty)
        if let id = p["cid"] ?? p["_id"], !id.isEmpty {
            guard id.utf8.count == 16, id.utf8.allSatisfy(ASCII.isHexDigit) else {
                throw RequestRejection("Visitor id \(id) is not 16 hex digits as Matomo's _id and cid are.")
            }
            f.clientVisitorID = id.lowercased()
        }
        f.userID = p["uid"].flatMap(nonEmpty)
        if let res = p["res"], !res.isEmpty {
            let parts = res.utf8.split { $0 == UInt8(ascii: "x") || $0 == UInt8(ascii: "X") }
            guard parts.count == 2, let w = ASCII.integer(parts[0]), let h = ASCII.integer(parts[1]),
                  (1...100_000).contains(w), (1...100_000).contains(h)
            else {
                throw RequestRejection("res=\(res) is not a screen size; use WIDTHxHEIGHT such as 1920x1080.")
            }
            f.resolution = "\(w)x\(h)"
        }
        f.language = p["lang"].flatMap(nonEmpty)
        if let h = p["h"], let m = p["m"], let s = p["s"] {
            guard let hh = Int(h), let mm = Int(m), let ss = Int(s), (0...23).contains(hh), (0...59).contains(mm), (0...59).contains(ss) else {
                throw RequestRejection("h=\(h), m=\(m), s=\(s) is not a time of day; use 0-23, 0-59, 0-59.")
            }
            f.localTime = "\(twoDigits(hh)):\(twoDigits(mm)):\(twoDigits(ss))"
        }
        if let pv = p["pv_id"], !pv.isEmpty {
            guard pv.utf8.count <= 32, pv.utf8.allSatisfy(ASCII.isAlphanumeric) else {
                throw RequestRejection("pv_id=\(pv) is not a page view id; use up to 32 letters and digits.")
            }
            f.pageviewID = pv
        }
        f.newVisit = p["new_visit"] == "1"
        f.sendImage = p["send_image"] != "0"
        f.consentGiven = p["consent"] == "1"
        f.countAsBot = p["bots"] == "1"
        f.campaignName = p["_rcn"].flatMap(nonEmpty)?.lowercased()
        f.campaignKeyword = p["_rck"].flatMap(nonEmpty)?.lowercased()

        // The kind, in Matomo's order of precedence.
        if p["ping"] == "1" {
            f.kind = .ping
        } else if let category = p["e_c"].flatMap(nonEmpty), let action = p["e_a"].flatMap(nonEmpty) {
            f.kind = .event
            f.eventCategory = category
            f.eventAction = action
            f.eventName = p["e_n"].flatMap(nonEmpty)
            // A value that is not a number, or not a storable one (1e308, inf), is dropped and the event
            // kept, as Matomo keeps an event whose value it cannot use.
            if let value = p["e_v"], !value.isEmpty {
                if let number = Double(value), Hit.isStorable(number) {
                    f.eventValue = number
                } else {
                    f.repairs.append(.numberOutOfRange)
                }
            }
        } else if p["e_c"] != nil || p["e_a"] != nil {
            throw RequestRejection("An event needs both e_c (category) and e_a (action).")
        } else if let keyword = p["search"] {
            f.kind = .siteSearch
            f.searchKeyword = keyword
            f.searchCategory = p["search_cat"].flatMap(nonEmpty)
            if let count = p["search_count"], !count.isEmpty {
                guard let n = Int(count), n >= 0 else {
                    throw RequestRejection("search_count=\(count) is not a count; use a whole number of results.")
                }
                f.searchCount = n
            }
        } else if let link = p["link"].flatMap(nonEmpty) {
            f.kind = .outlink
            f.linkURL = link
        } else if let link = p["download"].flatMap(nonEmpty) {
            f.kind = .download
            f.linkURL = link
        } else if let goal = p["idgoal"], !goal.isEmpty {
            guard let id = Int(goal), id > 0, id <= Int(Int32.max) else {
                throw RequestRejection("idgoal=\(goal) is not a goal id; use a positive whole number.")
            }
            f.kind = .goal
            f.goalID = id
        }
        if let revenue = p["revenue"], !revenue.isEmpty {
            guard let number = Double(revenue), number >= 0 || !number.isFinite else {
                throw RequestRejection("revenue=\(revenue) is not an amount; use a non-negative decimal number.")
            }
            if Hit.isStorable(number) {
                f.revenue = number
            } else if !f.repairs.contains(.numberOutOfRange) {
                f.repairs.append(.numberOutOfRange)
            }
        }
        for repair in p.repairs where !f.repairs.contains(repair) { f.repairs.append(repair) }
        return (f, site)
    }

    private static func nonEmpty(_ s: String) -> String? { s.isEmpty ? nil : s }

    /// Matomo's `cdt`: a Unix timestamp (seconds) or "YYYY-MM-DD HH:MM:SS" in UTC.
    static func parseCustomTime(_ text: String) -> Date? {
        if let seconds = Double(text), seconds.isFinite, seconds > 0 { return Date(timeIntervalSince1970: seconds) }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
        return formatter.date(from: text)
    }
}

enum SHA256Digest {
    static func of(_ text: String) -> [UInt8] {
        Array(Crypto.SHA256.hash(data: Data(text.utf8)))
    }
}
