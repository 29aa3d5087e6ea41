import Crypto
import Foundation
import GRDB
import TallyCore

/// A batch waiting in the outbox for central's acknowledgement.
public struct OutboxBatch: Sendable, Equatable {
    public var sequence: Int64
    public var hitCount: Int
    public var bytes: Data
    public var attempts: Int
}

/// What `tally-edge status` and `/metrics` show about shipping.
public struct ShippingStatus: Sendable, Equatable {
    public var unassignedHits: Int
    public var pendingBatches: Int
    public var quarantinedBatches: Int
    /// Records that could not be shipped, kept in `quarantined_records`.
    public var quarantinedRecords: Int
    /// The stream this buffer's batches are numbered in (empty: the unnamed stream of older buffers).
    public var stream: String
    public var lastAcknowledgedAt: Date?
    public var lastAcknowledgedSequence: Int64?
    public var shippedBatches: Int
    public var shippedHits: Int
    public var failures: Int
}

/// The shipping side of the buffer: forming batches, acknowledging and quarantining them. Every step
/// is one transaction, so a crash between any two leaves a state the shipper resumes from: hits are
/// either unassigned, or in exactly one outbox batch, or deleted after central's acknowledgement.
extension HitBuffer {
    /// The oldest pending batch, if any.
    public func pendingBatch() throws -> OutboxBatch? {
        try writer.read { db in
            try Row.fetchOne(db, sql: "SELECT sequence, hit_count, bytes, attempts FROM outbox WHERE state = 'pending' ORDER BY sequence LIMIT 1")
                .map { OutboxBatch(sequence: $0[0], hitCount: $0[1], bytes: $0[2], attempts: $0[3]) }
        }
    }

    /// Whether at least `count` hits wait unassigned, and when the oldest of them arrived. Bounded work
    /// however large the backlog: it never counts past `count`.
    public func unassigned(atLeast count: Int) throws -> (full: Bool, oldest: Date?) {
        try writer.read { db in
            let full = try Bool.fetchOne(db, sql: """
                SELECT EXISTS (SELECT 1 FROM hits WHERE batch_sequence IS NULL ORDER BY id LIMIT 1 OFFSET ?)
                """, arguments: [count - 1]) ?? false
            let oldest = try Int64.fetchOne(db, sql: "SELECT received_at FROM hits WHERE batch_sequence IS NULL ORDER BY id LIMIT 1")
            return (full, oldest.map(Date.init(millisecondsSince1970:)))
        }
    }

    /// A record moved out of the way because it cannot be shipped.
    public struct QuarantinedRecord: Sendable, Equatable {
        public var id: Int64
        public var reason: String
    }

    /// Assigns up to `maxHits` of the oldest unassigned hits, all collected under the same policy, to the
    /// next sequence number, and stores the signed batch in the outbox — in one transaction. A record that
    /// no longer reads as a hit is moved to `quarantined_records` in the same transaction, alone, and the
    /// others ship; the records quarantined are returned so the caller can log and count each once.
    public func formBatch(
        edgeID: String, maxHits: Int, key: Curve25519.Signing.PrivateKey, now: Date
    ) async throws -> (batch: OutboxBatch?, quarantined: [QuarantinedRecord]) {
        let keyBytes = key.rawRepresentation
        let result = try await writer.write { db -> (OutboxBatch?, [QuarantinedRecord], Int) in
            guard let digest = try String.fetchOne(db, sql: "SELECT policy_digest FROM hits WHERE batch_sequence IS NULL ORDER BY id LIMIT 1") else {
                return (nil, [], 0)
            }
            let rows = try Row.fetchAll(db, sql: """
                SELECT id, payload FROM hits WHERE batch_sequence IS NULL AND policy_digest = ? ORDER BY id LIMIT ?
                """, arguments: [digest, maxHits])
            var hits: [Hit] = []
            var ids: [Int64] = []
            var quarantined: [QuarantinedRecord] = []
            var quarantinedBytes = 0
            for row in rows {
                let id: Int64 = row[0]
                let payload: Data = row[1]
                do {
                    hits.append(try Hit.decodeJSON(payload))
                    ids.append(id)
                } catch {
                    quarantined.append(QuarantinedRecord(id: id, reason: "its payload is not a hit record: \(error)"))
                    quarantinedBytes += payload.count
                }
            }
            for record in quarantined {
                try db.execute(sql: """
                    INSERT INTO quarantined_records (id, received_at, site_id, policy_digest, payload, reason, quarantined_at)
                    SELECT id, received_at, site_id, policy_digest, payload, ?, ? FROM hits WHERE id = ?
                    """, arguments: [record.reason, now.millisecondsSince1970, record.id])
                try db.execute(sql: "DELETE FROM hits WHERE id = ?", arguments: [record.id])
            }
            guard !hits.isEmpty else { return (nil, quarantined, quarantinedBytes) }
            let state = try Row.fetchOne(db, sql: "SELECT next_sequence, stream FROM shipping_state WHERE id = 1")
            let sequence: Int64 = state?[0] ?? 1
            let stream: String = state?[1] ?? ""
            let createdAt = now.millisecondsSince1970
            let header = BatchHeader(
                edgeID: edgeID, stream: stream, sequence: sequence, createdAt: createdAt, hitCount: hits.count, policyDigest: digest, bodyBytes: 0)
            let bytes = try BatchFormat.encode(hits: hits, header: header, key: Curve25519.Signing.PrivateKey(rawRepresentation: keyBytes))
            let assign = try db.cachedStatement(sql: "UPDATE hits SET batch_sequence = ? WHERE id = ?")
            for id in ids { try assign.execute(arguments: [sequence, id]) }
            try db.execute(
                sql: "INSERT INTO outbox (sequence, created_at, hit_count, bytes) VALUES (?, ?, ?, ?)",
                arguments: [sequence, createdAt, hits.count, bytes])
            try db.execute(sql: "UPDATE shipping_state SET next_sequence = ? WHERE id = 1", arguments: [sequence + 1])
            return (OutboxBatch(sequence: sequence, hitCount: hits.count, bytes: bytes, attempts: 0), quarantined, quarantinedBytes)
        }
        // Quarantined records no longer wait to be shipped: they leave the buffer's running totals.
        if !result.1.isEmpty { released(count: result.1.count, bytes: result.2) }
        return (result.0, result.1)
    }

