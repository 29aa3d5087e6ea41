import Crypto
import Foundation
import TallyCore
import TallyHTTP

/// Central's configuration, validated. Built from `central.toml` by `CentralConfig.load(path:)`.
public struct CentralConfig: Sendable {
    public var dataDirectory: String
    public var logLevel: String
    public var ingest: IngestSettings
    /// The edges allowed to send batches, by id.
    public var edges: [RegisteredEdge]
    /// The sites reports are made for; days are counted in each site's time zone.
    public var sites: [ReportSite]
    public var aggregation: AggregationSettings
    public var api: APISettings
    /// The edges' user-id key (their `user_id_key_file`), to find a data subject's hashed user id.
    public var userIDKeyFile: String?
    public var smtp: SMTPSettings?
    public var schedules: [ReportSchedule] = []
    /// How often the scheduler looks for reports due.
    public var schedulerIntervalSeconds = 30
    /// Deadlines and the per-client connection cap of both listeners (`[connections]`).
    public var connections = ListenerLimits()
    /// Where central keeps its data (`[store]`): the embedded SQLite file, or a PostgreSQL database.
    public var store = StoreSettings()

    public var storePath: String { (dataDirectory as NSString).appendingPathComponent("central.sqlite") }

    public func edge(id: String) -> RegisteredEdge? { edges.first { $0.id == id } }
    public func site(id: Int) -> ReportSite? { sites.first { $0.id == id } }

    /// The time zone days are counted in for a site; UTC for hits of a site central does not know.
    public func timeZone(site: Int) -> TimeZone { self.site(id: site)?.timeZone ?? TimeZone.gmt }
}

/// A site as central reports on it.
public struct ReportSite: Sendable, Equatable {
    public var id: Int
    public var name: String
    public var timeZone: TimeZone

    public init(id: Int, name: String, timeZone: TimeZone) {
        self.id = id
        self.name = name
        self.timeZone = timeZone
    }
}

/// The reporting API's listener.
public struct APISettings: Sendable, Equatable {
    public var host = "127.0.0.1"
    public var port = 8080
    /// With both set, the API speaks TLS (1.2 or newer); without, plain HTTP (for loopback or behind a proxy).
    public var certificateFile: String?
    public var keyFile: String?
    /// Failed authentications from one client within `failureWindowSeconds` before it is cooled down.
    public var maxFailures = 10
    public var failureWindowSeconds = 300
    /// How long a client that failed too often is answered 429.
    public var cooldownSeconds = 300
}

public struct AggregationSettings: Sendable, Equatable {
    /// A visit ends after this many minutes without a hit (and at midnight in the site's time zone).
    public var visitGapMinutes = 30
    /// Raw hits older than this many days are purged; the daily aggregates stay.
    public var rawRetentionDays = 400
    /// How often the aggregation service looks for dirty days.
    public var intervalSeconds = 10
    /// How long a node may work on the dirty days it claimed before another node may take them over
    /// (a node killed mid-aggregation leaves its days to the others after this long).
    public var leaseSeconds = 300
}

/// The mutual-TLS listener edges ship to.
public struct IngestSettings: Sendable {
    public var host: String
    public var port: Int
    public var certificateFile: String
    public var keyFile: String
    /// The CA every edge client certificate must chain to.
    public var edgeCAFile: String
    public var limits: BatchLimits
}

/// An edge central accepts batches from: its id (the CN of its client certificate) and the Ed25519
/// public key its batches are signed with.
public struct RegisteredEdge: Sendable {
    public var id: String
    public var publicKeyBase64: String

    public var publicKey: Curve25519.Signing.PublicKey? { SigningKeyFile.publicKey(base64: publicKeyBase64) }
}

extension CentralConfig {
    public static func load(path: String) throws -> CentralConfig {
        try parse(toml: try TOMLReader.load(path: path), path: path)
    }

