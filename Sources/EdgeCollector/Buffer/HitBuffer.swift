import TrackingInput
import Foundation
import GRDB
import GRDBSQLite
import Synchronization
import TallyCore

/// A hit ready for the buffer: its canonical JSON (encoded by the request's task, not on the single
/// writer), the digest of the policy it was collected under, and the few fields the edge counts. The
/// record itself is not carried along: each copy of it would retain and release some thirty strings.
public struct BufferedHit: Sendable {
    public var payload: Data
    public var policyDigest: PolicyDigest
    public var siteID: Int
    public var isBot: Bool
    public var aggregateOnly: Bool

    public init(hit: Hit, policyDigest: PolicyDigest) throws {
        payload = try hit.encodedJSON()
        self.policyDigest = policyDigest
        siteID = hit.siteID
        isBot = hit.isBot
        aggregateOnly = hit.aggregateOnly
    }
}

/// Where accepted hits go. `HitBuffer` is the real one; tests may substitute another.
public protocol HitSink: Sendable {
    /// Stores the hits and adds the drop counts in one transaction: all of it or nothing. Blocks the
    /// calling thread (the committer's writer) until the transaction has committed.
    func append(_ hits: [BufferedHit], drops: [DropReason: Int]) throws
    /// Payload bytes held now (what `max_buffer_bytes` limits).
    var storedBytes: Int { get }
}

/// The edge's durable buffer, `<data_dir>/buffer.sqlite`: hits waiting to be shipped, and the count of
/// drops by reason. It holds undelivered data, so its schema only ever moves forward by migrations.
public struct HitBuffer: HitSink {
    let writer: any DatabaseWriter
    private let totals: Totals
    private let clock: any TallyClock

    /// Atomics rather than a lock: every request reads `bytes` (for `max_buffer_bytes`) from whichever
    /// event loop it arrived on, and a lock's acquisition writes to memory both loops share.
    final class Totals: Sendable {
        let count: Atomic<Int>
        let bytes: Atomic<Int>
        init(count: Int, bytes: Int) {
            self.count = Atomic(count)
            self.bytes = Atomic(bytes)
        }
    }

    public let path: String

