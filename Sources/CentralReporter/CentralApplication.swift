import Foundation
import Hummingbird
import HummingbirdTLS
import Logging
import NIOSSL
import TallyCore

/// Everything central is made of, built from its configuration; `tally-central run` and the tests use
/// the same builder.
public struct CentralComponents: Sendable {
    public let config: CentralConfig
    public let store: CentralStore
    public let ingest: BatchIngest
    public let aggregation: AggregationService
    public let reports: ReportEngine
    let tls: TLSConfiguration

    public init(config: CentralConfig, clock: any TallyClock = SystemClock(), logger: Logger) throws {
        self.config = config
        if !FileManager.default.fileExists(atPath: config.dataDirectory) {
            do {
                try FileManager.default.createDirectory(atPath: config.dataDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            } catch {
                throw CentralError.dataDirectory(path: config.dataDirectory, reason: "\(error)")
            }
        }
        tls = try Self.tlsConfiguration(config.ingest)
        store = try CentralStore.open(path: config.storePath, zones: { config.timeZone(site: $0) })
        ingest = BatchIngest(config: config, store: store, clock: clock, logger: logger)
        aggregation = AggregationService(store: store, config: config, clock: clock, logger: logger)
        reports = ReportEngine(store: store, config: config, clock: clock)
    }

    /// The store and report engine alone, for the command line (no TLS files needed).
    public init(offlineConfig config: CentralConfig, clock: any TallyClock = SystemClock(), logger: Logger) throws {
        self.config = config
        try FileManager.default.createDirectory(atPath: config.dataDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        store = try CentralStore.open(path: config.storePath, zones: { config.timeZone(site: $0) })
        ingest = BatchIngest(config: config, store: store, clock: clock, logger: logger)
        aggregation = AggregationService(store: store, config: config, clock: clock, logger: logger)
        reports = ReportEngine(store: store, config: config, clock: clock)
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
    components: CentralComponents, logger: Logger,
    onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
) throws -> some ApplicationProtocol {
    let config = components.config
    let router = Router(context: IngestRequestContext.self)
    IngestController(ingest: components.ingest, maxBatchBytes: config.ingest.limits.maxBatchBytes).addRoutes(to: router)
    return Application(
        router: router,
        server: try .tls(.http1(), tlsConfiguration: components.tls),
        configuration: .init(address: .hostname(config.ingest.host, port: config.ingest.port)),
        services: [components.aggregation],
        onServerRunning: { channel in
            let port = channel.localAddress?.port ?? config.ingest.port
            logger.notice("tally-central ingest listening", metadata: ["address": "\(config.ingest.host):\(port)", "edges": "\(config.edges.count)"])
            await onServerRunning(port)
        },
        logger: logger)
}
