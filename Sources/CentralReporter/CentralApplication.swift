import Crypto
import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOSSL
import ServiceLifecycle
import TallyCore
import TallyHTTP

/// Everything central is made of, built from its configuration; `tally-central run` and the tests use
/// the same builder.
public struct CentralComponents: Sendable {
    public let config: CentralConfig
    public let store: any CentralStore
    public let ingest: BatchIngest
    public let aggregation: AggregationService
    public let reports: ReportEngine
    public let scheduler: ReportScheduler
    let tls: TLSConfiguration

    public init(config: CentralConfig, clock: any TallyClock = SystemClock(), logger: Logger) async throws {
        self.config = config
        if !FileManager.default.fileExists(atPath: config.dataDirectory) {
            do {
                try FileManager.default.createDirectory(atPath: config.dataDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            } catch {
                throw CentralError.dataDirectory(path: config.dataDirectory, reason: "\(error)")
            }
        }
        tls = try Self.tlsConfiguration(config.ingest)
        try config.checkSecretFiles()
        store = try await Self.openStore(config, logger: logger)
        ingest = BatchIngest(config: config, store: store, clock: clock, logger: logger)
        aggregation = AggregationService(store: store, config: config, clock: clock, logger: logger)
        reports = ReportEngine(store: store, config: config, clock: clock)
        scheduler = ReportScheduler(config: config, store: store, reports: reports, mailer: try config.smtp.map { try SMTPMailer(settings: $0) }, clock: clock, logger: logger)
    }

    /// The configured store: the PostgreSQL database of `[store] url`, or the embedded SQLite file.
    static func openStore(_ config: CentralConfig, logger: Logger) async throws -> any CentralStore {
        let zones: @Sendable (Int) -> TimeZone = { config.timeZone(site: $0) }
        if config.store.postgres != nil {
            return try await PostgresCentralStore.open(config.store, zones: zones, logger: logger)
        }
        return try SQLiteCentralStore.open(path: config.storePath, zones: zones)
    }

    /// The store and report engine alone, for the command line (no TLS files needed).
    public init(offlineConfig config: CentralConfig, clock: any TallyClock = SystemClock(), mailer: (any Mailer)? = nil, logger: Logger) async throws {
        self.config = config
        try FileManager.default.createDirectory(atPath: config.dataDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        store = try await Self.openStore(config, logger: logger)
        ingest = BatchIngest(config: config, store: store, clock: clock, logger: logger)
        aggregation = AggregationService(store: store, config: config, clock: clock, logger: logger)
        reports = ReportEngine(store: store, config: config, clock: clock)
        scheduler = ReportScheduler(config: config, store: store, reports: reports, mailer: try mailer ?? config.smtp.map { try SMTPMailer(settings: $0) }, clock: clock, logger: logger)
        tls = TLSConfiguration.makeClientConfiguration()
    }

    /// TLS 1.3 only; a client certificate is required and must chain to the edge CA — never the
    /// system's default trust roots.
    /// Loads and checks the listener's TLS files without starting anything (`tally-central check-config`).
    public static func checkTLS(_ settings: IngestSettings) throws -> Bool {
        _ = try tlsConfiguration(settings)
        return true
    }

    static func tlsConfiguration(_ settings: IngestSettings) throws -> TLSConfiguration {
        if let problem = SecretFile.problem(settings.keyFile) {
            throw CentralError.tls(path: settings.keyFile, reason: problem)
        }
        let chain: [NIOSSLCertificate]
        let key: NIOSSLPrivateKey
        do {
            chain = try NIOSSLCertificate.fromPEMFile(settings.certificateFile)
        } catch {
            throw CentralError.tls(path: settings.certificateFile, reason: "does not hold a PEM certificate (\(error))")
        }
        do {
            key = try NIOSSLPrivateKey(file: settings.keyFile, format: .pem)
        } catch {
            throw CentralError.tls(path: settings.keyFile, reason: "does not hold a PEM private key (\(error))")
        }
        guard (try? NIOSSLCertificate.fromPEMFile(settings.edgeCAFile))?.isEmpty == false else {
            throw CentralError.tls(path: settings.edgeCAFile, reason: "does not hold the PEM certificate of the edge CA")
        }
        var tls = TLSConfiguration.makeServerConfigurationWithMTLS(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key),
            trustRoots: .file(settings.edgeCAFile))
        tls.minimumTLSVersion = .tlsv13
        return tls
    }
}

/// Central's ingest application: the mutual-TLS listener for edges' batches.
public func buildCentralApplication(
    components: CentralComponents, logger: Logger, services: [any Service] = [],
    onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
) throws -> some ApplicationProtocol {
    let config = components.config
    let router = Router(context: IngestRequestContext.self)
    IngestController(ingest: components.ingest, maxBatchBytes: config.ingest.limits.maxBatchBytes).addRoutes(to: router)
    return Application(
        router: router,
        server: try .tls(
            .http1(configuration: .guarded(config.connections, connections: ClientConnections(limit: config.connections.maxConnectionsPerClient))),
            tlsConfiguration: components.tls),
        configuration: .init(address: .hostname(config.ingest.host, port: config.ingest.port)),
        services: [components.aggregation, components.scheduler] + services,
        onServerRunning: { channel in
            let port = channel.localAddress?.port ?? config.ingest.port
            logger.notice("tally-central ingest listening", metadata: ["address": "\(config.ingest.host):\(port)", "edges": "\(config.edges.count)"])
            await onServerRunning(port)
        },
        logger: logger)
}

/// The reporting API on its own listener (default 127.0.0.1:8080), TLS when a certificate is configured.
public func buildAPIApplication(
    components: CentralComponents, clock: any TallyClock = SystemClock(), logger: Logger,
    onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
) throws -> some ApplicationProtocol {
    let config = components.config
    let router = Router(context: APIRequestContext.self)
    // One failure limiter for both APIs: a client cooling down is refused by either.
    let limiter = FailureLimiter(maxFailures: config.api.maxFailures, window: Double(config.api.failureWindowSeconds), cooldown: Double(config.api.cooldownSeconds))
    router.add(middleware: StoreUnavailableMiddleware(logger: logger))
    let group = router.group("api/v1")
    group.add(middleware: TokenAuthentication(store: components.store, limiter: limiter, clock: clock))
    ReportAPIController(config: config, reports: components.reports).addRoutes(to: group)
    MatomoAPIController(config: config, reports: components.reports, store: components.store, limiter: limiter, clock: clock)
        .addRoutes(to: router)
    CentralHealthController(store: components.store, clock: clock).addRoutes(to: router)
    let http: HTTPServerBuilder = .http1(
        configuration: .guarded(config.connections, connections: ClientConnections(limit: config.connections.maxConnectionsPerClient)))
    var server = http
    if let certificate = config.api.certificateFile, let key = config.api.keyFile {
        if let problem = SecretFile.problem(key) { throw CentralError.tls(path: key, reason: problem) }
        let tls = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMFile(certificate).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(file: key, format: .pem)))
        server = try .tls(http, tlsConfiguration: tls)
    }
    return Application(
        router: router, server: server,
        configuration: .init(address: .hostname(config.api.host, port: config.api.port)),
        onServerRunning: { channel in
            let port = channel.localAddress?.port ?? config.api.port
            logger.notice("tally-central API listening", metadata: ["address": "\(config.api.host):\(port)", "tls": "\(config.api.certificateFile != nil)"])
            await onServerRunning(port)
        },
        logger: logger)
}

/// SHA-256 of a configuration file's bytes, recorded in the audit log when central loads it.
public enum ConfigDigest {
    public static func of(file path: String) throws -> String {
        SHA256.hash(data: try Data(contentsOf: URL(fileURLWithPath: path))).map { String(format: "%02x", $0) }.joined()
    }
}

extension CentralConfig {
    /// The secrets `run` needs, checked when it starts rather than when first used, and by
    /// `check-config` alike: the API's TLS key private to its owner, and the SMTP password readable
    /// (a private file, or a set environment variable) so a scheduled mail never fails on it hours later.
    public func checkSecretFiles() throws {
        if let key = api.keyFile, let problem = SecretFile.problem(key) { throw CentralError.tls(path: key, reason: problem) }
        _ = try smtp?.password()
    }
}
