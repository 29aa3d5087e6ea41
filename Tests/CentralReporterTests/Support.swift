import CentralReporter
import Crypto
import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import TallyCore
import TallyTestSupport

enum Paths {
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
}

/// A scratch directory with the development PKI (made by scripts/dev-pki.sh, with the test
/// certificates) and Ed25519 keys for edge-1 and edge-2.
final class CentralSandbox: @unchecked Sendable {
    let path: String
    let edge1Key = Curve25519.Signing.PrivateKey()
    let edge2Key = Curve25519.Signing.PrivateKey()
    var pki: String { path + "/pki" }

    init() async throws {
        path = NSTemporaryDirectory() + "tally-central-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let (status, output) = try await run("/bin/bash", [Paths.packageRoot.appendingPathComponent("scripts/dev-pki.sh").path, pki, "edge-1", "edge-2", "--test-certs"])
        guard status == 0 else { throw SandboxError.pki(output) }
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    var configTOML: String {
        """
        data_dir = "\(path)/data"
        [ingest]
        listen = "127.0.0.1:0"
        certificate_file = "\(pki)/central.crt"
        key_file = "\(pki)/central.key"
        edge_ca_file = "\(pki)/edge-ca.crt"
        max_batch_bytes = 65536

        [[edges]]
        id = "edge-1"
        public_key = "\(edge1Key.publicKey.rawRepresentation.base64EncodedString())"

        [[edges]]
        id = "edge-2"
        public_key = "\(edge2Key.publicKey.rawRepresentation.base64EncodedString())"
        """
    }

    func batch(edge: String = "edge-1", sequence: Int64, hits: Int = 3, key: Curve25519.Signing.PrivateKey? = nil, distinctTitles: Bool = false) throws -> Data {
        let records = (0..<hits).map { index in
            var hit = Hit(siteID: 1, kind: .pageview, timestamp: 1_795_478_400_000 + Int64(index))
            hit.url = "https://example.com/\(sequence)/\(index)"
            hit.visitorID = "00000000000000\(String(format: "%02x", index % 256))"
            // Random titles do not compress, for batches that must be large on the wire.
            if distinctTitles { hit.title = UUID().uuidString }
            return hit
        }
        let header = BatchHeader(edgeID: edge, sequence: sequence, createdAt: 1_795_478_400_000, hitCount: hits, policyDigest: String(repeating: "ab", count: 32), bodyBytes: 0)
        return try BatchFormat.encode(hits: records, header: header, key: key ?? (edge == "edge-2" ? edge2Key : edge1Key))
    }

    func write(_ data: Data, _ name: String) throws -> String {
        let file = path + "/" + name
        try data.write(to: URL(fileURLWithPath: file))
        return file
    }
}

enum SandboxError: Error { case pki(String) }

/// `tally-central`, built beside the test bundle (`swift build --build-tests` builds every product).
let centralBinary: String = {
    let besideTests = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        .deletingLastPathComponent().appendingPathComponent("tally-central").path
    if FileManager.default.isExecutableFile(atPath: besideTests) { return besideTests }
    return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent(".build/debug/tally-central").path
}()

/// Runs a program to completion on its own thread, so waiting for it never holds one of the few
/// cooperative threads that the in-process servers under test need to answer it.
@discardableResult
func run(_ executable: String, _ arguments: [String]) async throws -> (Int32, String) {
    let run = try await offThread { try runToCompletion(executable, arguments) }
    return (run.status, run.text)
}

/// Central's ingest application running in this process on a loopback port.
struct RunningCentral {
    let components: CentralComponents
    let port: Int
    let group: ServiceGroup
    let task: Task<Void, any Error>

    static func start(_ sandbox: CentralSandbox) async throws -> RunningCentral {
        var logger = Logger(label: "tally-central-test")
        logger.logLevel = .warning
        let components = try await CentralComponents(config: try CentralConfig.parse(toml: sandbox.configTOML), logger: logger)
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let app = try buildCentralApplication(components: components, logger: logger) { port in continuation.yield(port) }
        let group = ServiceGroup(configuration: .init(services: [app], logger: logger))
        let task = Task { try await group.run() }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw SandboxError.pki("central did not start") }
        return RunningCentral(components: components, port: port, group: group, task: task)
    }

    func stop() async throws {
        await group.triggerGracefulShutdown()
        try await task.value
    }

    /// POSTs a batch file with curl; returns curl's exit status, the HTTP status (0 without a response) and the body.
    func post(_ file: String, certificate: String?, key: String?, sandbox: CentralSandbox, extra: [String] = []) async throws -> (curl: Int32, http: Int, body: String) {
        var arguments = ["-s", "-o", sandbox.path + "/response", "-w", "%{http_code}", "--cacert", sandbox.pki + "/central-ca.crt",
                         "-H", "Content-Type: application/octet-stream", "--data-binary", "@" + file]
        if let certificate, let key { arguments += ["--cert", certificate, "--key", key] }
        arguments += extra + ["https://localhost:\(port)/v1/batches"]
        let (status, output) = try await run("/usr/bin/curl", arguments)
        let body = (try? String(contentsOfFile: sandbox.path + "/response", encoding: .utf8)) ?? ""
        try? FileManager.default.removeItem(atPath: sandbox.path + "/response")
        return (status, Int(output) ?? 0, body)
    }
}
