import Foundation
import GRDB
import TallyCore

/// The send log: one row per (schedule, period), queued before the first attempt and marked sent after
/// the relay accepted the message. It survives restarts, which is what sends each period once.
extension CentralStore {
    public struct QueuedReport: Sendable, Equatable {
        public var schedule: String
        public var from: LocalDay
        public var to: LocalDay
        public var status: String
        public var attempts: Int
    }

    func lastQueued(schedule: String) throws -> LocalDay? {
        try writer.read { db in
            try String.fetchOne(db, sql: "SELECT MAX(period_start) FROM send_log WHERE schedule = ?", arguments: [schedule]).flatMap(LocalDay.init)
        }
    }

    func queue(schedule: String, period: ReportPeriod, messageID: String) async throws {
        try await writer.write { db in
            try db.execute(sql: """
                INSERT OR IGNORE INTO send_log (schedule, period_start, period_end, status, message_id) VALUES (?, ?, ?, 'pending', ?)
                """, arguments: [schedule, period.from.description, period.to.description, messageID])
        }
    }

    func pendingReports(schedule: String, now: Date) throws -> [QueuedReport] {
        try writer.read { db in
            try Row.fetchAll(db, sql: """
                SELECT period_start, period_end, attempts FROM send_log
                WHERE schedule = ? AND status = 'pending' AND next_attempt_at <= ? ORDER BY period_start
                """, arguments: [schedule, now.millisecondsSince1970]).compactMap { row in
                guard let from = LocalDay(row[0] as String), let to = LocalDay(row[1] as String) else { return nil }
                return QueuedReport(schedule: schedule, from: from, to: to, status: "pending", attempts: row[2])
            }
        }
    }

    func markSent(schedule: String, from: LocalDay, now: Date, detail: String) async throws {
        try await writer.write { db in
            try db.execute(sql: "UPDATE send_log SET status = 'sent', sent_at = ?, attempts = attempts + 1, last_error = NULL WHERE schedule = ? AND period_start = ?",
                           arguments: [now.millisecondsSince1970, schedule, from.description])
            try Self.audit(db, "report_sent", detail, now)
        }
    }

    func markFailed(schedule: String, from: LocalDay, error: String, retryAt: Date, now: Date, detail: String) async throws {
        try await writer.write { db in
            try db.execute(sql: "UPDATE send_log SET attempts = attempts + 1, next_attempt_at = ?, last_error = ? WHERE schedule = ? AND period_start = ?",
                           arguments: [retryAt.millisecondsSince1970, error, schedule, from.description])
            try Self.audit(db, "report_failed", detail + " error=\(error)", now)
        }
    }

    /// Every send-log row (for status output and tests).
    public func sendLog() throws -> [QueuedReport] {
        try writer.read { db in
            try Row.fetchAll(db, sql: "SELECT schedule, period_start, period_end, status, attempts FROM send_log ORDER BY schedule, period_start").compactMap { row in
                guard let from = LocalDay(row[1] as String), let to = LocalDay(row[2] as String) else { return nil }
                return QueuedReport(schedule: row[0], from: from, to: to, status: row[3], attempts: row[4])
            }
        }
    }
}
