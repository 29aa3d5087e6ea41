import DeviceDetection
import TrackingInput
import Foundation
import TallyCore
import TallyHTTP

extension EdgeConfig {
    /// Reads and validates `edge.toml`; the first problem found is thrown as one clear sentence.
    public static func load(path: String) throws -> EdgeConfig {
        try parse(toml: try TOMLReader.load(path: path), path: path)
    }

    public static func parse(toml text: String, path: String = "edge.toml") throws -> EdgeConfig {
        var root = try TOMLReader.parse(text, path: path)

        let edgeID = try root.requiredString("edge_id")
        guard edgeID.range(of: "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", options: .regularExpression) != nil else {
            throw ConfigError.invalid(
                key: "edge_id", value: "\"\(edgeID)\"",
                expected: "1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit")
        }
        let listen = try root.string("listen") ?? "127.0.0.1:8081"
        let (host, port) = try ListenAddress.parse(listen, key: "listen")
        let dataDirectory = try root.requiredString("data_dir")
        let logLevel = try root.choice("log_level", as: LogLevelName.self)?.rawValue ?? "info"
        let geoIPDatabase = try root.string("geoip_database").flatMap { $0.isEmpty ? nil : $0 }
        let deviceDatabase = try root.string("device_database").flatMap { $0.isEmpty ? nil : $0 } ?? DeviceDatabase.installedDirectory
        // An empty string turns the crawler list off (device-detector's bot file alone).
        let crawlerPatterns = try root.string("crawler_patterns").map { $0.isEmpty ? nil : $0 } ?? CrawlerPatterns.installedPath
        let referrerDatabase = try root.string("referrer_database").flatMap { $0.isEmpty ? nil : $0 } ?? ReferrerDatabase.installedPath
        let trustedProxies = try (root.stringArray("trusted_proxies") ?? []).map { text in
            guard let range = CIDRRange(text) else {
                throw ConfigError.invalid(
                    key: "trusted_proxies", value: "\"\(text)\"",
                    expected: "an IPv4 or IPv6 address or CIDR range such as \"127.0.0.1/32\"")
            }
            return range
        }
        let userIDKeyFile = try root.string("user_id_key_file")
            ?? (dataDirectory as NSString).appendingPathComponent("user-id.key")

        var globalPolicy = PrivacyPolicy()
        if let privacy = try root.subtable("privacy") { globalPolicy = try globalPolicy.applying(privacy) }

        var buffer = BufferSettings()
        if var reader = try root.subtable("buffer") {
            if let v = try reader.choice("ack", as: BufferSettings.AckMode.self) { buffer.ack = v }
            if let v = try reader.int("max_buffer_bytes", in: 1024...Int(Int64.max)) { buffer.maxBufferBytes = v }
            if let v = try reader.int("retry_after_seconds", in: 1...86_400) { buffer.retryAfterSeconds = v }
            if let v = try reader.int("commit_delay_ms", in: 0...100) { buffer.commitDelayMilliseconds = v }
            try reader.rejectUnknownKeys()
        }

        var limits = RequestLimits()
        var listener = ListenerLimits()
        if var reader = try root.subtable("limits") {
            try listener.read(&reader)
            if let v = try reader.int("max_url_bytes", in: 256...65_536) { limits.maxURLBytes = v }
            if let v = try reader.int("max_body_bytes", in: 1024...(64 << 20)) { limits.maxBodyBytes = v }
            if let v = try reader.int("max_parameters", in: 10...1000) { limits.maxParameters = v }
            if let v = try reader.int("max_bulk_requests", in: 1...100_000) { limits.maxBulkRequests = v }
            if let v = try reader.int("max_value_bytes", in: 256...65_536) { limits.maxValueBytes = v }
            try reader.rejectUnknownKeys()
        }

        var shipping: ShippingSettings?
        if var reader = try root.subtable("shipping") {
            let url = try reader.requiredString("central_url")
            guard let components = URLComponents(string: url), components.scheme == "https", components.host != nil else {
                throw ConfigError.invalid(
                    key: "shipping.central_url", value: "\"\(url)\"",
                    expected: "an https:// URL such as \"https://central.example.org:8443/v1/batches\"")
            }
            var settings = ShippingSettings(
                centralURL: url,
                signingKeyFile: try reader.requiredString("signing_key_file"),
                clientCertificateFile: try reader.requiredString("client_certificate_file"),
                clientKeyFile: try reader.requiredString("client_key_file"),
                centralCAFile: try reader.requiredString("central_ca_file"))
            if let v = try reader.int("batch_max_hits", in: 1...100_000) { settings.batchMaxHits = v }
            if let v = try reader.int("batch_interval_seconds", in: 1...3600) { settings.batchIntervalSeconds = v }
            if let v = try reader.int("max_backoff_seconds", in: 1...3600) { settings.maxBackoffSeconds = v }
            if let v = try reader.int("stall_after_seconds", in: 1...604_800) { settings.stallAfterSeconds = v }
            try reader.rejectUnknownKeys()
            shipping = settings
        }

        guard let siteReaders = try root.tableArray("sites"), !siteReaders.isEmpty else {
            throw ConfigError.missing(key: "[[sites]]")
        }
        var sites: [SiteConfig] = []
        for var reader in siteReaders {
            guard let id = try reader.int("id", in: 1...Int(Int32.max)) else {
                throw ConfigError.missing(key: reader.path("id"))
            }
            if sites.contains(where: { $0.id == id }) {
                throw ConfigError.invalid(key: reader.path("id"), value: String(id), expected: "a site id not used by another site")
            }
            let name = try reader.string("name") ?? "Site \(id)"
            let domains = try (reader.stringArray("domains") ?? []).map { domain in
                let lower = domain.lowercased()
                guard lower.range(of: "^(\\*\\.)?[a-z0-9]([a-z0-9.-]*[a-z0-9])?$", options: .regularExpression) != nil else {
                    throw ConfigError.invalid(
                        key: reader.path("domains"), value: "\"\(domain)\"",
                        expected: "a host name such as \"example.com\" or \"*.example.com\"")
                }
                return lower
            }
            let zoneName = try reader.string("time_zone") ?? "UTC"
            guard let timeZone = TimeZone(identifier: zoneName) else {
                throw ConfigError.invalid(
                    key: reader.path("time_zone"), value: "\"\(zoneName)\"",
                    expected: "an IANA time zone such as \"Europe/Berlin\"")
            }
            let token = try reader.string("tracking_token_sha256")?.lowercased()
            if let token, token.range(of: "^[0-9a-f]{64}$", options: .regularExpression) == nil {
                throw ConfigError.invalid(
                    key: reader.path("tracking_token_sha256"), value: "\"\(token)\"",
                    expected: "64 hex digits (printf %s TOKEN | sha256sum)")
            }
            let excludeUnknownURLs = try reader.bool("exclude_unknown_urls") ?? false
            if excludeUnknownURLs, domains.isEmpty {
                throw ConfigError.invalid(
                    key: reader.path("exclude_unknown_urls"), value: "true",
                    expected: "false unless the site lists its domains (domains = [\"example.com\"])")
            }
            var siteSearch = SiteSearchSettings()
            if let v = try reader.bool("site_search") { siteSearch.enabled = v }
            if let v = try reader.stringArray("site_search_params") { siteSearch.keywordParameters = v.map { $0.lowercased() } }
            if let v = try reader.stringArray("site_search_category_params") { siteSearch.categoryParameters = v.map { $0.lowercased() } }
            let mainURL = try reader.string("main_url")
            if let mainURL, WebAddress(mainURL) == nil {
                throw ConfigError.invalid(key: reader.path("main_url"), value: "\"\(mainURL)\"", expected: "an http(s) address such as \"https://example.com\"")
            }
            var dimensions: [CustomDimension] = []
            for var dimensionReader in try reader.tableArray("dimensions") ?? [] {
                guard let dimensionID = try dimensionReader.int("id", in: 1...999) else { throw ConfigError.missing(key: dimensionReader.path("id")) }
                if dimensions.contains(where: { $0.id == dimensionID }) {
                    throw ConfigError.invalid(key: dimensionReader.path("id"), value: String(dimensionID), expected: "an id no other dimension of the site has")
                }
                let dimensionName = try dimensionReader.requiredString("name")
                let scope = try dimensionReader.choice("scope", as: CustomDimension.Scope.self) ?? .visit
                try dimensionReader.rejectUnknownKeys()
                dimensions.append(CustomDimension(id: dimensionID, name: dimensionName, scope: scope))
            }
            var policy = globalPolicy
            if let overrides = try reader.subtable("privacy") { policy = try policy.applying(overrides) }
            try reader.rejectUnknownKeys()
            sites.append(SiteConfig(
                id: id, name: name, domains: domains, excludeUnknownURLs: excludeUnknownURLs, configuredMainURL: mainURL, dimensions: dimensions, siteSearch: siteSearch, timeZone: timeZone,
                trackingTokenSHA256: token, policy: policy))
        }
        try root.rejectUnknownKeys()

        var config = EdgeConfig(
            edgeID: edgeID, listenHost: host, listenPort: port, dataDirectory: dataDirectory,
            logLevel: logLevel, geoIPDatabase: geoIPDatabase, trustedProxies: trustedProxies,
            userIDKeyFile: userIDKeyFile, globalPolicy: globalPolicy, sites: sites, buffer: buffer,
            limits: limits, listener: listener, shipping: shipping)
        config.deviceDatabase = deviceDatabase
        config.crawlerPatterns = crawlerPatterns
        config.referrerDatabase = referrerDatabase
        return config
    }
}

enum LogLevelName: String, CaseIterable {
    case trace, debug, info, notice, warning, error, critical
}
