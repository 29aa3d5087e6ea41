import Crypto
import Foundation
import GRDB
import GRDBSQLite
import TallyCore

/// The embedded store, `<data_dir>/central.sqlite`: received batches, their hits, the aggregates, tokens,
/// the send log and the audit log, in one SQLite file (WAL).
public struct SQLiteCentralStore: CentralStore {
    let writer: any DatabaseWriter
    public let path: String
    public let zones: @Sendable (Int) -> TimeZone

    public static func open(path: String, zones: @escaping @Sendable (Int) -> TimeZone = { _ in TimeZone.gmt }) throws -> SQLiteCentralStore {
        var configuration = Configuration()
        configuration.busyMode = .timeout(5)
        do {
            // WAL lets reports read while batches are written. Every commit is synced because central
            // acknowledges a batch only after its commit, and the edge then deletes it.
            let pool = try DurableDatabase.openPool(path: path, configuration: configuration)
            try migrator.migrate(pool)
            return SQLiteCentralStore(writer: pool, path: path, zones: zones)
        } catch {
            throw CentralError.store(path: path, reason: "\(error)")
        }
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: batches, hits, audit log") { db in
            try db.execute(sql: """
                CREATE TABLE batches (
                    edge_id TEXT NOT NULL,
                    sequence INTEGER NOT NULL,
                    received_at INTEGER NOT NULL,   -- ms since 1970 UTC
                    created_at INTEGER NOT NULL,    -- ms, from the batch header
                    hit_count INTEGER NOT NULL,
                    policy_digest TEXT NOT NULL,
                    content_sha256 TEXT NOT NULL,   -- of the batch bytes, to tell a replay from a conflict
                    PRIMARY KEY (edge_id, sequence)
                ) WITHOUT ROWID;
                CREATE TABLE hits (
                    id INTEGER PRIMARY KEY,
                    edge_id TEXT NOT NULL,
                    sequence INTEGER NOT NULL,
                    site_id INTEGER NOT NULL,
                    ts INTEGER NOT NULL,            -- ms since 1970 UTC
                    kind TEXT NOT NULL,
                    visitor_id TEXT,
                    policy_digest TEXT NOT NULL,
                    payload BLOB NOT NULL           -- the Hit as canonical JSON
                );
                CREATE INDEX hits_by_site_time ON hits (site_id, ts);
                CREATE TABLE audit_log (
                    id INTEGER PRIMARY KEY,
                    at INTEGER NOT NULL,
                    event TEXT NOT NULL,
                    detail TEXT NOT NULL
                );
                """)
        }
        migrator.registerMigration("v2: daily aggregates") { db in
            try db.execute(sql: """
                ALTER TABLE hits ADD COLUMN is_bot INTEGER NOT NULL DEFAULT 0;
                UPDATE hits SET is_bot = COALESCE(json_extract(payload, '$.bot'), 0);
                -- (site, day) pairs whose aggregates must be recomputed; days in the site's time zone.
                CREATE TABLE dirty_days (
                    site_id INTEGER NOT NULL,
                    day TEXT NOT NULL,
                    PRIMARY KEY (site_id, day)
                ) WITHOUT ROWID;
                CREATE TABLE daily_rows (
                    site_id INTEGER NOT NULL,
                    day TEXT NOT NULL,
                    report TEXT NOT NULL,
                    label TEXT NOT NULL,
                    visits INTEGER NOT NULL,
                    actions INTEGER NOT NULL,
                    bounces INTEGER NOT NULL,
                    visit_seconds INTEGER NOT NULL,
                    pageviews INTEGER NOT NULL,
                    unique_pageviews INTEGER NOT NULL,
                    hits INTEGER NOT NULL,
                    value REAL NOT NULL,
                    PRIMARY KEY (site_id, report, day, label)
                ) WITHOUT ROWID;
                CREATE TABLE daily_visitors (
                    site_id INTEGER NOT NULL,
                    day TEXT NOT NULL,
                    unique_visitors INTEGER NOT NULL,
                    bot_hits INTEGER NOT NULL,
                    sketch BLOB NOT NULL,           -- HyperLogLog of the day's visitor ids
                    PRIMARY KEY (site_id, day)
                ) WITHOUT ROWID;
                -- Raw hits of days before this one have been purged (per site).
                CREATE TABLE purge_state (
                    site_id INTEGER PRIMARY KEY,
                    purged_before TEXT NOT NULL
                );
                """)
            // Days that already hold hits need their first aggregation.
            try markDaysWithHitsDirty(db)
        }
        migrator.registerMigration("v3: API tokens and the send log") { db in
            try db.execute(sql: """
                CREATE TABLE api_tokens (
                    id INTEGER PRIMARY KEY,
                    name TEXT NOT NULL,
                    token_sha256 TEXT NOT NULL UNIQUE,  -- the token itself is shown once and never stored
                    sites TEXT NOT NULL,                -- comma-separated site ids; '*' for every site
                    role TEXT NOT NULL,                 -- 'viewer' or 'admin'
                    created_at INTEGER NOT NULL,
                    expires_at INTEGER,
                    revoked_at INTEGER,
                    last_used_at INTEGER
                );
                -- One row per (schedule, period): what makes each scheduled e-mail go out exactly once.
                CREATE TABLE send_log (
                    schedule TEXT NOT NULL,
                    period_start TEXT NOT NULL,
                    period_end TEXT NOT NULL,
                    status TEXT NOT NULL,               -- 'pending', 'sent'
                    attempts INTEGER NOT NULL DEFAULT 0,
                    next_attempt_at INTEGER NOT NULL DEFAULT 0,
                    message_id TEXT NOT NULL,
                    sent_at INTEGER,
                    last_error TEXT,
                    PRIMARY KEY (schedule, period_start)
                ) WITHOUT ROWID;
                """)
        }
        migrator.registerMigration("v4: hits as typed columns") { db in
            // The payload document becomes one column per field (Hit+Columns.swift); json_extract gives
            // booleans as 1/0 and leaves absent fields NULL, as the columns expect.
            // The layout as it was then: later columns arrive with their own migrations.
            let fields = Hit.columns.prefix(Hit.firstLayoutCount).filter { !["site_id", "ts", "kind", "is_bot"].contains($0) }
            try db.execute(sql: """
                CREATE TABLE hits_v4 (
                    id INTEGER PRIMARY KEY,
                    edge_id TEXT NOT NULL,
                    sequence INTEGER NOT NULL,
                    policy_digest TEXT NOT NULL,
                    \(Hit.columnDeclarations.prefix(Hit.firstLayoutCount).joined(separator: ",\n"))
                );
                INSERT INTO hits_v4 (id, edge_id, sequence, policy_digest, site_id, ts, kind, is_bot, \(fields.joined(separator: ", ")))
                SELECT id, edge_id, sequence, policy_digest, site_id, ts, kind, is_bot,
                    \(fields.map { name in
                        ["aggregate_only", "new_visit"].contains(name)
                            ? "COALESCE(json_extract(payload, '$.\(name)'), 0)" : "json_extract(payload, '$.\(name)')"
                    }.joined(separator: ", "))
                FROM hits;
                DROP TABLE hits;
                ALTER TABLE hits_v4 RENAME TO hits;
                CREATE INDEX hits_by_site_time ON hits (site_id, ts);
                """)
        }
        migrator.registerMigration("v5: dirty-day generations") { db in
            // Each new mark of a dirty day bumps its generation, so a recomputation from a snapshot clears
            // the mark only if no batch touched the day since (CentralStore+Aggregation.swift).
            try db.execute(sql: "ALTER TABLE dirty_days ADD COLUMN generation INTEGER NOT NULL DEFAULT 0")
        }
        migrator.registerMigration("v6: batch streams") { db in
            // (edge, stream, sequence) becomes the exactly-once key: an edge whose buffer was replaced
            // numbers its batches in a new stream. Batches stored before carry the unnamed stream ''.
            try db.execute(sql: """
                CREATE TABLE batches_v6 (
                    edge_id TEXT NOT NULL,
                    stream TEXT NOT NULL,
                    sequence INTEGER NOT NULL,
                    received_at INTEGER NOT NULL,   -- ms since 1970 UTC
                    created_at INTEGER NOT NULL,    -- ms, from the batch header
                    hit_count INTEGER NOT NULL,
                    policy_digest TEXT NOT NULL,
                    content_sha256 TEXT NOT NULL,   -- of the batch bytes, to tell a replay from a conflict
                    PRIMARY KEY (edge_id, stream, sequence)
                ) WITHOUT ROWID;
                INSERT INTO batches_v6 (edge_id, stream, sequence, received_at, created_at, hit_count, policy_digest, content_sha256)
                SELECT edge_id, '', sequence, received_at, created_at, hit_count, policy_digest, content_sha256 FROM batches;
                DROP TABLE batches;
                ALTER TABLE batches_v6 RENAME TO batches;
                ALTER TABLE hits ADD COLUMN stream TEXT NOT NULL DEFAULT '';
                -- One row that /healthz writes, so health proves the store takes writes, not only reads.
                CREATE TABLE health_probe (id INTEGER PRIMARY KEY CHECK (id = 1), checked_at INTEGER NOT NULL);
                INSERT INTO health_probe (id, checked_at) VALUES (1, 0);
                """)
        }
        migrator.registerMigration("v7: ecommerce and content fields") { db in
            for declaration in Hit.columnDeclarations.prefix(Hit.v7LayoutCount).dropFirst(Hit.firstLayoutCount) {
                try db.execute(sql: "ALTER TABLE hits ADD COLUMN \(declaration)")
            }
            // Items and abandoned carts, counted in the ecommerce and products reports.
            try db.execute(sql: """
                ALTER TABLE daily_rows ADD COLUMN items INTEGER NOT NULL DEFAULT 0;
                ALTER TABLE daily_rows ADD COLUMN carts INTEGER NOT NULL DEFAULT 0;
                -- The first order received under each order id of a site: Matomo counts a repeated order
                -- id once. Kept apart from the raw hits, so the rule holds after they are purged.
                CREATE TABLE orders (
                    site_id INTEGER NOT NULL,
                    order_id TEXT NOT NULL,
                    ts INTEGER NOT NULL,             -- the counted order's time, ms since 1970 UTC
                    PRIMARY KEY (site_id, order_id)
                ) WITHOUT ROWID;
                """)
        }
        migrator.registerMigration("v8: custom dimensions") { db in
            for declaration in Hit.columnDeclarations.prefix(Hit.v8LayoutCount).dropFirst(Hit.v7LayoutCount) {
                try db.execute(sql: "ALTER TABLE hits ADD COLUMN \(declaration)")
            }
        }
        migrator.registerMigration("v9: device brand, bot name and category") { db in
            for declaration in Hit.columnDeclarations.dropFirst(Hit.v8LayoutCount) {
                try db.execute(sql: "ALTER TABLE hits ADD COLUMN \(declaration)")
            }
        }
        migrator.registerMigration("v10: reports for Matomo's Reporting API") { db in
            // New reports (websites, browser and OS families, local hours, event dimensions, content names
            // and pieces, conversions, order amounts, abandoned carts): every day whose raw hits are kept is
            // aggregated again. Days whose raw hits were purged keep their aggregates, without these rows.
            try markDaysWithHitsDirty(db)
        }
        return migrator
    }

    /// Marks every (site, day) that holds raw hits for aggregation. Site time zones are not known to a
    /// migration, so the UTC day and both neighbours are marked (no offset exceeds a day); a neighbour
    /// without hits aggregates to nothing.
    private static func markDaysWithHitsDirty(_ db: Database) throws {
        for row in try Row.fetchAll(db, sql: "SELECT DISTINCT site_id, ts / 86400000 FROM hits") {
            let site: Int = row[0]
            let utcDay = LocalDay(containing: Date(timeIntervalSince1970: Double(row[1] as Int64) * 86_400), in: TimeZone.gmt)
            for offset in -1...1 {
                try db.execute(
                    sql: "INSERT OR IGNORE INTO dirty_days (site_id, day) VALUES (?, ?)",
                    arguments: [site, utcDay.adding(days: offset).description])
            }
        }
    }

    /// Marks (site, day) for re-aggregation, bumping its generation if it already was.
    static let markDirtySQL = """
        INSERT INTO dirty_days (site_id, day) VALUES (?, ?)
        ON CONFLICT (site_id, day) DO UPDATE SET generation = generation + 1
        """

    public func store(_ header: BatchHeader, hits: [Hit], contentSHA256: String, receivedAt: Date) async throws -> StoreOutcome {
        try await writer.write { db in
            if let existing = try String.fetchOne(
                db, sql: "SELECT content_sha256 FROM batches WHERE edge_id = ? AND stream = ? AND sequence = ?",
                arguments: [header.edgeID, header.stream, header.sequence]) {
                return existing == contentSHA256 ? .duplicate : .conflict
            }
            let previous = try Int64.fetchOne(
                db, sql: "SELECT MAX(sequence) FROM batches WHERE edge_id = ? AND stream = ? AND sequence < ?",
                arguments: [header.edgeID, header.stream, header.sequence]) ?? 0
            try db.execute(
                sql: """
                    INSERT INTO batches (edge_id, stream, sequence, received_at, created_at, hit_count, policy_digest, content_sha256)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [header.edgeID, header.stream, header.sequence, receivedAt.millisecondsSince1970, header.createdAt,
                            hits.count, header.policyDigest, contentSHA256])
            let insert = try db.cachedStatement(sql: Self.insertHit).sqliteStatement
            // The batch's four values stay bound from row to row (a reset keeps bindings); each hit's
            // values are bound over the rest, straight from its fields.
            var batch = SQLiteBinder(statement: insert, index: 1)
            batch.text(header.edgeID); batch.text(header.stream); batch.integer(header.sequence); batch.text(header.policyDigest)
            defer { sqlite3_reset(insert); sqlite3_clear_bindings(insert) }
            for hit in hits {
                var row = SQLiteBinder(statement: insert, index: batch.index)
                hit.writeColumns(to: &row)
                try db.stepBound(insert)
                if hit.kind == .ecommerceOrder, let order = hit.orderID {
                    try db.cachedStatement(sql: "INSERT OR IGNORE INTO orders (site_id, order_id, ts) VALUES (?, ?, ?)")
                        .execute(arguments: [hit.siteID, order, hit.timestamp])
                }
            }
            let mark = try db.cachedStatement(sql: Self.markDirtySQL)
            for day in DirtyDay.days(of: hits, zones: zones) { try mark.execute(arguments: [day.site, day.day.description]) }
            return .stored(hits: hits.count, missingBefore: header.sequence - previous - 1)
        }
    }

    static let insertHit = """
        INSERT INTO hits (edge_id, stream, sequence, policy_digest, \(Hit.columns.joined(separator: ", ")))
        VALUES (?, ?, ?, ?\(String(repeating: ", ?", count: Hit.columns.count)))
        """

    /// Proves the store answers a read and commits a write now; throws what stops it (locked, read-only,
    /// disk full, file gone).
    public func probe(now: Date) async throws {
        try await writer.write { db in
            try db.execute(sql: "UPDATE health_probe SET checked_at = ? WHERE id = 1", arguments: [now.millisecondsSince1970])
        }
    }

    public func edgeContacts() async throws -> [EdgeContact] {
        try await writer.read { db in
            try Row.fetchAll(db, sql: """
                SELECT edge_id, stream, MAX(sequence), MAX(received_at), COUNT(*) FROM batches
                GROUP BY edge_id, stream ORDER BY edge_id, MAX(received_at)
                """).map {
                EdgeContact(edgeID: $0[0], stream: $0[1], lastSequence: $0[2], lastContact: Date(millisecondsSince1970: $0[3]), batches: $0[4])
            }
        }
    }

    public func audit(_ event: String, detail: String, at date: Date) async throws {
        try await writer.write { db in try Self.audit(db, event, detail, date) }
    }

    static func audit(_ db: Database, _ event: String, _ detail: String, _ at: Date) throws {
        try db.execute(sql: "INSERT INTO audit_log (at, event, detail) VALUES (?, ?, ?)", arguments: [at.millisecondsSince1970, event, detail])
    }

    public func auditLog(limit: Int) async throws -> [AuditEntry] {
        try await writer.read { db in
            try Row.fetchAll(db, sql: "SELECT at, event, detail FROM (SELECT * FROM audit_log ORDER BY id DESC LIMIT ?) ORDER BY id", arguments: [limit])
                .map { AuditEntry(at: Date(millisecondsSince1970: $0[0]), event: $0[1], detail: $0[2]) }
        }
    }

    public func counts() async throws -> (hits: Int, batches: Int) {
        try await writer.read { db in
            (try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM hits") ?? 0,
             try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM batches") ?? 0)
        }
    }
}
