import TallyCore

/// Why a request did not become a stored hit. Each reason is a label of the
/// `tally_edge_hits_dropped_total` counter and a row of `tally-edge status`.
public struct DropReason: OpenSetValue, Comparable {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    /// Malformed or out-of-range input; answered 4xx.
    public static let invalidRequest = DropReason(rawValue: "invalid_request")
    /// `idsite` is not configured on this edge; answered 400.
    public static let unknownSite = DropReason(rawValue: "unknown_site")
    /// The page URL's host is not one of the site's `domains`.
    public static let domainNotAllowed = DropReason(rawValue: "domain_not_allowed")
    public static let excludedIP = DropReason(rawValue: "excluded_ip")
    public static let excludedUserAgent = DropReason(rawValue: "excluded_user_agent")
    public static let bot = DropReason(rawValue: "bot")
    public static let prefetch = DropReason(rawValue: "prefetch")
    public static let optOut = DropReason(rawValue: "opt_out")
    public static let doNotTrack = DropReason(rawValue: "do_not_track")
    public static let globalPrivacyControl = DropReason(rawValue: "global_privacy_control")
    public static let noConsent = DropReason(rawValue: "no_consent")
    /// The buffer is full; answered 503 with `Retry-After`.
    public static let bufferFull = DropReason(rawValue: "buffer_full")

    public static let all: [DropReason] = [
        .invalidRequest, .unknownSite, .domainNotAllowed, .excludedIP, .excludedUserAgent, .bot, .prefetch,
        .optOut, .doNotTrack, .globalPrivacyControl, .noConsent, .bufferFull,
    ]

    public static func < (a: DropReason, b: DropReason) -> Bool { a.rawValue < b.rawValue }
}
