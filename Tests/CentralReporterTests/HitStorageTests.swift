@testable import CentralReporter
import Foundation
import GRDB
import TallyCore
import Testing

@Suite("Hits stored as typed columns")
struct HitStorageTests {
    /// A record with every field set, Unicode and all.
    static var fullHit: Hit {
        var hit = Hit(siteID: 3, kind: .event, timestamp: 1_790_000_000_123)
        hit.aggregateOnly = false
        hit.isBot = true
        hit.visitorID = "0123456789abcdef"
        hit.userID = "u-hash"
        hit.newVisit = true
        hit.pageviewID = "Ab12Cd"
        hit.url = "https://example.com/日本語?q=1"
        hit.title = "Titel 🎉"
        hit.referrerType = .campaign
        hit.referrerName = "newsletter"
        hit.referrerURL = "https://mail.example.org/"
        hit.campaignName = "spring"; hit.campaignSource = "mail"; hit.campaignMedium = "email"
        hit.campaignKeyword = "kw"; hit.campaignContent = "banner"
        hit.country = "JP"; hit.region = "13"; hit.city = "東京"; hit.maskedIP = "203.0.0.0"
        hit.browser = "Firefox"; hit.browserVersion = "133"; hit.os = "Linux"; hit.osVersion = "6"
        hit.device = .tablet; hit.resolution = "1920x1080"; hit.language = "ja"; hit.localTime = "23:59:01"
        hit.eventCategory = "Video"; hit.eventAction = "Play"; hit.eventName = "intro"; hit.eventValue = 0.1
        hit.searchKeyword = "shoes"; hit.searchCategory = "all"; hit.searchCount = 12
        hit.linkURL = "https://other.example/file.pdf"; hit.goalID = 7; hit.revenue = 19.99
        return hit
    }

    static func header(_ sequence: Int64, count: Int) -> BatchHeader {
        BatchHeader(edgeID: "edge-1", sequence: sequence, createdAt: 1, hitCount: count, policyDigest: String(repeating: "0", count: 64), bodyBytes: 0)
    }

    static func storedHits(_ path: String) throws -> [Hit] {
        try DatabaseQueue(path: path).read { db in
            try Row.fetchAll(db, sql: "SELECT \(Hit.columns.joined(separator: ", ")) FROM hits ORDER BY id").map(Hit.init(row:))
        }
    }

    @Test("Every field of a record survives storage unchanged, and sparse records stay sparse")
    func roundTrip() async throws {
        let path = NSTemporaryDirectory() + "tally-columns-\(UUID().uuidString).sqlite"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let store = try SQLiteCentralStore.open(path: path)
        let sparse = Hit(siteID: 1, kind: HitKind(rawValue: "future_kind"), timestamp: 5)
        _ = try await store.store(Self.header(1, count: 2), hits: [Self.fullHit, sparse], contentSHA256: "a", receivedAt: Date())
        #expect(try Self.storedHits(path) == [Self.fullHit, sparse])
    }

    @Test("The store syncs every commit to the disk (synchronous = FULL on its writing connection) before a batch is acknowledged")
    func commitsAreSynced() throws {
        let path = NSTemporaryDirectory() + "tally-sync-\(UUID().uuidString).sqlite"
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        let store = try SQLiteCentralStore.open(path: path)
        let level = try store.writer.writeWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") }
        #expect(level == 2, "NORMAL (1) syncs only at checkpoints: an acknowledged batch could be lost with the power")
    }

    @Test("A store from before typed columns is migrated: every hit reads back as it was sent")
    func migrationFromPayload() async throws {
        let path = NSTemporaryDirectory() + "tally-migrate-\(UUID().uuidString).sqlite"
        defer { try? FileManager.default.removeItem(atPath: path) }
        var plain = Hit(siteID: 1, kind: .pageview, timestamp: 1_790_000_000_000)
        plain.url = "https://example.com/"
        let originals = [Self.fullHit, plain]
        let queue = try DatabaseQueue(path: path)
        try SQLiteCentralStore.migrator.migrate(queue, upTo: "v3: API tokens and the send log")
        try await queue.write { db in
            for (index, hit) in originals.enumerated() {
                try db.execute(sql: """
                    INSERT INTO hits (id, edge_id, sequence, site_id, ts, kind, visitor_id, policy_digest, payload, is_bot)
                    VALUES (?, 'edge-1', 1, ?, ?, ?, ?, 'digest', ?, ?)
                    """, arguments: [index + 1, hit.siteID, hit.timestamp, hit.kind.rawValue, hit.visitorID, try hit.encodedJSON(), hit.isBot])
            }
        }
        try queue.close()

        _ = try SQLiteCentralStore.open(path: path)
        #expect(try Self.storedHits(path) == originals)
        let columns = try await DatabaseQueue(path: path).read { db in try db.columns(in: "hits").map(\.name) }
        #expect(!columns.contains("payload"))
    }
}

