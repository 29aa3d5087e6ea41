import Foundation
import GRDB
import TallyCore

// Aggregation: a day is read in a read snapshot (ingest and other days go on meanwhile) and its result
// replaces all of the day's aggregate rows in one transaction, so a report never sees half a day.
extension SQLiteCentralStore {
    public func dirtyDays(limit: Int) async throws -> [DirtyDay] {
        try await writer.read { db in
            try Row.fetchAll(db, sql: "SELECT site_id, day FROM dirty_days ORDER BY day, site_id LIMIT ?", arguments: [limit])
                .compactMap { row in LocalDay(row[1] as String).map { DirtyDay(site: row[0], day: $0) } }
        }
    }

    /// One node works on an SQLite store: every dirty day is its own.
    public func claimDirtyDays(limit: Int, now: Date, until: Date) async throws -> [DirtyDay] {
        try await dirtyDays(limit: limit)
    }

    public func markDirty(site: Int, days: [LocalDay]) async throws {
        try await writer.write { db in
            let mark = try db.cachedStatement(sql: Self.markDirtySQL)
            for day in days { try mark.execute(arguments: [site, day.description]) }
        }
    }

    public func dayInput(_ target: DirtyDay) async throws -> DayInput {
        let (start, end) = target.day.bounds(in: zones(target.site))
        let (site, dayText) = (target.site, target.day.description)
        return try await writer.read { db in
            let generation = try Int.fetchOne(db, sql: "SELECT generation FROM dirty_days WHERE site_id = ? AND day = ?", arguments: [site, dayText])
            if let purged = try String.fetchOne(db, sql: "SELECT purged_before FROM purge_state WHERE site_id = ?", arguments: [site]),
               let before = LocalDay(purged), target.day < before {
                return DayInput(generation: generation, hits: nil, countedOrders: [:])
            }
            let hits = try Array(Row.fetchCursor(
                db, sql: "SELECT \(Hit.columns.joined(separator: ", ")) FROM hits WHERE site_id = ? AND ts >= ? AND ts < ?",
                arguments: [site, start.millisecondsSince1970, end.millisecondsSince1970]
            ).map(Hit.init(row:)))
            let orderIDs = Set(hits.filter { $0.kind == .ecommerceOrder }.compactMap(\.orderID))
            var countedOrders: [String: Int64] = [:]
            if !orderIDs.isEmpty {
                for row in try Row.fetchAll(
                    db, sql: "SELECT order_id, ts FROM orders WHERE site_id = ? AND ts >= ? AND ts < ?",
                    arguments: [site, start.millisecondsSince1970, end.millisecondsSince1970]) where orderIDs.contains(row[0]) {
                    countedOrders[row[0]] = row[1]
                }
            }
            return DayInput(generation: generation, hits: hits, countedOrders: countedOrders)
        }
    }

