import TrackingInput
import Foundation
import TallyCore

/// The privacy pipeline of SPEC §2.2. Read `steps` top to bottom to see what happens to a request: each
/// step passes the hit on (with a note of what it did) or drops it with a typed reason. Nothing is stored
/// until every step has passed, and the stored `Hit` only ever receives values a step has anonymised.
public struct PrivacyPipeline: Sendable {
    public enum Step: String, Sendable, CaseIterable {
        case parse = "parse and validate"
        case siteChecks = "site checks"
        case exclusions = "exclusions"
        case optOut = "opt-out cookie"
        case doNotTrack = "do-not-track and GPC"
        case consent = "consent"
        case geoIP = "GeoIP on the full IP"
        case ipMasking = "IP masking"
        case visitorID = "visitor id"
        case urlScrubbing = "URL scrubbing"
        case referrer = "referrer"
        case userID = "user id"
        case userAgent = "user agent"
    }

    /// The order is the policy: GeoIP before masking (so location comes from the full address), masking
    /// before anything could store the address, the visitor hash while the full address is still at hand.
    public static let steps: [Step] = [
        .parse, .siteChecks, .exclusions, .optOut, .doNotTrack, .consent,
        .geoIP, .ipMasking, .visitorID, .urlScrubbing, .referrer, .userID, .userAgent,
    ]

    public enum Decision: Sendable, Equatable {
        case pass(String)
        case drop(DropReason, String)
    }

    public struct TraceEntry: Sendable, Equatable {
        public var step: Step
        public var decision: Decision
    }

    public enum Outcome: Sendable, Equatable {
        case store(Hit)
        case drop(DropReason)
    }

    public struct Result: Sendable {
        public var outcome: Outcome
        /// Each step's decision, filled only when tracing (for `tally-edge explain`).
        public var trace: [TraceEntry]
        public var sendImage: Bool
        public var policyDigest: PolicyDigest?
        /// Input repaired rather than refused on the way (control characters, unusable numbers).
        public var repairs: [InputRepair] = []
    }

    let config: EdgeConfig
    let sites: [Int: SiteRuntime]
    let geo: (any GeoLocator)?
    let visitors: VisitorHasher
    let userIDs: UserIDHasher
    let userAgents: UserAgentParser

    public init(config: EdgeConfig, geo: (any GeoLocator)?, visitors: VisitorHasher, userIDs: UserIDHasher, userAgents: UserAgentParser? = nil) throws {
        self.config = config
        self.geo = geo
        self.visitors = visitors
        self.userIDs = userIDs
        self.userAgents = try userAgents ?? UserAgentParser(config: config)
        let referrerDatabase = try DetectionDatabases.referrerDatabase(config.referrerDatabase)
        var sites: [Int: SiteRuntime] = [:]
        for site in config.sites { sites[site.id] = try SiteRuntime(site: site, referrerDatabase: referrerDatabase) }
        self.sites = sites
    }

    /// Runs one request through every step. Throws a `RequestRejection` for invalid input or an unknown
    /// site (nothing is stored); returns a drop or the record to store otherwise.
    public func process(_ request: IncomingRequest, trace tracing: Bool = false) throws(RequestRejection) -> Result {
        // Parsing makes the state every later step reads: the fields and the site are fixed from here on.
        var (state, parsed) = try parse(request, tracing: tracing)
        var trace: [TraceEntry] = tracing ? [TraceEntry(step: .parse, decision: parsed)] : []
        for step in Self.steps.dropFirst() {
            let decision = try run(step, &state)
            if tracing { trace.append(TraceEntry(step: step, decision: decision)) }
            if case let .drop(reason, _) = decision {
                return Result(
                    outcome: .drop(reason), trace: trace, sendImage: state.fields.sendImage, policyDigest: state.site.digest,
                    repairs: state.fields.repairs)
            }
        }
        // Inputs were cleaned where they entered (QueryParameters, TrackingFields); central holds every
        // record to the same rules again on arrival, whatever wrote it.
        return Result(
            outcome: .store(state.hit), trace: trace, sendImage: state.fields.sendImage, policyDigest: state.site.digest,
            repairs: state.fields.repairs)
    }

    /// The steps after `parse`, which `process` runs first because it makes the state.
    private func run(_ step: Step, _ s: inout State) throws(RequestRejection) -> Decision {
        switch step {
        case .parse: preconditionFailure("parse makes the state and runs before the other steps")
        case .siteChecks: siteChecks(&s)
        case .exclusions: exclusions(&s)
        case .optOut: optOut(&s)
        case .doNotTrack: doNotTrack(&s)
        case .consent: consent(&s)
        case .geoIP: geoIP(&s)
        case .ipMasking: ipMasking(&s)
        case .visitorID: try visitorID(&s)
        case .urlScrubbing: urlScrubbing(&s)
        case .referrer: referrer(&s)
        case .userID: userID(&s)
        case .userAgent: userAgent(&s)
        }
    }
}

extension PrivacyPipeline {
    /// The request-scoped working state: the sensitive request, its parsed fields and site, and the record
    /// under construction. Only `hit` can leave the pipeline. Fields and site are stored, not optional,
    /// so a step reads one field in place instead of copying the whole value to unwrap it.
    struct State {
        var request: IncomingRequest
        let fields: TrackingFields
        let site: SiteRuntime
        var hit: Hit
        /// Set by DNT/GPC or missing consent under `count_only`.
        var aggregateOnly = false
        var aggregateOnlyBecause: String?
        /// The page URL as parsed once in `parse`, and its host.
        let page: WebAddress?
        var pageHost: String? { page?.host }
        /// The user agent's summary, computed once in `exclusions` (bot detection) and reused.
        var userAgent: UserAgentSummary?
        var campaign = Campaign()
        var isBot = false

        /// Whether the steps' notes are wanted (`tally-edge explain`).
        let tracing: Bool

        /// A step's decision. The note is written only when tracing: on the request path it would be text
        /// built for every hit and thrown away.
        func pass(_ note: @autoclosure () -> String) -> Decision { .pass(tracing ? note() : "") }
        func drop(_ reason: DropReason, _ note: @autoclosure () -> String) -> Decision { .drop(reason, tracing ? note() : "") }

        var policy: PrivacyPolicy { site.site.policy }
    }

    /// A site's policy with its compiled parts (scrubbing patterns, referrer rules) and digest, built once.
    /// A class: every request's state refers to its site's, and copying a reference is one retain.
    final class SiteRuntime: Sendable {
        let site: SiteConfig
        let scrubber: URLScrubber
        let referrers: ReferrerClassifier
        let digest: PolicyDigest

        init(site: SiteConfig, referrerDatabase: ReferrerDatabase) throws {
            self.site = site
            scrubber = try URLScrubber(policy: site.policy)
            referrers = ReferrerClassifier(mode: site.policy.referrer, scrubber: scrubber, database: referrerDatabase)
            digest = site.policy.digest
        }
    }
}
