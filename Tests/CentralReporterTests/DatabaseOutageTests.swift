import CentralReporter
import Foundation
import Logging
import ServiceLifecycle
import TallyCore
import TallyTestSupport
import Testing

/// A PostgreSQL server of the test's own (scripts/postgres-server.sh), which the test can stop and start.
struct TestPostgresServer {
    let directory: String
    let url: String
    let passwordFile: String

    static let script = Paths.packageRoot.appendingPathComponent("scripts/postgres-server.sh").path

    static func start() async throws -> TestPostgresServer {
        let directory = NSTemporaryDirectory() + "tally-pg-" + UUID().uuidString
        let (status, output) = try await runScript([script, "start", directory])
        guard status == 0 else { throw CentralError.storeSettings("PostgreSQL did not start: \(output)") }
        var exports: [String: String] = [:]
        for line in output.split(separator: "\n") where line.hasPrefix("export ") {
            let pair = line.dropFirst(7).split(separator: "=", maxSplits: 1)
            if pair.count == 2 { exports[String(pair[0])] = String(pair[1]) }
        }
        guard let url = exports["TALLY_TEST_POSTGRES_URL"], let passwordFile = exports["TALLY_TEST_POSTGRES_PASSWORD_FILE"] else {
            throw CentralError.storeSettings("postgres-server.sh printed no URL: \(output)")
        }
        return TestPostgresServer(directory: directory, url: url, passwordFile: passwordFile)
    }

    /// `halt` (the database goes away, its data stays), `resume` or `stop` (removed).
    func control(_ action: String) async throws {
        let (status, output) = try await runScript([Self.script, action, directory])
        guard status == 0 else { throw CentralError.storeSettings("postgres-server.sh \(action) failed: \(output)") }
    }
}

/// Runs the server script with bash and waits for it with `waitpid` on a thread of its own. (Foundation's
/// `Process` may not notice the exit of a script whose grandchild, the PostgreSQL server, lives on.)
func runScript(_ arguments: [String]) async throws -> (Int32, String) {
    let log = NSTemporaryDirectory() + "tally-script-" + UUID().uuidString
    defer { try? FileManager.default.removeItem(atPath: log) }
    let status: Int32 = try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread {
            var actions = posix_spawn_file_actions_t()
            posix_spawn_file_actions_init(&actions)
            defer { posix_spawn_file_actions_destroy(&actions) }
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
            posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
            let argv = (["/bin/bash"] + arguments).map { strdup($0) } + [nil]
            defer { argv.forEach { free($0) } }
            var pid = pid_t()
            let spawned = posix_spawn(&pid, "/bin/bash", &actions, nil, argv, environ)
            guard spawned == 0 else { return continuation.resume(throwing: CentralError.storeSettings("bash did not start: errno \(spawned)")) }
            var status: Int32 = 0
            while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
            continuation.resume(returning: (status >> 8) & 0xff)
        }
    }
    return (status, (try? String(contentsOfFile: log, encoding: .utf8)) ?? "")
}

@Suite("A lost database", .enabled(if: StoreBackend.all.contains(.postgresql)))
struct DatabaseOutageTests {
    /// Retries `check` until it holds, whenever the database server writes a file (its write-ahead log,
    /// its log, its pid file as it stops and starts) or a second has passed without one (the pool
    /// retries connecting on its own schedule). The limit is a guard against a hang, not a timing
    /// assumption.
    static func eventually(server: TestPostgresServer, _ what: String, _ check: () async throws -> Bool) async throws {
        if try await FileChanges.wait(until: check, watching: [server.directory, server.directory + "/data"], limit: .seconds(600)) { return }
        Issue.record("gave up waiting: \(what)")
        throw CancellationError()
    }