    /// Central acknowledged the batch: delete it and its hits.
    public func acknowledge(sequence: Int64, now: Date) async throws {
        let (count, bytes) = try await writer.write { db -> (Int, Int) in
            let row = try Row.fetchOne(
                db, sql: "SELECT COUNT(*), COALESCE(SUM(LENGTH(payload)), 0) FROM hits WHERE batch_sequence = ?", arguments: [sequence])
            let count: Int = row?[0] ?? 0
            let bytes: Int = row?[1] ?? 0
            try db.execute(sql: "DELETE FROM hits WHERE batch_sequence = ?", arguments: [sequence])
            try db.execute(sql: "DELETE FROM outbox WHERE sequence = ?", arguments: [sequence])
            try db.execute(sql: """
                UPDATE shipping_state SET last_ack_at = ?, last_ack_sequence = ?, shipped_batches = shipped_batches + 1,
                    shipped_hits = shipped_hits + ? WHERE id = 1
                """, arguments: [now.millisecondsSince1970, sequence, count])
            return (count, bytes)
        }
        released(count: count, bytes: bytes)
    }

    /// Central refused the batch for good: keep it and its hits, out of the way of later batches.
    public func quarantine(sequence: Int64, reason: String) async throws {
        try await writer.write { db in
            try db.execute(
                sql: "UPDATE outbox SET state = 'quarantined', last_error = ? WHERE sequence = ?", arguments: [reason, sequence])
            try db.execute(sql: "UPDATE shipping_state SET failures = failures + 1 WHERE id = 1")
        }
    }

    /// A transient failure: count the attempt.
    public func recordFailure(sequence: Int64, reason: String) async throws {
        try await writer.write { db in
            try db.execute(
                sql: "UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE sequence = ?", arguments: [reason, sequence])
            try db.execute(sql: "UPDATE shipping_state SET failures = failures + 1 WHERE id = 1")
        }
    }

    /// When the oldest hit still on its way to central arrived: unbatched or in a pending batch, not in
    /// quarantine (quarantined hits wait for an operator, not for the shipper).
    public func oldestWaitingToShip() throws -> Date? {
        try writer.read { db in
            try Int64.fetchOne(db, sql: """
                SELECT received_at FROM hits
                WHERE batch_sequence IS NULL OR batch_sequence IN (SELECT sequence FROM outbox WHERE state = 'pending')
                ORDER BY id LIMIT 1
                """).map(Date.init(millisecondsSince1970:))
        }
    }

    public func shippingStatus() throws -> ShippingStatus {
        try writer.read { db in try ShippingStatus.read(db) }
    }
}

extension ShippingStatus {
    /// Reads a buffer file without opening it for writing (`tally-edge status` beside a running edge).
    public static func read(bufferAt path: String) throws -> ShippingStatus {
        try BufferStatus.readOnly(path) { db in try read(db) }
    }

    static func read(_ db: Database) throws -> ShippingStatus {
        let state = try Row.fetchOne(db, sql: """
            SELECT last_ack_at, last_ack_sequence, shipped_batches, shipped_hits, failures, stream FROM shipping_state WHERE id = 1
            """)
        return ShippingStatus(
            unassignedHits: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM hits WHERE batch_sequence IS NULL") ?? 0,
            pendingBatches: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM outbox WHERE state = 'pending'") ?? 0,
            quarantinedBatches: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM outbox WHERE state = 'quarantined'") ?? 0,
            quarantinedRecords: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM quarantined_records") ?? 0,
            stream: state?[5] ?? "",
            lastAcknowledgedAt: (state?[0] as Int64?).map(Date.init(millisecondsSince1970:)),
            lastAcknowledgedSequence: state?[1],
            shippedBatches: state?[2] ?? 0, shippedHits: state?[3] ?? 0, failures: state?[4] ?? 0)
    }
}