    public static func open(path: String, clock: any TallyClock = SystemClock()) throws -> HitBuffer {
        var configuration = Configuration()
        // A busy timeout rather than failing at once: `tally-edge status` and the shipper read while
        // the edge writes.
        configuration.busyMode = .timeout(5)
        configuration.prepareDatabase { db in
            // SQLite copies the log into the database in the commit that takes the log past this many pages,
            // and every request waiting for that commit waits for the copy and its fsync. Small copies keep
            // those waits short: at 15,000 hits/s the edge's p99 latency was 2.7–3.8 ms with 128–256 pages,
            // 5.2–5.5 ms with SQLite's default of 1,000 and 15 ms with 4,000 (docs/performance.md). A
            // checkpoint on a separate connection did worse: it competes for the disk with every commit.
            try db.execute(sql: "PRAGMA wal_autocheckpoint = 256")
        }
        let pool: DatabasePool
        do {
            // WAL, and every commit synced: durable against power loss, not only process crashes; that
            // is what `ack = "durable"` promises, and group commit spreads the sync over many hits.
            pool = try DurableDatabase.openPool(path: path, configuration: configuration)
            try migrator.migrate(pool)
        } catch {
            throw EdgeError.buffer(path: path, reason: "\(error)")
        }
        let (count, bytes) = try pool.read { db in
            let row = try Row.fetchOne(db, sql: "SELECT COUNT(*), COALESCE(SUM(LENGTH(payload)), 0) FROM hits")
            return (row?[0] as Int? ?? 0, row?[1] as Int? ?? 0)
        }
        return HitBuffer(writer: pool, totals: Totals(count: count, bytes: bytes), clock: clock, path: path)
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: hits and drop counts") { db in
            try db.execute(sql: """
                CREATE TABLE hits (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    received_at INTEGER NOT NULL,  -- ms since 1970 UTC, when the edge accepted it
                    site_id INTEGER NOT NULL,
                    policy_digest TEXT NOT NULL,   -- hex SHA-256 of the effective policy
                    payload BLOB NOT NULL          -- the Hit as canonical JSON
                );
                CREATE TABLE drop_counts (
                    reason TEXT PRIMARY KEY,
                    count INTEGER NOT NULL
                );
                """)
        }
        migrator.registerMigration("v2: outbox and shipping state") { db in
            try db.execute(sql: """
                -- Hits assigned to a batch keep their rows until central acknowledges the batch.
                ALTER TABLE hits ADD COLUMN batch_sequence INTEGER;
                CREATE INDEX hits_unassigned ON hits (id) WHERE batch_sequence IS NULL;
                CREATE INDEX hits_by_batch ON hits (batch_sequence) WHERE batch_sequence IS NOT NULL;
                -- Batches formed and not yet acknowledged. The exact signed bytes are kept, so a resend
                -- after a crash is byte-identical and central recognises it as a duplicate.
                CREATE TABLE outbox (
                    sequence INTEGER PRIMARY KEY,
                    created_at INTEGER NOT NULL,
                    hit_count INTEGER NOT NULL,
                    bytes BLOB NOT NULL,
                    state TEXT NOT NULL DEFAULT 'pending',  -- 'pending' or 'quarantined'
                    attempts INTEGER NOT NULL DEFAULT 0,
                    last_error TEXT
                );
                CREATE TABLE shipping_state (
                    id INTEGER PRIMARY KEY CHECK (id = 1),
                    next_sequence INTEGER NOT NULL,
                    last_ack_at INTEGER,
                    last_ack_sequence INTEGER,
                    shipped_batches INTEGER NOT NULL DEFAULT 0,
                    shipped_hits INTEGER NOT NULL DEFAULT 0,
                    failures INTEGER NOT NULL DEFAULT 0
                );
                INSERT INTO shipping_state (id, next_sequence) VALUES (1, 1);
                """)
        }
        migrator.registerMigration("v3: batch stream and record quarantine") { db in
            // Sequence numbers count within a stream chosen when the buffer is created, so a buffer that
            // was lost and replaced starts a new stream instead of reusing numbers central already holds.
            // A buffer that has already formed batches keeps the stream its batches were sent under (the
            // unnamed stream of format 1) so central sees its numbers continue.
            let used = try Int.fetchOne(db, sql: "SELECT next_sequence FROM shipping_state WHERE id = 1") ?? 1
            try db.execute(sql: "ALTER TABLE shipping_state ADD COLUMN stream TEXT NOT NULL DEFAULT ''")
            if used == 1 {
                try db.execute(sql: "UPDATE shipping_state SET stream = ? WHERE id = 1", arguments: [BatchHeader.newStream()])
            }
            try db.execute(sql: """
                -- A buffered record that cannot be shipped (its payload no longer reads as a hit) is moved
                -- here alone, kept for inspection, and the rest of the buffer ships.
                CREATE TABLE quarantined_records (
                    id INTEGER PRIMARY KEY,          -- its id in hits
                    received_at INTEGER NOT NULL,
                    site_id INTEGER NOT NULL,
                    policy_digest TEXT NOT NULL,
                    payload BLOB NOT NULL,
                    reason TEXT NOT NULL,
                    quarantined_at INTEGER NOT NULL
                );
                """)
        }
        return migrator
    }

    public var storedBytes: Int { totals.bytes.load(ordering: .relaxed) }
    public var storedCount: Int { totals.count.load(ordering: .relaxed) }

    public func append(_ hits: [BufferedHit], drops: [DropReason: Int]) throws {
        let now = clock.now().millisecondsSince1970
        try writer.writeWithoutTransaction { db in try db.inPreparedTransaction { try Self.insert(hits, drops: drops, receivedAt: now, db) } }
        counted(hits)
    }

    private static func insert(_ hits: [BufferedHit], drops: [DropReason: Int], receivedAt now: Int64, _ db: Database) throws {
        let insert = try db.cachedStatement(
            sql: "INSERT INTO hits (received_at, site_id, policy_digest, payload) VALUES (?, ?, ?, ?)")
        // The values are bound straight to SQLite's statement, without an array of boxed values per row;
        // text and payload are bound in place (SQLITE_STATIC) and the statement is reset before they go.
        let statement = insert.sqliteStatement
        defer { sqlite3_clear_bindings(statement) }
        for hit in hits {
            try hit.policyDigest.hex.withCString { digest in
                try hit.payload.withUnsafeBytes { payload in
                    sqlite3_bind_int64(statement, 1, now)
                    sqlite3_bind_int64(statement, 2, Int64(hit.siteID))
                    sqlite3_bind_text(statement, 3, digest, -1, nil)
                    // A payload is never empty (it is a JSON object); an empty blob would bind as NULL.
                    sqlite3_bind_blob(statement, 4, payload.baseAddress, CInt(payload.count), nil)
                    try db.stepBound(statement)
                }
            }
        }
        let count = try db.cachedStatement(sql: """
            INSERT INTO drop_counts (reason, count) VALUES (?, ?)
            ON CONFLICT (reason) DO UPDATE SET count = count + excluded.count
            """)
        for (reason, n) in drops { try count.execute(arguments: [reason.rawValue, n]) }
    }

    private func counted(_ hits: [BufferedHit]) {
        let bytes = hits.reduce(0) { $0 + $1.payload.count }
        totals.count.add(hits.count, ordering: .relaxed)
        totals.bytes.add(bytes, ordering: .relaxed)
    }

    /// Lowers the in-memory totals after acknowledged hits were deleted.
    func released(count: Int, bytes: Int) {
        totals.count.subtract(count, ordering: .relaxed)
        totals.bytes.subtract(bytes, ordering: .relaxed)
    }

    /// The oldest hits first, for shipping and inspection.
    public func oldest(limit: Int) throws -> [StoredHit] {
        try writer.read { db in try StoredHit.fetch(db, limit: limit) }
    }

    /// Depth and bytes come from the running totals the buffer keeps for `max_buffer_bytes`: counting the
    /// table scanned every row, which `/healthz` and `/metrics` did on each call.
    public func status(now: Date) throws -> BufferStatus {
        var status = try writer.read { db in try BufferStatus.read(db, now: now, counting: false) }
        (status.depth, status.payloadBytes) = (storedCount, storedBytes)
        return status
    }
}

