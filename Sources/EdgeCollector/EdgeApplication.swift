import Crypto
import Foundation
import ServiceLifecycle
import UnixSignals
import Logging
import TallyCore
import TallyHTTP

/// Everything the edge is made of, built from its configuration. `tally-edge run` and the tests use the
/// same builder, so what is tested is what runs.
public struct EdgeComponents: Sendable {
    public let config: EdgeConfig
    public let buffer: HitBuffer
    public let salts: SaltStore
    public let pipeline: PrivacyPipeline
    public let committer: GroupCommitter
    public let metrics: EdgeMetrics
    public let ingest: TrackingIngest
    /// Present when `[shipping]` is configured.
    public let shipper: Shipper?

    /// Opens the data directory (created with mode 0700), the buffer, the salt state, the user-id key and
    /// the GeoIP database.
    public init(config: EdgeConfig, clock: any TallyClock = SystemClock(), transport: (any BatchTransport)? = nil, logger: Logger) throws {
        self.config = config
        try Self.prepareDataDirectory(config.dataDirectory)
        buffer = try HitBuffer.open(path: config.bufferPath, clock: clock)
        salts = try SaltStore(path: config.saltStatePath, now: clock.now())
        let geo: (any GeoLocator)? = try config.geoIPDatabase.map { try MaxMindGeoLocator(path: $0) }
        pipeline = try PrivacyPipeline(
            config: config, geo: geo, visitors: VisitorHasher(salts: salts),
            userIDs: try UserIDHasher.load(path: config.userIDKeyFile))
        committer = GroupCommitter(
            sink: buffer, maxBytes: config.buffer.maxBufferBytes, ack: config.buffer.ack,
            commitDelay: .milliseconds(config.buffer.commitDelayMilliseconds),
            loops: Array(EdgeHTTPServer.eventLoops.makeIterator()), logger: logger)
        metrics = EdgeMetrics()
        ingest = TrackingIngest(
            pipeline: pipeline, committer: committer, metrics: metrics,
            retryAfterSeconds: config.buffer.retryAfterSeconds, logger: logger)
        if let shipping = config.shipping {
            try config.checkSecretFiles()
            let key = try SigningKeyFile.load(path: shipping.signingKeyFile)
            shipper = Shipper(
                buffer: buffer,
                transport: try transport ?? CurlTransport(
                    url: shipping.centralURL, certificateFile: shipping.clientCertificateFile,
                    keyFile: shipping.clientKeyFile, caFile: shipping.centralCAFile),
                signingKey: key, edgeID: config.edgeID, settings: shipping, metrics: metrics, clock: clock, logger: logger)
        } else {
            shipper = nil
        }
    }

    static func prepareDataDirectory(_ path: String) throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else {
                throw ConfigError.invalid(key: "data_dir", value: "\"\(path)\"", expected: "a directory, not a file")
            }
            return
        }
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw ConfigError.invalid(key: "data_dir", value: "\"\(path)\"", expected: "a directory the edge can create and write")
        }
    }
}

/// The edge's services: the HTTP listener (collection endpoints, health and metrics), the group
/// committer, salt maintenance and the shipper. On shutdown the listener stops first and finishes its open
/// requests; then the committer commits what is pending.
public struct EdgeApplication: Sendable {
    let server: EdgeHTTPServer
    let services: [any Service]
    let logger: Logger

    /// Runs until SIGTERM or SIGINT.
    public func runService() async throws {
        try await ServiceGroup(configuration: configuration(signals: [.sigterm, .sigint])).run()
    }

    /// Runs until the group is shut down: `ServiceGroup.triggerGracefulShutdown()` (tests).
    public func serviceGroup() -> ServiceGroup {
        ServiceGroup(configuration: configuration(signals: []))
    }

    private func configuration(signals: [UnixSignal]) -> ServiceGroupConfiguration {
        // Services stop in reverse order: the listener first.
        var configuration = ServiceGroupConfiguration(
            services: (services + [server]).map { ServiceGroupConfiguration.ServiceConfiguration(service: $0) },
            gracefulShutdownSignals: signals, logger: logger)
        configuration.logger = logger
        return configuration
    }
}

/// Builds the edge's services from its components.
public func buildEdgeApplication(
    components: EdgeComponents, clock: any TallyClock = SystemClock(), logger: Logger,
    onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
) -> EdgeApplication {
    let config = components.config
    let routes = EdgeRoutes(components: components, clock: clock)
    // Trusted proxies carry many visitors' connections: the per-client cap does not apply to them.
    let proxies = config.trustedProxies
    let connections = ClientConnections(limit: config.listener.maxConnectionsPerClient) { client in
        IPAddress(client).map { address in proxies.contains { $0.contains(address) } } ?? false
    }
    let server = EdgeHTTPServer(
        host: config.listenHost, port: config.listenPort, routes: routes, limits: config.listener,
        maxBodyBytes: config.limits.maxBodyBytes, connections: connections, logger: logger,
        onServerRunning: { port in
            logger.notice("tally-edge listening", metadata: ["address": "\(config.listenHost):\(port)", "edge_id": "\(config.edgeID)"])
            await onServerRunning(port)
        })
    return EdgeApplication(
        server: server,
        services: [
            components.committer,
            SaltMaintenance(salts: components.salts, clock: clock, interval: .seconds(600), logger: logger),
        ] + (components.shipper.map { [$0] } ?? []),
        logger: logger)
}

extension EdgeConfig {
    /// The checks on key files that `run` makes before it starts, for `check-config` to make the same:
    /// the signing key and the TLS client key private to their owner and readable, the certificates
    /// readable, and the user-id key (once created) private.
    public func checkSecretFiles() throws {
        if let shipping {
            _ = try SigningKeyFile.load(path: shipping.signingKeyFile)
            if let problem = SecretFile.problem(shipping.clientKeyFile) {
                throw EdgeError.keyFile(path: shipping.clientKeyFile, reason: problem)
            }
            for file in [shipping.clientCertificateFile, shipping.centralCAFile] where !FileManager.default.isReadableFile(atPath: file) {
                throw EdgeError.keyFile(path: file, reason: "cannot be read")
            }
        }
        if FileManager.default.fileExists(atPath: userIDKeyFile), let problem = SecretFile.problem(userIDKeyFile) {
            throw EdgeError.keyFile(path: userIDKeyFile, reason: problem)
        }
    }
}

extension EdgeRoutes {
    /// The listener's routes over the edge's components.
    init(components: EdgeComponents, clock: any TallyClock) {
        let config = components.config
        self.init(
            tracking: TrackingController(
                ingest: components.ingest, limits: config.limits,
                resolver: ClientAddressResolver(trustedProxies: config.trustedProxies), clock: clock, sites: config.sites),
            siteInfo: SiteInfoController(sites: config.sites, limits: config.limits),
            operations: OperationsController(
                buffer: components.buffer, committer: components.committer, maxBufferBytes: config.buffer.maxBufferBytes,
                stallAfterSeconds: config.shipping?.stallAfterSeconds, metrics: components.metrics, clock: clock))
    }
}
