import Foundation
import GRDB
import TallyCore
import TallyTestSupport
import Testing
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// An edge and a central with the development PKI, the edge's signing key registered with central.
struct ShippingSandbox {
    let path: String
    let port: Int
    let apiPort: Int
    var edgeConfig: String { path + "/edge.toml" }
    var centralConfig: String { path + "/central.toml" }
    var edgeBuffer: String { path + "/edge/buffer.sqlite" }
    var centralStore: String { path + "/central/central.sqlite" }

    /// `edgeExtra` and `centralExtra` are added at the top of each configuration (before any table).
    init(edgeExtra: String = "", centralExtra: String = "", edgeTables: String = "", shippingExtra: String = "") async throws {
        path = NSTemporaryDirectory() + "tally-ship-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        port = try LoopbackPorts.reserve()
        apiPort = try LoopbackPorts.reserve()
        let pki = path + "/pki"
        let script = EdgeProcess.packageRoot.appendingPathComponent("scripts/dev-pki.sh").path
        let made = try await EdgeProcess.command([pki, "edge-1"], executable: script)
        guard made.status == 0 else { throw EdgeProcessError.exited(made.output) }
        let keygen = try await EdgeProcess.command(["keygen", "--out", path + "/edge.key"])
        let publicKey = keygen.output.trimmingCharacters(in: .whitespacesAndNewlines)
        try """
            data_dir = "\(path)/central"
            log_level = "trace"
            \(centralExtra)
            [ingest]
            listen = "127.0.0.1:\(port)"
            certificate_file = "\(pki)/central.crt"
            key_file = "\(pki)/central.key"
            edge_ca_file = "\(pki)/edge-ca.crt"
            [[edges]]
            id = "edge-1"
            public_key = "\(publicKey)"
            [api]
            listen = "127.0.0.1:\(apiPort)"
            [[sites]]
            id = 1
            name = "Example"
            """.write(toFile: centralConfig, atomically: true, encoding: .utf8)
        try """
            edge_id = "edge-1"
            listen = "127.0.0.1:0"
            data_dir = "\(path)/edge"
            log_level = "trace"
            trusted_proxies = ["127.0.0.1"]
            \(edgeExtra)
            \(edgeTables)
            [shipping]
            central_url = "https://localhost:\(port)/v1/batches"
            batch_max_hits = 25
            batch_interval_seconds = 1
            max_backoff_seconds = 1
            signing_key_file = "\(path)/edge.key"
            client_certificate_file = "\(pki)/edge-edge-1.crt"
            client_key_file = "\(pki)/edge-edge-1.key"
            central_ca_file = "\(pki)/central-ca.crt"
            \(shippingExtra)
            [[sites]]
            id = 1
            """.write(toFile: edgeConfig, atomically: true, encoding: .utf8)
    }

    func remove() { try? FileManager.default.removeItem(atPath: path) }

    func startCentral(_ name: String) async throws -> EdgeProcess {
        try await EdgeProcess.run(config: centralConfig, logPath: path + "/\(name).log", executable: EdgeProcess.binary("tally-central"))
    }

    func startEdge(_ name: String) async throws -> EdgeProcess {
        try await EdgeProcess.run(config: edgeConfig, logPath: path + "/\(name).log")
    }

    /// The page URLs central stored, with repeats.
    func centralURLs() throws -> [String] {
        guard FileManager.default.fileExists(atPath: centralStore) else { return [] }
        let queue = try DatabaseQueue(path: centralStore)
        return try queue.read { db in
            try String.fetchAll(db, sql: "SELECT url FROM hits")
        }
    }

    func edgeDepth() throws -> Int {
        let queue = try DatabaseQueue(path: edgeBuffer)
        return try queue.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM hits") ?? 0 }
    }

    /// Waits until the edge's buffer is empty and central holds `count` hits.
    func waitForDrain(count: Int) async throws {
        try await RobustnessTests.eventually("the edge drains \(count) hits to central", in: path) {
            try edgeDepth() == 0 && centralURLs().count >= count
        }
    }
}

