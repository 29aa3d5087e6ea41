import Foundation
import GRDB
import PostgresNIO
import TallyCore

/// `tally-central migrate-store`: copies an SQLite store into a PostgreSQL database. Batches go in
/// through the PostgreSQL store's own ingest, each with its hits in one transaction, so a batch is either
/// copied whole or not at all; every other table is copied with its keys, skipping rows already there.
/// An interrupted migration is resumed by running it again. It ends by comparing every table's rows.
public struct StoreMigration: Sendable {
    /// One table's rows on both sides after the copy.
    public struct Count: Sendable, Equatable {
        public var table: String
        public var source: Int
        public var target: Int

        /// Whether the target holds what the source does. Every copied batch marks its days for
        /// aggregation, so the target may hold more dirty days than the source: those days are
        /// aggregated again from the same hits.
        public var matches: Bool { table == "dirty_days" ? target >= source : target == source }
    }

    let source: SQLiteCentralStore
    let target: PostgresCentralStore

    public init(source: SQLiteCentralStore, target: PostgresCentralStore) {
        self.source = source
        self.target = target
    }

    /// The tables besides `batches` and `hits`, with their columns as both schemas name them.
    static let tables: [(name: String, columns: [String])] = [
        ("orders", ["site_id", "order_id", "ts"]),
        ("dirty_days", ["site_id", "day", "generation"]),
        ("daily_rows", ["site_id", "day", "report", "label", "visits", "actions", "bounces", "visit_seconds", "pageviews",
                        "unique_pageviews", "hits", "value", "items", "carts"]),
        ("daily_visitors", ["site_id", "day", "unique_visitors", "bot_hits", "sketch"]),
        ("purge_state", ["site_id", "purged_before"]),
        ("api_tokens", ["id", "name", "token_sha256", "sites", "role", "created_at", "expires_at", "revoked_at", "last_used_at"]),
        ("send_log", ["schedule", "period_start", "period_end", "status", "attempts", "next_attempt_at", "message_id", "sent_at", "last_error"]),
        ("audit_log", ["id", "at", "event", "detail"]),
    ]

    /// Copies what the target lacks; `progress` hears each step. Returns every table's counts.
    public func run(progress: @Sendable (String) -> Void = { _ in }) async throws -> [Count] {
        var copied = 0
        for header in try await source.batchHeaders() {
            let hits = try await source.hits(of: header)
            if case .stored = try await target.store(header.header, hits: hits, contentSHA256: header.contentSHA256, receivedAt: header.receivedAt) {
                copied += 1
                if copied.isMultiple(of: 1000) { progress("\(copied) batches copied") }
            }
        }
        progress("\(copied) batches copied")
        for (table, columns) in Self.tables {
            let rows = try await source.rows(table: table, columns: columns)
            let added = try await target.insertMissing(table: table, columns: columns, rows: rows)
            progress("\(table): \(added) rows copied")
        }
        try await target.advanceSequences()
        var counts: [Count] = []
        for table in ["batches", "hits"] + Self.tables.map(\.name) {
            counts.append(Count(table: table, source: try await source.count(table: table), target: try await target.count(table: table)))
        }
        return counts
    }
}

/// A stored batch's record, as the migration re-stores it.
struct StoredBatch: Sendable {
    var header: BatchHeader
    var contentSHA256: String
    var receivedAt: Date
    /// The first and last row id of its hits (a batch's hits are written together, so the range holds
    /// few or no other rows); nil when none are left.
    var hitIDs: ClosedRange<Int64>?
}