    @Test("While PostgreSQL is down, ingest and both APIs answer 503 (with Retry-After) and store nothing; all recover when it returns, without a restart")
    func outage() async throws {
        let server = try await TestPostgresServer.start()
        let sandbox = try await CentralSandbox()
        do {
            let toml = sandbox.configTOML + """

                [api]
                listen = "127.0.0.1:0"
                [[sites]]
                id = 1
                name = "Example"
                time_zone = "UTC"
                [store]
                url = "\(server.url)"
                password_file = "\(server.passwordFile)"
                connect_timeout_seconds = 600
                """
            var logger = Logger(label: "outage-test")
            logger.logLevel = .critical
            let components = try await CentralComponents(config: try CentralConfig.parse(toml: toml), logger: logger)
            let (ports, continuation) = AsyncStream.makeStream(of: (String, Int).self)
            let ingestApp = try buildCentralApplication(components: components, logger: logger) { continuation.yield(("ingest", $0)) }
            let apiApp = try buildAPIApplication(components: components, logger: logger) { continuation.yield(("api", $0)) }
            let group = ServiceGroup(configuration: .init(services: [ingestApp, apiApp], logger: logger))
            let task = Task { try await group.run() }
            var listening: [String: Int] = [:]
            for await (name, port) in ports {
                listening[name] = port
                if listening.count == 2 { break }
            }
            let central = RunningCentral(components: components, port: listening["ingest"]!, group: group, task: task)
            let apiPort = listening["api"]!
            let (token, _) = try await components.store.createToken(name: "ops", sites: [1], role: .viewer, expiresAt: nil, now: Date())

            func post(_ sequence: Int64) async throws -> Int {
                let file = try sandbox.write(try sandbox.batch(sequence: sequence), "batch-\(sequence)")
                return try await central.post(file, certificate: sandbox.pki + "/edge-edge-1.crt", key: sandbox.pki + "/edge-edge-1.key", sandbox: sandbox).http
            }
            func get(_ path: String) async throws -> (status: Int, retryAfter: Bool, body: String) {
                let (_, output) = try await run("/usr/bin/curl", [
                    "-s", "-D", "-", "-H", "Authorization: Bearer \(token)", "http://127.0.0.1:\(apiPort)\(path)",
                ])
                let status = output.split(separator: " ", maxSplits: 2).dropFirst().first.flatMap { Int($0) } ?? 0
                return (status, output.lowercased().contains("\r\nretry-after: 5\r\n"), output)
            }
            let report = "/api/v1/reports/pages?site=1&period=year&date=2026-11-24&format=csv"

            // Start-up's and each request's wait for the database is a guard here, not a timing
            // assumption: a busy machine may starve this process. While the database is away, the pool
            // refuses requests once it has failed to connect for a minute, so the refusals below come
            // then at the latest (in production after connect_timeout_seconds, 10 by default).
            #expect(try await post(1) == 200)
            try await Self.eventually(server: server, "the first batch is aggregated") { try await get(report).body.contains("https://example.com/1/0") }

            try await server.control("halt")
            #expect(try await post(2) == 503, "ingest refuses what it cannot commit, so the edge keeps the batch and retries")
            let refused = try await get(report)
            #expect(refused.status == 503 && refused.retryAfter, "\(refused.body)")
            #expect(refused.body.hasSuffix("Central's store cannot be reached now; retry later.\n"), "\(refused.body)")
            #expect(try await get("/index.php?module=API&method=VisitsSummary.get&idSite=1&period=day&date=2026-11-24&format=json&token_auth=\(token)").status == 503)
            let health = try await get("/healthz")
            #expect(health.status == 503 && health.body.contains("\"status\":\"degraded\""), "\(health.body)")

            try await server.control("resume")
            try await Self.eventually(server: server, "ingest accepts again") { try await post(2) == 200 }
            try await Self.eventually(server: server, "the second batch is aggregated") { try await get(report).body.contains("https://example.com/2/0") }
            #expect(try await get("/healthz").status == 200)
            #expect(try await components.store.counts() == (6, 2), "nothing lost, nothing stored twice")
            try await central.stop()
        } catch {
            try? await server.control("stop")
            throw error
        }
        try await server.control("stop")
    }
}