@Suite("Edge to central, exactly once", .serialized)
struct ShippingTests {
    static let userAgent = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) ShipMarker/3.1 Chrome/120.0.0.0 Safari/537.36"

    /// Sends `perClient` hits with unique URLs from each of 8 clients; every request must be answered 200.
    /// A count, not a duration: the same load on a fast machine and on a busy CI runner.
    static func load(_ edge: EdgeProcess, label: String, perClient: Int) async -> (sent: Set<String>, failed: Int) {
        let session = URLSession(configuration: .ephemeral)
        return await withTaskGroup(of: ([String], Int).self) { group in
            for worker in 0..<8 {
                group.addTask {
                    var sent: [String] = []
                    var failed = 0
                    var n = 0
                    while n < perClient {
                        let url = "https://example.com/\(label)/\(worker)/\(n)"
                        let status = await edge.get(
                            "/matomo.php?idsite=1&rec=1&url=" + url.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!,
                            headers: ["User-Agent": userAgent, "X-Forwarded-For": "198.51.100.\(worker + 10)"], session: session)
                        if status == 200 { sent.append(url) } else { failed += 1 }
                        n += 1
                    }
                    return (sent, failed)
                }
            }
            var all = Set<String>()
            var failed = 0
            for await (urls, f) in group {
                all.formUnion(urls)
                failed += f
            }
            return (all, failed)
        }
    }

    @Test("kill -9 of central while shipping and of the edge mid-batch: central holds every hit exactly once")
    func exactlyOnce() async throws {
        let sandbox = try await ShippingSandbox()
        defer { sandbox.remove() }
        var central = try await sandbox.startCentral("central-1")
        var edge = try await sandbox.startEdge("edge-1")
        var sent = Set<String>()

        var round = await Self.load(edge, label: "a", perClient: 150)
        #expect(round.failed == 0)
        sent.formUnion(round.sent)
        central.signal(SIGKILL)  // while batches are flowing
        _ = await central.waitForExit()

        round = await Self.load(edge, label: "b", perClient: 150)  // central is down: the edge keeps accepting
        #expect(round.failed == 0)
        sent.formUnion(round.sent)
        #expect(try sandbox.edgeDepth() > 0)

        central = try await sandbox.startCentral("central-2")
        let before = try sandbox.centralURLs().count
        try await RobustnessTests.eventually("the backlog starts to drain", in: sandbox.path) { try sandbox.centralURLs().count > before }
        edge.signal(SIGKILL)  // while it drains the backlog, batch by batch
        _ = await edge.waitForExit()
        let midway = try sandbox.centralURLs().count
        edge = try await sandbox.startEdge("edge-2")

        round = await Self.load(edge, label: "c", perClient: 75)
        #expect(round.failed == 0)
        sent.formUnion(round.sent)
        try await sandbox.waitForDrain(count: sent.count)

        let stored = try sandbox.centralURLs()
        #expect(stored.count == sent.count, "central holds \(stored.count) hits for \(sent.count) sent (\(midway) before the edge was killed)")
        #expect(Set(stored).count == stored.count, "no hit is stored twice")
        #expect(Set(stored) == sent, "every sent hit is stored")

        // Privacy at rest on central: no address or user agent in the store or its WAL.
        for suffix in ["", "-wal"] {
            guard let data = FileManager.default.contents(atPath: sandbox.centralStore + suffix) else { continue }
            #expect(data.range(of: Data("198.51.100.1".utf8)) == nil)
            #expect(data.range(of: Data("ShipMarker".utf8)) == nil)
        }
        edge.signal(SIGTERM)
        central.signal(SIGTERM)
        #expect(await edge.waitForExit() == 0)
        #expect(await central.waitForExit() == 0)
    }

    @Test("With central down the edge keeps accepting; the backlog drains completely when central returns")
    func centralDown() async throws {
        let sandbox = try await ShippingSandbox()
        defer { sandbox.remove() }
        let edge = try await sandbox.startEdge("edge")
        let round = await Self.load(edge, label: "down", perClient: 150)
        #expect(round.failed == 0)
        var status = try await EdgeProcess.command(["status", "-c", sandbox.edgeConfig])
        try await RobustnessTests.eventually("a send to the absent central fails", in: sandbox.path) {
            status = try await EdgeProcess.command(["status", "-c", sandbox.edgeConfig])
            return !status.output.contains("Send failures:   0")
        }
        #expect(try sandbox.edgeDepth() == round.sent.count, "nothing is lost or deleted while central is down")
        #expect(status.output.contains("Last shipment:   none yet"))
        #expect(!status.output.contains("Send failures:   0"))

        let central = try await sandbox.startCentral("central")
        try await sandbox.waitForDrain(count: round.sent.count)
        #expect(try sandbox.edgeDepth() == 0)
        let stored = try sandbox.centralURLs()
        #expect(stored.count == round.sent.count && Set(stored) == round.sent)
        let after = try await EdgeProcess.command(["status", "-c", sandbox.edgeConfig])
        #expect(after.output.contains("Shipped:         \(round.sent.count) hits"))
        let audit = try await EdgeProcess.command(["audit", "-c", sandbox.centralConfig], executable: EdgeProcess.binary("tally-central"))
        #expect(audit.output.contains("config_loaded  path=\(sandbox.centralConfig) sha256="), "\(audit.output)")
        edge.signal(SIGTERM)
        central.signal(SIGTERM)
        #expect(await edge.waitForExit() == 0)
        #expect(await central.waitForExit() == 0)
    }

    @Test("keygen writes a private key file; group-readable keys stop start-up with one clear line; check-config validates central")
    func keysAndChecks() async throws {
        let sandbox = try await ShippingSandbox()
        defer { sandbox.remove() }
        let mode = try FileManager.default.attributesOfItem(atPath: sandbox.path + "/edge.key")[.posixPermissions] as? Int
        #expect(mode == 0o600)
        let central = try await EdgeProcess.command(["check-config", "-c", sandbox.centralConfig], executable: EdgeProcess.binary("tally-central"))
        #expect(central.status == 0)
        #expect(central.output.contains("Registered edges: edge-1"))

        chmod(sandbox.path + "/edge.key", 0o644)
        let edge = try await EdgeProcess.command(["run", "-c", sandbox.edgeConfig])
        #expect(edge.status == 1)
        #expect(edge.output.hasPrefix("tally-edge: The signing key cannot be used: \(sandbox.path)/edge.key is accessible by group or others (mode 644); run chmod 600 on it."), "\(edge.output)")
        #expect(edge.output.split(separator: "\n").count == 1)

        chmod(sandbox.path + "/pki/central.key", 0o644)
        let refused = try await EdgeProcess.command(["run", "-c", sandbox.centralConfig], executable: EdgeProcess.binary("tally-central"))
        #expect(refused.status == 1)
        #expect(refused.output.contains("central.key cannot be used: it is accessible by group or others"), "\(refused.output)")
    }
}
