import Crypto
import Foundation
import Hummingbird
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
        committer = GroupCommitter(sink: buffer, maxBytes: config.buffer.maxBufferBytes, ack: config.buffer.ack, logger: logger)
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

/// The edge's HTTP application: collection endpoints, health and metrics, with the group committer and
/// salt maintenance as services that shut down after the server has stopped taking requests.
public func buildEdgeApplication(
    components: EdgeComponents, clock: any TallyClock = SystemClock(), logger: Logger,
    onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
) -> some ApplicationProtocol {
    let config = components.config
    let router = Router(context: EdgeRequestContext.self)
    TrackingController(
        ingest: components.ingest, limits: config.limits,
        resolver: ClientAddressResolver(trustedProxies: config.trustedProxies), clock: clock, sites: config.sites
    ).addRoutes(to: router)
    SiteInfoController(sites: config.sites, limits: config.limits).addRoutes(to: router)
    OperationsController(
        buffer: components.buffer, committer: components.committer, maxBufferBytes: config.buffer.maxBufferBytes,
        stallAfterSeconds: config.shipping?.stallAfterSeconds, metrics: components.metrics, clock: clock
    ).addRoutes(to: router)
    // Trusted proxies carry many visitors' connections: the per-client cap does not apply to them.
    let proxies = config.trustedProxies
    let connections = ClientConnections(limit: config.listener.maxConnectionsPerClient) { client in
        IPAddress(client).map { address in proxies.contains { $0.contains(address) } } ?? false
    }
    return Application(
        router: router,
        server: .http1(configuration: .guarded(config.listener, connections: connections)),
        configuration: .init(address: .hostname(config.listenHost, port: config.listenPort), serverName: nil),
        services: [
            components.committer,
            SaltMaintenance(salts: components.salts, clock: clock, interval: .seconds(600), logger: logger),
        ] + (components.shipper.map { [$0] } ?? []),
        onServerRunning: { channel in
            let port = channel.localAddress?.port ?? config.listenPort
            logger.notice("tally-edge listening", metadata: ["address": "\(config.listenHost):\(port)", "edge_id": "\(config.edgeID)"])
            await onServerRunning(port)
        },
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