    public func saveDay(_ target: DirtyDay, generation: Int?, aggregate day: DayAggregate?) async throws -> Bool {
        let (site, dayText) = (target.site, target.day.description)
        return try await writer.write { db in
            let current = try Int.fetchOne(db, sql: "SELECT generation FROM dirty_days WHERE site_id = ? AND day = ?", arguments: [site, dayText])
            guard current == generation else { return false }
            try db.execute(sql: "DELETE FROM dirty_days WHERE site_id = ? AND day = ?", arguments: [site, dayText])
            guard let day else { return true }
            try db.execute(sql: "DELETE FROM daily_rows WHERE site_id = ? AND day = ?", arguments: [site, dayText])
            try db.execute(sql: "DELETE FROM daily_visitors WHERE site_id = ? AND day = ?", arguments: [site, dayText])
            guard day.hitCount > 0 else { return true }
            let insert = try db.cachedStatement(sql: """
                INSERT INTO daily_rows (site_id, day, report, label, visits, actions, bounces, visit_seconds, pageviews,
                    unique_pageviews, hits, value, items, carts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
            for (report, labels) in day.rows {
                for (label, m) in labels {
                    try insert.execute(arguments: [
                        site, dayText, report, label, m.visits, m.actions, m.bounces, m.visitSeconds,
                        m.pageviews, m.uniquePageviews, m.hits, m.value, m.items, m.carts,
                    ])
                }
            }
            try db.execute(
                sql: "INSERT INTO daily_visitors (site_id, day, unique_visitors, bot_hits, sketch) VALUES (?, ?, ?, ?, ?)",
                arguments: [site, dayText, day.uniqueVisitors, day.botHits, day.sketch.bytes])
            return true
        }
    }

    public func siteIDs() async throws -> [Int] {
        try await writer.read { db in
            try Int.fetchAll(db, sql: "SELECT site_id FROM daily_visitors UNION SELECT DISTINCT site_id FROM hits ORDER BY 1")
        }
    }

    public func deleteHits(site: Int, before: LocalDay, cutoff: Int64) async throws -> Int {
        try await writer.write { db in
            try db.execute(sql: "DELETE FROM hits WHERE site_id = ? AND ts < ?", arguments: [site, cutoff])
            let deleted = db.changesCount
            let previous = try String.fetchOne(db, sql: "SELECT purged_before FROM purge_state WHERE site_id = ?", arguments: [site]).flatMap(LocalDay.init)
            if previous == nil || previous! < before {
                try db.execute(
                    sql: "INSERT INTO purge_state (site_id, purged_before) VALUES (?, ?) ON CONFLICT (site_id) DO UPDATE SET purged_before = excluded.purged_before",
                    arguments: [site, before.description])
            }
            return deleted
        }
    }
}

// Reports.
extension SQLiteCentralStore {
    public func periodRows(site: Int, report: String, from: LocalDay, to: LocalDay) async throws -> [(String, Metrics)] {
        try await writer.read { db in
            try Row.fetchAll(db, sql: """
                SELECT label, SUM(visits), SUM(actions), SUM(bounces), SUM(visit_seconds), SUM(pageviews),
                       SUM(unique_pageviews), SUM(hits), SUM(value), SUM(items), SUM(carts)
                FROM daily_rows WHERE site_id = ? AND report = ? AND day >= ? AND day <= ?
                GROUP BY label
                """, arguments: [site, report, from.description, to.description]).map { row in
                (row[0], Self.metrics(row, from: 1))
            }
        }
    }

    public func dailySummaries(site: Int, from: LocalDay, to: LocalDay) async throws -> [LocalDay: DaySummary] {
        try await writer.read { db in
            var result: [LocalDay: DaySummary] = [:]
            for row in try Row.fetchAll(db, sql: """
                SELECT v.day, v.unique_visitors, v.bot_hits, r.visits, r.actions, r.bounces, r.visit_seconds, r.pageviews,
                       r.unique_pageviews, r.hits, r.value, r.items, r.carts
                FROM daily_visitors v LEFT JOIN daily_rows r
                  ON r.site_id = v.site_id AND r.day = v.day AND r.report = 'summary' AND r.label = ''
                WHERE v.site_id = ? AND v.day >= ? AND v.day <= ?
                """, arguments: [site, from.description, to.description]) {
                guard let day = LocalDay(row[0] as String) else { continue }
                result[day] = DaySummary(metrics: Self.metrics(row, from: 3), uniqueVisitors: row[1], botHits: row[2])
            }
            return result
        }
    }

    public func purgedBefore(site: Int) async throws -> LocalDay? {
        try await writer.read { db in
            try String.fetchOne(db, sql: "SELECT purged_before FROM purge_state WHERE site_id = ?", arguments: [site]).flatMap(LocalDay.init)
        }
    }

    public func sketches(site: Int, from: LocalDay, to: LocalDay) async throws -> [Data] {
        try await writer.read { db in
            try Data.fetchAll(db, sql: "SELECT sketch FROM daily_visitors WHERE site_id = ? AND day >= ? AND day <= ?", arguments: [site, from.description, to.description])
        }
    }

    public func distinctVisitors(site: Int, start: Int64, end: Int64) async throws -> Int {
        try await writer.read { db in
            try Int.fetchOne(db, sql: """
                SELECT COUNT(DISTINCT visitor_id) FROM hits
                WHERE site_id = ? AND ts >= ? AND ts < ? AND is_bot = 0 AND visitor_id IS NOT NULL
                  AND aggregate_only = 0
                """, arguments: [site, start, end]) ?? 0
        }
    }

    static func metrics(_ row: Row, from index: Int) -> Metrics {
        var m = Metrics()
        m.visits = row[index] ?? 0
        m.actions = row[index + 1] ?? 0
        m.bounces = row[index + 2] ?? 0
        m.visitSeconds = row[index + 3] ?? 0
        m.pageviews = row[index + 4] ?? 0
        m.uniquePageviews = row[index + 5] ?? 0
        m.hits = row[index + 6] ?? 0
        m.value = row[index + 7] ?? 0
        m.items = row[index + 8] ?? 0
        m.carts = row[index + 9] ?? 0
        return m
    }
}

// Tokens: only a SHA-256 of each token is stored.
extension SQLiteCentralStore {
    public func insertToken(_ token: APIToken, hash: String, audit: @escaping @Sendable (Int64) -> String) async throws -> Int64 {
        try await writer.write { db -> Int64 in
            try db.execute(
                sql: "INSERT INTO api_tokens (name, token_sha256, sites, role, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
                arguments: [token.name, hash, token.siteList, token.role.rawValue, token.createdAt.millisecondsSince1970,
                            token.expiresAt?.millisecondsSince1970])
            let id = db.lastInsertedRowID
            try Self.audit(db, "token_created", audit(id), token.createdAt)
            return id
        }
    }

    public func tokens() async throws -> [APIToken] {
        try await writer.read { db in try Row.fetchAll(db, sql: "SELECT * FROM api_tokens ORDER BY id").map(Self.token) }
    }

    public func token(hash: String) async throws -> APIToken? {
        try await writer.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM api_tokens WHERE token_sha256 = ?", arguments: [hash]).map(Self.token)
        }
    }

    public func touchToken(id: Int64, at now: Date) async throws {
        try await writer.write { db in
            try db.execute(sql: "UPDATE api_tokens SET last_used_at = ? WHERE id = ?", arguments: [now.millisecondsSince1970, id])
        }
    }

    public func revokeToken(id: Int64, now: Date) async throws -> Bool {
        try await writer.write { db in
            try db.execute(sql: "UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", arguments: [now.millisecondsSince1970, id])
            guard db.changesCount > 0 else { return false }
            try Self.audit(db, "token_revoked", "id=\(id)", now)
            return true
        }
    }

    static func token(_ row: Row) -> APIToken {
        APIToken(
            id: row["id"], name: row["name"], siteList: row["sites"], role: row["role"], createdAt: row["created_at"],
            expiresAt: row["expires_at"], revokedAt: row["revoked_at"], lastUsedAt: row["last_used_at"])
    }
}

// The send log: one row per (schedule, period), queued before the first attempt and marked sent after
// the relay accepted the message. It survives restarts, which is what sends each period once.
extension SQLiteCentralStore {
    public func lastQueued(schedule: String) async throws -> LocalDay? {
        try await writer.read { db in
            try String.fetchOne(db, sql: "SELECT MAX(period_start) FROM send_log WHERE schedule = ?", arguments: [schedule]).flatMap(LocalDay.init)
        }
    }

    public func queue(schedule: String, period: ReportPeriod, messageID: String) async throws {
        try await writer.write { db in
            try db.execute(sql: """
                INSERT OR IGNORE INTO send_log (schedule, period_start, period_end, status, message_id) VALUES (?, ?, ?, 'pending', ?)
                """, arguments: [schedule, period.from.description, period.to.description, messageID])
        }
    }

    public func claimDueReports(schedule: String, now: Date, until: Date) async throws -> [QueuedReport] {
        try await writer.write { db in
            try Row.fetchAll(db, sql: """
                UPDATE send_log SET next_attempt_at = ?
                WHERE schedule = ? AND status = 'pending' AND next_attempt_at <= ?
                RETURNING period_start, period_end, attempts
                """, arguments: [until.millisecondsSince1970, schedule, now.millisecondsSince1970]).sorted { ($0[0] as String) < ($1[0] as String) }.compactMap { row in
                guard let from = LocalDay(row[0] as String), let to = LocalDay(row[1] as String) else { return nil }
                return QueuedReport(schedule: schedule, from: from, to: to, status: "pending", attempts: row[2])
            }
        }
    }

    public func markSent(schedule: String, from: LocalDay, now: Date, detail: String) async throws {
        try await writer.write { db in
            try db.execute(sql: "UPDATE send_log SET status = 'sent', sent_at = ?, attempts = attempts + 1, last_error = NULL WHERE schedule = ? AND period_start = ?",
                           arguments: [now.millisecondsSince1970, schedule, from.description])
            try Self.audit(db, "report_sent", detail, now)
        }
    }

    public func markFailed(schedule: String, from: LocalDay, error: String, retryAt: Date, now: Date, detail: String) async throws {
        try await writer.write { db in
            try db.execute(sql: "UPDATE send_log SET attempts = attempts + 1, next_attempt_at = ?, last_error = ? WHERE schedule = ? AND period_start = ?",
                           arguments: [retryAt.millisecondsSince1970, error, schedule, from.description])
            try Self.audit(db, "report_failed", detail + " error=\(error)", now)
        }
    }

    public func sendLog() async throws -> [QueuedReport] {
        try await writer.read { db in
            try Row.fetchAll(db, sql: "SELECT schedule, period_start, period_end, status, attempts FROM send_log ORDER BY schedule, period_start").compactMap { row in
                guard let from = LocalDay(row[1] as String), let to = LocalDay(row[2] as String) else { return nil }
                return QueuedReport(schedule: row[0], from: from, to: to, status: row[3], attempts: row[4])
            }
        }
    }
}

// Data subjects.
extension SQLiteCentralStore {
    public func deleteUserHits(site: Int, userIDs: [String], now: Date, audit: @escaping @Sendable (Int, Int) -> String) async throws -> (hits: Int, days: Set<LocalDay>) {
        let zone = zones(site)
        let placeholders = userIDs.map { _ in "?" }.joined(separator: ", ")
        return try await writer.write { db in
            let arguments = StatementArguments([site.databaseValue] + userIDs.map(\.databaseValue))
            let timestamps = try Int64.fetchAll(db, sql: "SELECT ts FROM hits WHERE site_id = ? AND user_id IN (\(placeholders))", arguments: arguments)
            try db.execute(sql: "DELETE FROM hits WHERE site_id = ? AND user_id IN (\(placeholders))", arguments: arguments)
            let days = Set(timestamps.map { LocalDay(containing: Date(millisecondsSince1970: $0), in: zone) })
            for day in days {
                try db.execute(sql: Self.markDirtySQL, arguments: [site, day.description])
            }
            try Self.audit(db, "data_deleted", audit(timestamps.count, days.count), now)
            return (timestamps.count, days)
        }
    }
}
