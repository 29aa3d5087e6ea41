import Crypto
import DeviceDetection
import TrackingInput
import Foundation
import TallyCore
import TallyHTTP

/// The edge's whole configuration, validated. Built from `edge.toml` by `EdgeConfig.load(path:)`.
public struct EdgeConfig: Sendable {
    /// This edge's name; central registers edges by it and it is the identity in the client certificate.
    public var edgeID: String
    public var listenHost: String
    public var listenPort: Int
    public var dataDirectory: String
    public var logLevel: String
    public var geoIPDatabase: String?
    public var trustedProxies: [CIDRRange]
    /// Where the per-site user-id hashing keys come from; created with mode 0600 on first start.
    public var userIDKeyFile: String
    public var globalPolicy: PrivacyPolicy
    public var sites: [SiteConfig]
    public var buffer: BufferSettings
    public var limits: RequestLimits
    /// Deadlines and the per-client connection cap of the HTTP listener (`[limits]`).
    public var listener = ListenerLimits()
    public var shipping: ShippingSettings?
    /// Matomo's device-detector regex database: the directory with `bots.yml`, `oss.yml`, `client/`,
    /// `device/` (`device_database`; the pinned PyPI package `scripts/install-deps.sh` installs).
    public var deviceDatabase = DeviceDatabase.installedDirectory
    /// The crawler-user-agents list (`crawler_patterns`); `nil` uses device-detector's bots alone.
    public var crawlerPatterns: String? = CrawlerPatterns.installedPath
    /// Snowplow's `referers.yml` (`referrer_database`; Debian's ruby-referer-parser installs it).
    public var referrerDatabase = ReferrerDatabase.installedPath

    public var bufferPath: String { (dataDirectory as NSString).appendingPathComponent("buffer.sqlite") }
    public var saltStatePath: String { (dataDirectory as NSString).appendingPathComponent("salts.json") }

    public func site(id: Int) -> SiteConfig? { sites.first { $0.id == id } }
}

/// One tracked website.
public struct SiteConfig: Sendable, Equatable {
    public var id: Int
    public var name: String
    /// Host names the site's pages live on; `*.example.com` also matches every subdomain. They tell own
    /// pages and internal referrers from outside ones; with `excludeUnknownURLs` they also filter hits.
    public var domains: [String]
    /// Matomo's "only track visits and actions when the action URL starts with one of the above URLs":
    /// hits whose page is on another host are dropped (`domain_not_allowed`). Off by default, as in Matomo.
    public var excludeUnknownURLs = false
    /// `main_url` as configured, if it is.
    public var configuredMainURL: String?
    /// Custom dimensions kept for this site; values of any other are left out.
    public var dimensions: [CustomDimension] = []
    /// Site search detected from page URLs (`site_search`, `site_search_params`, `site_search_category_params`).
    public var siteSearch = SiteSearchSettings()
    public var timeZone: TimeZone
    /// SHA-256 (hex) of the token that allows `cip` and old `cdt` overrides, as Matomo's `token_auth`.
    public var trackingTokenSHA256: String?
    /// The global policy with this site's overrides applied.
    public var policy: PrivacyPolicy

    /// The site's main address, as Matomo's `main_url`: `main_url` in edge.toml, else `https://` and the
    /// first domain (without `*.`). The log importer puts it before paths that carry no host.
    public var mainURL: String? {
        if let configuredMainURL { return configuredMainURL }
        return domains.first.map { "https://" + ($0.hasPrefix("*.") ? String($0.dropFirst(2)) : $0) }
    }

    /// Whether `token` is the site's tracking token (`token_auth`): compared by its SHA-256, so the
    /// configuration never holds the token itself.
    public func accepts(token: String) -> Bool {
        guard let expected = trackingTokenSHA256 else { return false }
        return Hex.string(Array(SHA256.hash(data: Data(token.utf8)))) == expected
    }

    /// Whether `host` is one of the site's domains (case-insensitive, `*.` for subdomains).
    public func allows(host: String) -> Bool {
        guard !domains.isEmpty else { return true }
        let host = host.lowercased()
        return domains.contains { domain in
            if domain.hasPrefix("*.") {
                let base = domain.dropFirst(2)
                return host == base || host.hasSuffix("." + base)
            }
            return host == domain
        }
    }
}

public struct BufferSettings: Sendable, Equatable {
    public enum AckMode: String, Sendable, CaseIterable { case durable, fast }
    public var ack: AckMode = .durable
    /// Payload bytes the buffer may hold before the edge answers 503 (default 1 GiB).
    public var maxBufferBytes: Int = 1 << 30
    /// Seconds a client is told to wait (`Retry-After`) when the buffer is full.
    public var retryAfterSeconds: Int = 30
    /// Milliseconds the buffer's writer waits, once a hit has woken it, before it commits, so the hits of
    /// that time share the transaction and its sync (0: commit at once; while one transaction syncs, the
    /// next gathers anyway).
    public var commitDelayMilliseconds: Int = 0

    public init() {}
}

/// Where and how the shipper sends batches to central.
public struct ShippingSettings: Sendable, Equatable {
    public var centralURL: String
    public var batchMaxHits: Int = 5000
    public var batchIntervalSeconds: Int = 5
    /// Longest wait between retries while central is unreachable.
    public var maxBackoffSeconds: Int = 60
    /// `/healthz` reports the shipper stalled once a hit waiting to ship is older than this.
    public var stallAfterSeconds: Int = 300
    /// Ed25519 private key that signs batches (`tally-edge keygen`).
    public var signingKeyFile: String
    /// The edge's client certificate and key for mutual TLS, and the CA that central's certificate chains to.
    public var clientCertificateFile: String
    public var clientKeyFile: String
    public var centralCAFile: String
}
