@testable import CentralReporter
import Foundation
import Logging
import TallyCore
import TallyTestSupport
import Testing

/// What only the PostgreSQL store has to show: several nodes on one database, partitions, and its failures.
@Suite("PostgreSQL store", .enabled(if: StoreBackend.all.contains(.postgresql)))
struct PostgresStoreTests {
    /// The settings of a new, empty database on the test server.
    static func newDatabase() async throws -> StoreSettings {
        let toml = "data_dir = \"/nonexistent\"\n[ingest]\ncertificate_file = \"x\"\nkey_file = \"x\"\nedge_ca_file = \"x\"\n"
        return try CentralConfig.parse(toml: toml + (try await StoreBackend.postgresql.storeTable())).store
    }

    static func open(_ settings: StoreSettings) async throws -> PostgresCentralStore {
        try await PostgresCentralStore.open(settings, logger: Logger(label: "postgres-test"))
    }

    /// psql against the test server's database of `settings`; returns its output.
    static func psql(_ settings: StoreSettings, _ sql: String) async throws -> String {
        let environment = ProcessInfo.processInfo.environment
        let password = try String(contentsOfFile: environment["TALLY_TEST_POSTGRES_PASSWORD_FILE"] ?? "", encoding: .utf8).trimmingCharacters(in: .newlines)
        let p = try #require(settings.postgres)
        let (status, output) = try await run("/usr/bin/env", [
            "PGPASSWORD=\(password)", "psql", "postgresql://\(p.username)@\(p.host):\(p.port)/\(p.database)", "-qAt", "-c", sql,
        ])
        #expect(status == 0, "\(output)")
        return output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func header(_ sequence: Int64, count: Int) -> BatchHeader {
        BatchHeader(edgeID: "edge-1", sequence: sequence, createdAt: 1, hitCount: count, policyDigest: String(repeating: "0", count: 64), bodyBytes: 0)
    }

    @Test("The same batch delivered to two nodes at once is stored once; the others hear it is a duplicate, different bytes a conflict")
    func batchOnceAcrossNodes() async throws {
        let settings = try await Self.newDatabase()
        let (first, second) = (try await Self.open(settings), try await Self.open(settings))
        let hits = ReportFixture.hits
        let outcomes = try await withThrowingTaskGroup(of: StoreOutcome.self) { group in
            for attempt in 0..<16 {
                let node = attempt.isMultiple(of: 2) ? first : second
                group.addTask { try await node.store(Self.header(7, count: hits.count), hits: hits, contentSHA256: "same", receivedAt: Date()) }
            }
            return try await group.reduce(into: [StoreOutcome]()) { $0.append($1) }
        }
        #expect(outcomes.filter { $0 == .stored(hits: hits.count, missingBefore: 6) }.count == 1, "\(outcomes)")
        #expect(outcomes.filter { $0 == .duplicate }.count == 15)
        #expect(try await first.counts() == (hits.count, 1))
        #expect(try await second.store(Self.header(7, count: 1), hits: [hits[0]], contentSHA256: "other", receivedAt: Date()) == .conflict)
        #expect(try await first.counts() == (hits.count, 1))
    }

    @Test("Dirty days are claimed by one node at a time; a claim expires, and marking a day again releases it")
    func aggregationClaims() async throws {
        let settings = try await Self.newDatabase()
        let (first, second) = (try await Self.open(settings), try await Self.open(settings))
        _ = try await first.store(Self.header(1, count: ReportFixture.hits.count), hits: ReportFixture.hits, contentSHA256: "a", receivedAt: Date())
        let all = Set(try await first.dirtyDays())
        #expect(all.count == 3)
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let a = try await first.claimDirtyDays(limit: 2, now: now, until: now + 300)
        let b = try await second.claimDirtyDays(limit: 10, now: now, until: now + 600)
        #expect(a.count == 2 && Set(a).isDisjoint(with: b) && Set(a).union(b) == all, "\(a) \(b)")
        #expect(try await second.claimDirtyDays(limit: 10, now: now + 60, until: now + 360).isEmpty, "all claimed")
        // The node holding `a` dies: its claims expire and the other node takes them over.
        #expect(Set(try await second.claimDirtyDays(limit: 10, now: now + 301, until: now + 900)) == Set(a))
        // A batch for a claimed day releases its claim, so its new data is not left waiting for the lease.
        try await first.markDirty(site: 1, days: [b[0].day])
        #expect(try await first.claimDirtyDays(limit: 10, now: now + 302, until: now + 600) == [b[0]])
    }

    @Test("Every field of a record survives storage unchanged, and sparse records stay sparse")
    func roundTrip() async throws {
        let store = try await Self.open(try await Self.newDatabase())
        var sparse = Hit(siteID: 3, kind: HitKind(rawValue: "future_kind"), timestamp: HitStorageTests.fullHit.timestamp + 1)
        sparse.url = "tab\tnew\nline back\\slash"
        _ = try await store.store(Self.header(1, count: 2), hits: [HitStorageTests.fullHit, sparse], contentSHA256: "a", receivedAt: Date())
        let day = LocalDay(containing: Date(millisecondsSince1970: sparse.timestamp), in: .gmt)
        let input = try await store.dayInput(DirtyDay(site: 3, day: day))
        #expect(input.hits?.sorted { $0.timestamp < $1.timestamp } == [HitStorageTests.fullHit, sparse])
    }

    @Test("Purging raw hits drops the UTC-day partitions no other site still has hits in, deletes rows in the rest, keeps the reports")
    func purgeDropsPartitions() async throws {
        let settings = try await Self.newDatabase()
        let store = try await Self.open(settings)  // every site on UTC days here
        let hits = ReportFixture.hits + ReportFixture.site2Hits
        _ = try await store.store(Self.header(1, count: hits.count), hits: hits, contentSHA256: "a", receivedAt: Date())
        let partitions = { try await Self.psql(settings, "SELECT string_agg(relname, ',' ORDER BY relname) FROM pg_class c JOIN pg_inherits i ON c.oid = i.inhrelid WHERE i.inhparent = 'hits'::regclass") }
        #expect(try await partitions() == "hits_d20261024,hits_d20261025,hits_d20261026")
        try await store.recompute(try await store.dirtyDays(), gap: 1800)
        let (from, to) = (LocalDay("2026-10-24")!, LocalDay("2026-10-26")!)
        let before = try await store.periodRows(site: 1, report: "countries", from: from, to: to).sorted { $0.0 < $1.0 }

        // Site 1's hits before 2026-10-26: the 25th's partition holds only site 1's and goes; the 24th's
        // also holds site 2's hit, so there site 1's rows are deleted.
        let cutoff = to.bounds(in: .gmt).start.millisecondsSince1970
        let deleted = try await store.purge(site: 1, before: to, gap: 1800)
        #expect(deleted == ReportFixture.hits.filter { $0.timestamp < cutoff }.count)
        #expect(try await partitions() == "hits_d20261024,hits_d20261026")
        #expect(try await Self.psql(settings, "SELECT site_id FROM hits_d20261024") == "2")
        // Then site 2's: the 24th's partition is left with nothing of anyone's and goes too.
        #expect(try await store.purge(site: 2, before: to, gap: 1800) == 1)
        #expect(try await partitions() == "hits_d20261026")
        let after = try await store.periodRows(site: 1, report: "countries", from: from, to: to).sorted { $0.0 < $1.0 }
        #expect(after.map(\.0) == before.map(\.0) && after.map(\.1) == before.map(\.1), "the purged days' aggregates remain")

        // A late batch for a dropped day, stored by a node that had seen the partition before another dropped it.
        let other = try await Self.open(settings)
        _ = try await other.store(Self.header(2, count: 1), hits: [ReportFixture.site2Hits[0]], contentSHA256: "b", receivedAt: Date())
        _ = try await store.purge(site: 2, before: to, gap: 1800)
        var late = ReportFixture.site2Hits[0]
        late.url = "https://example.com/late"
        #expect(try await other.store(Self.header(3, count: 1), hits: [late], contentSHA256: "c", receivedAt: Date()) == .stored(hits: 1, missingBefore: 0))
        #expect(try await Self.psql(settings, "SELECT url FROM hits_d20261024") == "https://example.com/late")
    }

    @Test("migrate-store copies an SQLite store into PostgreSQL: same rows, same reports, tokens work; a second run copies nothing")
    func migrateStore() async throws {
        let directory = NSTemporaryDirectory() + "tally-migrate-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let sqlite = try await ReportFixture.load(in: directory, now: "2026-11-02T12:00:00Z")
        let (token, _) = try await sqlite.store.createToken(name: "dashboard", sites: [1], role: .viewer, expiresAt: nil, now: Date())
        let site = try #require(sqlite.config.site(id: 1))
        // Raw hits before Sunday purged: their batches and aggregates stay, their hits are gone.
        _ = try await sqlite.store.purge(site: 1, before: LocalDay("2026-10-25")!, gap: 1800)
        // The other days aggregated too: the copy marks them dirty again, which is no difference.
        try await sqlite.store.recompute(try await sqlite.store.dirtyDays(), gap: 1800)
        #expect(try await sqlite.store.dirtyDays().isEmpty)
        let config = directory + "/central.toml"
        try ReportFixture.configTOML.replacingOccurrences(of: "%DATA%", with: directory + "/data").write(toFile: config, atomically: true, encoding: .utf8)

        let settings = try await Self.newDatabase()
        let url = try #require(try await Self.targetOf(settings))
        let passwordFile = try #require(settings.passwordFile)
        let (status, output) = try await run(centralBinary, ["migrate-store", "-c", config, "--to", url, "--password-file", passwordFile])
        #expect(status == 0 && output.contains("Every table holds the same rows"), "\(output)")
        #expect(!output.contains("DIFFERENT"))
        // Run again (as after an interruption): nothing left to copy, every table still the same.
        let (again, second) = try await run(centralBinary, ["migrate-store", "-c", config, "--to", url, "--password-file", passwordFile])
        #expect(again == 0 && second.contains("0 batches copied") && second.contains("daily_rows: 0 rows copied"), "\(second)")

        // The same reports from both stores, over the purged and the kept days.
        let target = try await PostgresCentralStore.open(settings, zones: { sqlite.config.timeZone(site: $0) }, logger: Logger(label: "t"))
        let engine = ReportEngine(store: target, config: sqlite.config)
        let period = ReportPeriod(kind: .range, from: LocalDay("2026-10-24")!, to: LocalDay("2026-10-26")!)
        for id in ["summary", "countries", "pages", "referrer_types", "goals"] {
            let definition = try #require(ReportDefinition.named(id))
            let before = try await sqlite.reports.report(definition, site: site, period: period, limit: 100)
            let after = try await engine.report(definition, site: site, period: period, limit: 100)
            #expect(after.rows == before.rows, "\(id)")
        }
        #expect(try await target.authenticate(token: token, now: Date()).get().name == "dashboard")
        #expect(try await target.auditEvents() == (try await sqlite.store.auditEvents()))
        let made = try await target.createToken(name: "after", sites: nil, role: .admin, expiresAt: nil, now: Date())
        #expect(made.record.id > 1, "ids continue after the copied ones")
    }

    @Test("A database with a newer schema is refused with one sentence that says what to do")
    func newerSchema() async throws {
        let settings = try await Self.newDatabase()
        _ = try await Self.open(settings)
        _ = try await Self.psql(settings, "UPDATE tally_schema SET version = 99")
        do {
            _ = try await Self.open(settings)
            Issue.record("a newer schema was accepted")
        } catch let error as CentralError {
            #expect(error == .schemaTooNew(target: try #require(try await Self.targetOf(settings)), found: 99, known: PostgresCentralStore.schemaVersion))
            #expect("\(error)".contains("run the newer tally-central"))
        }
    }

    static func targetOf(_ settings: StoreSettings) async throws -> String? {
        settings.postgres.map { "postgresql://\($0.username)@\($0.host):\($0.port)/\($0.database)" }
    }

    @Test("An unreachable database stops start-up with one line naming it")
    func unreachable() async throws {
        var settings = try await Self.newDatabase()
        settings.postgres?.port = try LoopbackPorts.reserve()
        settings.connectTimeoutSeconds = 2
        do {
            _ = try await Self.open(settings)
            Issue.record("opened a database on a closed port")
        } catch let error as CentralError {
            let text = "\(error)"
            #expect(text.hasPrefix("The database postgresql://tally@127.0.0.1:\(settings.postgres!.port)/") && !text.contains("\n"), "\(text)")
        }
    }

    @Test("[store] refuses a password in the configuration and database settings without a url")
    func settings() throws {
        let base = "data_dir = \"/x\"\n[ingest]\ncertificate_file = \"x\"\nkey_file = \"x\"\nedge_ca_file = \"x\"\n[store]\n"
        #expect(throws: ConfigError.self) { try CentralConfig.parse(toml: base + "url = \"postgresql://tally:secret@db/tally\"") }
        #expect(throws: ConfigError.self) { try CentralConfig.parse(toml: base + "password = \"secret\"\nurl = \"postgresql://tally@db/tally\"") }
        #expect(throws: ConfigError.self) { try CentralConfig.parse(toml: base + "password_file = \"/run/secret\"") }
        #expect(throws: ConfigError.self) { try CentralConfig.parse(toml: base + "url = \"mysql://tally@db/tally\"") }
        let parsed = try CentralConfig.parse(toml: base + "url = \"postgresql://tally@db.internal/analytics\"\npassword_env = \"TALLY_DB_PASSWORD\"").store
        #expect(parsed.postgres == .init(host: "db.internal", port: 5432, username: "tally", database: "analytics"))
    }
}
