import Foundation
import TallyCore

/// How a visitor arrived, after Matomo's referrer types: a campaign wins; then an empty or same-site
/// referrer is direct; then the referrer database decides search engine, social network, e-mail or AI
/// assistant; anything else is a website named by its host. `android-app://` referrers resolve to their
/// app.
public struct ReferrerClassifier: Sendable {
    public struct Result: Sendable, Equatable {
        public var type: ReferrerType
        public var name: String?
        /// The referrer URL reduced by the policy's `referrer` mode (`nil` for `none` and for direct).
        public var url: String?
    }

    let mode: PrivacyPolicy.ReferrerMode
    let scrubber: URLScrubber
    let database: ReferrerDatabase

    public init(mode: PrivacyPolicy.ReferrerMode, scrubber: URLScrubber, database: ReferrerDatabase) {
        self.mode = mode
        self.scrubber = scrubber
        self.database = database
    }

    public func classify(referrer: String?, campaign: Campaign, site: SiteConfig, pageHost: String?) -> Result {
        if let referrer, let app = Self.androidApp(referrer) {
            let url = mode == .none ? nil : "android-app://" + app
            if !campaign.isEmpty { return Result(type: .campaign, name: campaign.reportedName, url: url) }
            guard let source = database.lookup(androidApp: app) else { return Result(type: .website, name: app, url: url) }
            return Result(type: Self.type(of: source.medium), name: source.medium == .unknown ? app : source.name, url: url)
        }
        let address = referrer.flatMap { $0.isEmpty ? nil : WebAddress($0) }
        let host = address?.host
        let reducedURL = address.flatMap(reduce)

        if !campaign.isEmpty {
            return Result(type: .campaign, name: campaign.reportedName, url: reducedURL)
        }
        guard let address, let host, !host.isEmpty else { return Result(type: .direct, name: nil, url: nil) }
        if host == pageHost || (!site.domains.isEmpty && site.allows(host: host)) {
            return Result(type: .direct, name: nil, url: nil)
        }
        let path = String(decoding: address.path, as: UTF8.self)
        let siteName = host.hasPrefix("www.") ? String(host.dropFirst(4)) : host
        guard let source = database.lookup(host: host, path: path), source.medium != .unknown else {
            return Result(type: .website, name: siteName, url: reducedURL)
        }
        return Result(type: Self.type(of: source.medium), name: source.name, url: reducedURL)
    }

    static func type(of medium: ReferrerDatabase.Medium) -> ReferrerType {
        switch medium {
        case .search: .searchEngine
        case .social: .social
        case .email: .email
        case .aiAssistant: .aiAssistant
        case .unknown: .website
        }
    }

    /// The app id of an `android-app://id/…` referrer (how Android reports a visit sent by an app).
    static func androidApp(_ referrer: String) -> String? {
        let scheme = "android-app://".utf8
        // Bytewise and without case: every referrer passes here.
        guard referrer.utf8.count > scheme.count, zip(referrer.utf8, scheme).allSatisfy({ ASCII.lowercased($0) == $1 }) else { return nil }
        let app = referrer.dropFirst(scheme.count).prefix { $0 != "/" && $0 != "?" && $0 != "#" }.lowercased()
        guard !app.isEmpty, app.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "." || $0 == "_" || $0 == "-") }) else { return nil }
        return app
    }

    /// The referrer URL as the policy's mode allows (user name, password and fragment are already gone).
    private func reduce(_ address: WebAddress) -> String? {
        switch mode {
        case .none:
            return nil
        case .full:
            return scrubber.redact(address.text(path: address.path, query: address.query))
        case .stripQuery:
            return scrubber.redact(address.text(path: address.path, query: ArraySlice<UInt8>?.none))
        case .origin:
            return address.origin
        }
    }
}