    public static func parse(toml text: String, path: String = "central.toml") throws -> CentralConfig {
        var root = try TOMLReader.parse(text, path: path)
        let dataDirectory = try root.requiredString("data_dir")
        let logLevel = try root.string("log_level") ?? "info"
        let userIDKeyFile = try root.string("user_id_key_file")
        guard ["trace", "debug", "info", "notice", "warning", "error", "critical"].contains(logLevel) else {
            throw ConfigError.invalid(key: "log_level", value: "\"\(logLevel)\"", expected: "one of trace, debug, info, notice, warning, error, critical")
        }

        guard var ingestReader = try root.subtable("ingest") else { throw ConfigError.missing(key: "[ingest]") }
        let listen = try ingestReader.string("listen") ?? "0.0.0.0:8443"
        let (host, port) = try ListenAddress.parse(listen, key: ingestReader.path("listen"))
        var limits = BatchLimits()
        if let v = try ingestReader.int("max_batch_bytes", in: 1024...(1 << 30)) { limits.maxBatchBytes = v }
        if let v = try ingestReader.int("max_batch_hits", in: 1...1_000_000) { limits.maxHits = v }
        let ingest = IngestSettings(
            host: host, port: port,
            certificateFile: try ingestReader.requiredString("certificate_file"),
            keyFile: try ingestReader.requiredString("key_file"),
            edgeCAFile: try ingestReader.requiredString("edge_ca_file"),
            limits: limits)
        try ingestReader.rejectUnknownKeys()

        var edges: [RegisteredEdge] = []
        for var reader in try root.tableArray("edges") ?? [] {
            let id = try reader.requiredString("id")
            guard id.range(of: "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", options: .regularExpression) != nil else {
                throw ConfigError.invalid(key: reader.path("id"), value: "\"\(id)\"", expected: "1 to 64 letters, digits, '.', '_' or '-'")
            }
            guard !edges.contains(where: { $0.id == id }) else {
                throw ConfigError.invalid(key: reader.path("id"), value: "\"\(id)\"", expected: "an edge id not registered twice")
            }
            let key = try reader.requiredString("public_key")
            guard SigningKeyFile.publicKey(base64: key) != nil else {
                throw ConfigError.invalid(
                    key: reader.path("public_key"), value: "\"\(key)\"",
                    expected: "the base64 Ed25519 public key printed by tally-edge keygen")
            }
            try reader.rejectUnknownKeys()
            edges.append(RegisteredEdge(id: id, publicKeyBase64: key))
        }
        var sites: [ReportSite] = []
        for var reader in try root.tableArray("sites") ?? [] {
            guard let id = try reader.int("id", in: 1...Int(Int32.max)) else { throw ConfigError.missing(key: reader.path("id")) }
            guard !sites.contains(where: { $0.id == id }) else {
                throw ConfigError.invalid(key: reader.path("id"), value: String(id), expected: "a site id not used by another site")
            }
            let zoneName = try reader.string("time_zone") ?? "UTC"
            guard let zone = TimeZone(identifier: zoneName) else {
                throw ConfigError.invalid(key: reader.path("time_zone"), value: "\"\(zoneName)\"", expected: "an IANA time zone such as \"Europe/Berlin\"")
            }
            sites.append(ReportSite(id: id, name: try reader.string("name") ?? "Site \(id)", timeZone: zone))
            try reader.rejectUnknownKeys()
        }
        var aggregation = AggregationSettings()
        if var reader = try root.subtable("aggregation") {
            if let v = try reader.int("visit_gap_minutes", in: 1...1440) { aggregation.visitGapMinutes = v }
            if let v = try reader.int("raw_retention_days", in: 1...36_500) { aggregation.rawRetentionDays = v }
            if let v = try reader.int("interval_seconds", in: 1...3600) { aggregation.intervalSeconds = v }
            if let v = try reader.int("lease_seconds", in: 5...86_400) { aggregation.leaseSeconds = v }
            try reader.rejectUnknownKeys()
        }
        var api = APISettings()
        if var reader = try root.subtable("api") {
            let (host, port) = try ListenAddress.parse(try reader.string("listen") ?? "127.0.0.1:8080", key: reader.path("listen"))
            api.host = host
            api.port = port
            api.certificateFile = try reader.string("certificate_file")
            api.keyFile = try reader.string("key_file")
            if (api.certificateFile == nil) != (api.keyFile == nil) {
                throw ConfigError.invalid(key: reader.path(api.certificateFile == nil ? "key_file" : "certificate_file"), value: "set alone", expected: "both certificate_file and key_file, or neither")
            }
            if let v = try reader.int("max_failures", in: 1...10_000) { api.maxFailures = v }
            if let v = try reader.int("failure_window_seconds", in: 1...86_400) { api.failureWindowSeconds = v }
            if let v = try reader.int("cooldown_seconds", in: 1...86_400) { api.cooldownSeconds = v }
            try reader.rejectUnknownKeys()
        }
        let (smtp, schedules) = try parseMail(&root, sites: sites)
        let schedulerInterval = try root.int("scheduler_interval_seconds", in: 1...3600) ?? 30
        var connections = ListenerLimits()
        if var reader = try root.subtable("connections") {
            try connections.read(&reader)
            try reader.rejectUnknownKeys()
        }
        var store = StoreSettings()
        if var reader = try root.subtable("store") {
            store = try StoreSettings.read(&reader)
            try reader.rejectUnknownKeys()
        }
        try root.rejectUnknownKeys()
        return CentralConfig(
            dataDirectory: dataDirectory, logLevel: logLevel, ingest: ingest, edges: edges, sites: sites, aggregation: aggregation, api: api,
            userIDKeyFile: userIDKeyFile, smtp: smtp, schedules: schedules, schedulerIntervalSeconds: schedulerInterval,
            connections: connections, store: store)
    }
}
