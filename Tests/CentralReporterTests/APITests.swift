import CentralReporter
import Foundation
import Logging
import ServiceLifecycle
import TallyCore
import Testing

/// The reporting API served on a loopback port over the fixture's data.
struct RunningAPI {
    let components: CentralComponents
    let port: Int
    let group: ServiceGroup
    let task: Task<Void, any Error>
    let directory: String

    static func start(
        now: String = "2026-11-02T12:00:00Z", tls: (certificate: String, key: String)? = nil,
        batches: [[Hit]] = [ReportFixture.hits, ReportFixture.site2Hits], backend: StoreBackend = .sqlite
    ) async throws -> RunningAPI {
        let directory = NSTemporaryDirectory() + "tally-api-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var components = try await ReportFixture.load(in: directory, backend: backend, batches: batches, now: now)
        if let tls {
            var config = components.config
            config.api.certificateFile = tls.certificate
            config.api.keyFile = tls.key
            components = try await CentralComponents(offlineConfig: config, clock: FixedClock(ISO8601DateFormatter().date(from: now)!), logger: .init(label: "api-test"))
        }
        let clock = FixedClock(ISO8601DateFormatter().date(from: now)!)
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        var logger = Logger(label: "api-test")
        logger.logLevel = .warning
        let app = try buildAPIApplication(components: components, clock: clock, logger: logger) { continuation.yield($0) }
        let group = ServiceGroup(configuration: .init(services: [app], logger: logger))
        let task = Task { try await group.run() }
        var iterator = ports.makeAsyncIterator()
        let port = await iterator.next() ?? 0
        return RunningAPI(components: components, port: port, group: group, task: task, directory: directory)
    }

    func stop() async throws {
        await group.triggerGracefulShutdown()
        try await task.value
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// GET with curl; returns status, content type and body.
    func get(_ path: String, token: String?, tlsCA: String? = nil) async throws -> (status: Int, type: String, body: String) {
        var arguments = ["-s", "-o", directory + "/body", "-w", "%{http_code} %{content_type}"]
        if let token { arguments += ["-H", "Authorization: Bearer \(token)"] }
        if let tlsCA {
            arguments += ["--cacert", tlsCA, "https://localhost:\(port)\(path)"]
        } else {
            arguments.append("http://127.0.0.1:\(port)\(path)")
        }
        let (_, output) = try await run("/usr/bin/curl", arguments)
        let parts = output.split(separator: " ", maxSplits: 1)
        let body = (try? String(contentsOfFile: directory + "/body", encoding: .utf8)) ?? ""
        return (Int(parts.first ?? "") ?? 0, parts.count > 1 ? String(parts[1]) : "", body)
    }
}

@Suite("Reporting API", .serialized)
struct APITests {
    static let now = ISO8601DateFormatter().date(from: "2026-11-02T12:00:00Z")!

    @Test("A token reads its sites' reports in every format with the right content type", arguments: StoreBackend.all)
    func reports(_ backend: StoreBackend) async throws {
        let api = try await RunningAPI.start(backend: backend)
        let (token, _) = try await api.components.store.createToken(name: "stakeholders", sites: [1], role: .viewer, expiresAt: nil, now: Self.now)
        let json = try await api.get("/api/v1/reports/summary?site=1&period=range&date=2026-10-24,2026-10-26", token: token)
        #expect(json.status == 200 && json.type == "application/json")
        #expect(json.body.contains(#""visits":8"#) && json.body.contains(#""unique_visitors":4"#))
        let csv = try await api.get("/api/v1/reports/countries?site=1&period=month&date=2026-10-01&format=csv", token: token)
        #expect(csv.status == 200 && csv.type == "text/csv; charset=utf-8")
        #expect(csv.body.hasPrefix("label,visits,actions,bounce_rate,avg_visit_duration,actions_per_visit\r\nFR,3,"))
        let text = try await api.get("/api/v1/reports/pages?site=1&period=week&date=2026-10-21&format=text&limit=2", token: token)
        #expect(text.status == 200 && text.type == "text/plain; charset=utf-8")
        #expect(text.body.contains("Pages — Example 例え (site 1)") && text.body.contains("Others"))
        let sites = try await api.get("/api/v1/sites", token: token)
        #expect(sites.body == #"[{"id":1,"name":"Example 例え","time_zone":"Europe\/Berlin"}]"# + "\n")
        // The ecommerce, product, content and dimension reports come through the same API.
        let ecommerce = try await api.get("/api/v1/reports/ecommerce?site=1&period=day&date=2026-10-26&format=csv", token: token)
        #expect(ecommerce.status == 200 && ecommerce.body.hasPrefix("label,orders,revenue,avg_order_value,items,conversion_rate,abandoned_carts\r\n"))
        for report in ["product_skus", "product_names", "product_categories", "contents", "dimension4"] {
            #expect(try await api.get("/api/v1/reports/\(report)?site=1&period=day&date=2026-10-26", token: token).status == 200, "\(report)")
        }
        #expect(try await api.get("/api/v1/reports/dimension1000?site=1", token: token).status == 404)
        #expect(try await api.get("/api/v1/reports/nonsense?site=1", token: token).status == 404)
        #expect(try await api.get("/api/v1/reports/pages?site=1&date=2026-13-01", token: token).status == 400)
        try await api.stop()
    }