extension SQLiteCentralStore {
    func batchHeaders() async throws -> [StoredBatch] {
        try await writer.read { db in
            // One pass over the hits finds each batch's id range; reading a batch's hits by that range
            // (the row id is the table's key) keeps the copy linear in the store's size.
            try Row.fetchAll(db, sql: """
                SELECT b.edge_id, b.stream, b.sequence, b.created_at, b.hit_count, b.policy_digest, b.content_sha256, b.received_at, r.first, r.last
                FROM batches AS b LEFT JOIN (
                    SELECT edge_id, stream, sequence, MIN(id) AS first, MAX(id) AS last FROM hits GROUP BY edge_id, stream, sequence
                ) AS r ON r.edge_id = b.edge_id AND r.stream = b.stream AND r.sequence = b.sequence
                ORDER BY b.edge_id, b.stream, b.sequence
                """).map { row in
                let first: Int64? = row[8], last: Int64? = row[9]
                return StoredBatch(
                    header: BatchHeader(edgeID: row[0], stream: row[1], sequence: row[2], createdAt: row[3], hitCount: row[4], policyDigest: row[5], bodyBytes: 0),
                    contentSHA256: row[6], receivedAt: Date(millisecondsSince1970: row[7]),
                    hitIDs: first.flatMap { first in last.map { first...$0 } })
            }
        }
    }

    func hits(of batch: StoredBatch) async throws -> [Hit] {
        guard let ids = batch.hitIDs else { return [] }
        return try await writer.read { db in
            try Row.fetchAll(
                db, sql: """
                    SELECT \(Hit.columns.joined(separator: ", ")) FROM hits
                    WHERE id BETWEEN ? AND ? AND edge_id = ? AND stream = ? AND sequence = ? ORDER BY id
                    """,
                arguments: [ids.lowerBound, ids.upperBound, batch.header.edgeID, batch.header.stream, batch.header.sequence]
            ).map(Hit.init(row:))
        }
    }

    /// A table's rows, each value as it is stored.
    func rows(table: String, columns: [String]) async throws -> [[ColumnValue]] {
        try await writer.read { db in
            try Row.fetchAll(db, sql: "SELECT \(columns.joined(separator: ", ")) FROM \(table)").map { row in
                (0..<columns.count).map { index in
                    switch row[index] as DatabaseValue {
                    case let value where value.isNull: .text(nil)
                    case let value: switch value.storage {
                        case let .int64(n): .integer(n)
                        case let .double(x): .real(x)
                        case let .string(s): .text(s)
                        case let .blob(data): .bytes(data)
                        case .null: .text(nil)
                        }
                    }
                }
            }
        }
    }

    func count(table: String) async throws -> Int {
        try await writer.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM \(table)") ?? 0 }
    }
}

extension PostgresCentralStore {
    /// Inserts the rows whose keys the table does not hold yet (through a temporary table and
    /// `ON CONFLICT DO NOTHING`, in one transaction); returns how many were added.
    func insertMissing(table: String, columns: [String], rows: [[ColumnValue]]) async throws -> Int {
        guard !rows.isEmpty else { return 0 }
        let list = columns.joined(separator: ", ")
        return try await transaction { [self] db in
            try await db.query("CREATE TEMPORARY TABLE incoming (LIKE \(unescaped: table) INCLUDING DEFAULTS) ON COMMIT DROP", logger: logger)
            try await db.copyFrom(table: "incoming", columns: columns, logger: logger) { writer in
                var copy = CopyText()
                for row in rows {
                    copy.row(row)
                    try await copy.send(to: writer)
                }
                try await copy.send(to: writer, over: 0)
            }
            return try await db.rows("""
                WITH added AS (INSERT INTO \(unescaped: table) (\(unescaped: list)) SELECT \(unescaped: list) FROM incoming
                               ON CONFLICT DO NOTHING RETURNING 1)
                SELECT COUNT(*) FROM added
                """, logger: logger).first?.int(0) ?? 0
        }
    }

    /// Moves the id sequences of copied tables past the copied ids.
    func advanceSequences() async throws {
        for table in ["api_tokens", "audit_log"] {
            try await execute("""
                SELECT setval(pg_get_serial_sequence(\(table), 'id'), COALESCE((SELECT MAX(id) FROM \(unescaped: table)), 0) + 1, false)
                """)
        }
    }

    func count(table: String) async throws -> Int {
        try await rows("SELECT COUNT(*) FROM \(unescaped: table)").first?.int(0) ?? 0
    }
}