/// A hit as it sits in the buffer.
public struct StoredHit: Sendable {
    public var id: Int64
    public var receivedAt: Int64
    public var policyDigest: String
    public var hit: Hit

    static func fetch(_ db: Database, limit: Int) throws -> [StoredHit] {
        try Row.fetchAll(db, sql: "SELECT id, received_at, policy_digest, payload FROM hits ORDER BY id LIMIT ?", arguments: [limit])
            .map { row in
                StoredHit(id: row[0], receivedAt: row[1], policyDigest: row[2], hit: try Hit.decodeJSON(row[3]))
            }
    }
}

/// What `tally-edge status` and `/healthz` report about the buffer.
public struct BufferStatus: Sendable, Equatable {
    public var depth: Int
    public var payloadBytes: Int
    public var oldestReceivedAt: Date?
    public var drops: [DropReason: Int]

    public func oldestAge(now: Date) -> TimeInterval? { oldestReceivedAt.map { max(0, now.timeIntervalSince($0)) } }

    /// With `counting: false` depth and bytes are left at zero for the caller to fill.
    static func read(_ db: Database, now: Date, counting: Bool = true) throws -> BufferStatus {
        let row = counting ? try Row.fetchOne(db, sql: "SELECT COUNT(*), COALESCE(SUM(LENGTH(payload)), 0) FROM hits") : nil
        let oldest = try Int64.fetchOne(db, sql: "SELECT received_at FROM hits ORDER BY id LIMIT 1")
        var drops: [DropReason: Int] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT reason, count FROM drop_counts") {
            drops[DropReason(rawValue: row[0])] = row[1]
        }
        return BufferStatus(
            depth: row?[0] ?? 0, payloadBytes: row?[1] ?? 0,
            oldestReceivedAt: oldest.map(Date.init(millisecondsSince1970:)), drops: drops)
    }

    /// Reads a buffer file without opening it for writing (used by `tally-edge status` beside a running edge).
    public static func read(bufferAt path: String, now: Date) throws -> BufferStatus {
        try readOnly(path) { db in try read(db, now: now) }
    }

    static func readOnly<T>(_ path: String, _ body: (Database) throws -> T) throws -> T {
        guard FileManager.default.fileExists(atPath: path) else {
            throw EdgeError.buffer(path: path, reason: "no buffer exists yet; start the edge with tally-edge run first")
        }
        var configuration = Configuration()
        configuration.readonly = true
        configuration.busyMode = .timeout(5)
        do {
            let queue = try DatabaseQueue(path: path, configuration: configuration)
            return try queue.read(body)
        } catch {
            throw EdgeError.buffer(path: path, reason: "\(error)")
        }
    }
}