    @Test("A viewer token for site 1 cannot read site 2: 404, no data")
    func scope() async throws {
        let api = try await RunningAPI.start()
        let (viewer, _) = try await api.components.store.createToken(name: "site 1 only", sites: [1], role: .viewer, expiresAt: nil, now: Self.now)
        let denied = try await api.get("/api/v1/reports/pages?site=2&period=day&date=2026-10-24", token: viewer)
        #expect(denied.status == 404 && denied.body == "Site 2 not found.\n")
        let missing = try await api.get("/api/v1/reports/pages?site=3&period=day&date=2026-10-24", token: viewer)
        #expect(missing.status == 404 && missing.body == "Site 3 not found.\n", "a site out of scope looks like one that does not exist")
        let (admin, _) = try await api.components.store.createToken(name: "operator", sites: nil, role: .admin, expiresAt: nil, now: Self.now)
        let allowed = try await api.get("/api/v1/reports/pages?site=2&period=day&date=2026-10-24", token: admin)
        #expect(allowed.status == 200 && allowed.body.contains("secret-site-2"))
        try await api.stop()
    }

    @Test("Missing, wrong, revoked and expired tokens all get the same 401; the expired use is audited", arguments: StoreBackend.all)
    func unauthorized(_ backend: StoreBackend) async throws {
        let api = try await RunningAPI.start(backend: backend)
        let store = api.components.store
        let (revoked, record) = try await store.createToken(name: "old", sites: [1], role: .viewer, expiresAt: nil, now: Self.now)
        #expect(try await store.revokeToken(id: record.id, now: Self.now))
        let (expired, _) = try await store.createToken(name: "temp", sites: [1], role: .viewer, expiresAt: Self.now.addingTimeInterval(-60), now: Self.now.addingTimeInterval(-86_400))
        var answers: Set<String> = []
        for token in [nil, "tly_wrong", revoked, expired] {
            let result = try await api.get("/api/v1/reports/summary?site=1", token: token)
            #expect(result.status == 401)
            answers.insert(result.body)
        }
        #expect(answers == ["Authentication required.\n"])
        #expect(try await store.auditEvents().contains("token_used_after_expiry"))
        #expect(try await store.auditEvents().filter { $0 == "token_created" }.count == 2)
        #expect(try await store.auditEvents().contains("token_revoked"))
        try await api.stop()
    }

    @Test("30 wrong tokens from one client: 429 with Retry-After, even for a valid token during the cool-down")
    func rateLimit() async throws {
        let api = try await RunningAPI.start()
        let (valid, _) = try await api.components.store.createToken(name: "ok", sites: [1], role: .viewer, expiresAt: nil, now: Self.now)
        var statuses: [Int] = []
        for attempt in 0..<30 {
            statuses.append(try await api.get("/api/v1/sites", token: "tly_guess\(attempt)").status)
        }
        #expect(statuses.prefix(10).allSatisfy { $0 == 401 })
        #expect(statuses.dropFirst(10).allSatisfy { $0 == 429 })
        #expect(try await api.get("/api/v1/sites", token: valid).status == 429)
        try await api.stop()
    }

    @Test("With a certificate configured the API speaks TLS, and plain HTTP gets no report")
    func tls() async throws {
        let pki = try await CentralSandbox()
        let api = try await RunningAPI.start(tls: (pki.pki + "/central.crt", pki.pki + "/central.key"))
        let (token, _) = try await api.components.store.createToken(name: "tls", sites: [1], role: .viewer, expiresAt: nil, now: Self.now)
        let secure = try await api.get("/api/v1/reports/summary?site=1&period=range&date=2026-10-24,2026-10-26", token: token, tlsCA: pki.pki + "/central-ca.crt")
        #expect(secure.status == 200 && secure.body.contains(#""visits":8"#), "\(secure)")
        let plain = try await api.get("/api/v1/sites", token: token)
        #expect(plain.status != 200)
        let untrusted = try await api.get("/api/v1/sites", token: token, tlsCA: pki.pki + "/edge-ca.crt")
        #expect(untrusted.status == 0, "a client that does not trust the certificate's CA gets no answer")
        try await api.stop()
    }

    @Test("Tokens are not in the database in clear")
    func hashedAtRest() async throws {
        let api = try await RunningAPI.start()
        let (token, _) = try await api.components.store.createToken(name: "secret", sites: [1], role: .viewer, expiresAt: nil, now: Self.now)
        #expect(try await api.get("/api/v1/sites", token: token).status == 200)
        let path = api.components.config.storePath
        for suffix in ["", "-wal"] {
            if let data = FileManager.default.contents(atPath: path + suffix) {
                #expect(data.range(of: Data(token.utf8)) == nil)
                #expect(data.range(of: Data(token.dropFirst(4).prefix(20).utf8)) == nil)
            }
        }
        #expect(try await api.components.store.tokens().first?.lastUsedAt != nil)
        try await api.stop()
    }
}