@Suite("Store upgrades")
struct StoreUpgradeTests {
    @Test("A store aggregated before the Matomo API reports is aggregated again on upgrade: its days gain websites, event and content rows")
    func reaggregation() async throws {
        let path = NSTemporaryDirectory() + "tally-v10-\(UUID().uuidString).sqlite"
        defer { try? FileManager.default.removeItem(atPath: path) }
        // A store as the previous release left it: hits stored and every day aggregated, without the new reports.
        let queue = try DatabaseQueue(path: path)
        try SQLiteCentralStore.migrator.migrate(queue, upTo: "v9: device brand, bot name and category")
        try queue.close()
        let old = try SQLiteCentralStore.open(path: path)
        _ = try await old.store(HitStorageTests.header(1, count: 0), hits: ReportFixture.hits, contentSHA256: "a", receivedAt: Date())
        try await old.recompute(try await old.dirtyDays(), gap: 1800)
        try await old.writer.write { db in
            try db.execute(sql: "DELETE FROM daily_rows WHERE report IN ('websites', 'event_names', 'content_names', 'conversions', 'local_hours')")
            try db.execute(sql: "DELETE FROM grdb_migrations WHERE identifier LIKE 'v10%'")
        }
        #expect(try await old.dirtyDays().isEmpty)
        try old.writer.close()

        let upgraded = try SQLiteCentralStore.open(path: path)
        #expect(!(try await upgraded.dirtyDays().isEmpty))
        try await upgraded.recompute(try await upgraded.dirtyDays(), gap: 1800)
        let websites = try await upgraded.periodRows(site: 1, report: "websites", from: LocalDay("2026-10-20")!, to: LocalDay("2026-10-30")!)
        #expect(websites.map(\.0) == ["blog.org"] && websites.first?.1.visits == 1)
        let conversions = try await upgraded.periodRows(site: 1, report: "conversions", from: LocalDay("2026-10-20")!, to: LocalDay("2026-10-30")!)
        #expect(conversions.first?.1.hits == 1 && conversions.first?.1.visits == 1)
    }
}

@Suite("Batch streams")
struct BatchStreamTests {
    @Test("(edge, stream, sequence) is the exactly-once key; a gap in a stream is reported")
    func streams() async throws {
        let directory = NSTemporaryDirectory() + "tally-streams-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try SQLiteCentralStore.open(path: directory + "/central.sqlite")
        let hit = Hit(siteID: 1, kind: .pageview, timestamp: 1_795_000_000_000)
        func header(_ stream: String, _ sequence: Int64) -> BatchHeader {
            BatchHeader(edgeID: "edge-1", stream: stream, sequence: sequence, createdAt: 1, hitCount: 1, policyDigest: String(repeating: "0", count: 64), bodyBytes: 0)
        }
        #expect(try await store.store(header("", 1), hits: [hit], contentSHA256: "a", receivedAt: Date()) == .stored(hits: 1, missingBefore: 0))
        #expect(try await store.store(header("", 1), hits: [hit], contentSHA256: "a", receivedAt: Date()) == .duplicate)
        #expect(try await store.store(header("", 1), hits: [hit], contentSHA256: "b", receivedAt: Date()) == .conflict)
        // A replaced buffer numbers from 1 again in its own stream: stored, not a conflict.
        #expect(try await store.store(header("00000000000000ab", 1), hits: [hit], contentSHA256: "b", receivedAt: Date()) == .stored(hits: 1, missingBefore: 0))
        #expect(try await store.store(header("00000000000000ab", 4), hits: [hit], contentSHA256: "c", receivedAt: Date()) == .stored(hits: 1, missingBefore: 2))
        let contacts = try await store.edgeContacts()
        #expect(contacts.map(\.stream) == ["", "00000000000000ab"])
        #expect(contacts.map(\.lastSequence) == [1, 4])
        #expect(try await store.counts() == (hits: 3, batches: 3))
    }
}
