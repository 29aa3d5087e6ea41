import Foundation
import PostgresNIO
import TallyCore

// Aggregation. A day's hits are read in one REPEATABLE READ snapshot; its result replaces the day's
// aggregate rows in one transaction, only if its dirty generation is still the one the snapshot saw.
extension PostgresCentralStore {
    public func dirtyDays(limit: Int) async throws -> [DirtyDay] {
        try await rows("SELECT site_id, day FROM dirty_days ORDER BY day, site_id LIMIT \(Int64(min(limit, Int(Int64.max))))")
            .compactMap { row in
                guard let day = LocalDay(try row.string(1)) else { return nil }
                return DirtyDay(site: try row.int(0), day: day)
            }
    }

    public func claimDirtyDays(limit: Int, now: Date, until: Date) async throws -> [DirtyDay] {
        try await rows("""
            UPDATE dirty_days SET claimed_until = \(until.millisecondsSince1970)
            WHERE (site_id, day) IN (
                SELECT site_id, day FROM dirty_days WHERE claimed_until <= \(now.millisecondsSince1970)
                ORDER BY day, site_id LIMIT \(Int64(min(limit, Int(Int64.max)))) FOR UPDATE SKIP LOCKED)
            RETURNING site_id, day
            """).compactMap { row in
            guard let day = LocalDay(try row.string(1)) else { return nil }
            return DirtyDay(site: try row.int(0), day: day)
        }.sorted { ($0.day, $0.site) < ($1.day, $1.site) }
    }

    public func markDirty(site: Int, days: [LocalDay]) async throws {
        try await transaction { [self] db in
            _ = try await db.query(Self.markDirty(Set(days.map { DirtyDay(site: site, day: $0) })), logger: logger)
        }
    }

    public func dayInput(_ target: DirtyDay) async throws -> DayInput {
        let (start, end) = target.day.bounds(in: zones(target.site))
        let (from, to) = (start.millisecondsSince1970, end.millisecondsSince1970)
        let (site, dayText) = (target.site, target.day.description)
        return try await connection { [self] db in
            try await db.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", logger: logger)
            do {
                let generation = try await db.rows("SELECT generation FROM dirty_days WHERE site_id = \(site) AND day = \(dayText)", logger: logger)
                    .first.map { try $0.int(0) }
                let purged = try await db.rows("SELECT purged_before FROM purge_state WHERE site_id = \(site)", logger: logger)
                    .first.flatMap { LocalDay(try $0.string(0)) }
                if let purged, target.day < purged {
                    try await db.query("COMMIT", logger: logger)
                    return DayInput(generation: generation, hits: nil, countedOrders: [:])
                }
                let hits = try await db.rows(
                    "SELECT \(unescaped: Hit.columns.joined(separator: ", ")) FROM hits WHERE site_id = \(site) AND ts >= \(from) AND ts < \(to)",
                    logger: logger).map(Hit.init(columns:))
                var countedOrders: [String: Int64] = [:]
                let orderIDs = Set(hits.filter { $0.kind == .ecommerceOrder }.compactMap(\.orderID))
                if !orderIDs.isEmpty {
                    for row in try await db.rows("SELECT order_id, ts FROM orders WHERE site_id = \(site) AND ts >= \(from) AND ts < \(to)", logger: logger) {
                        let order = try row.string(0)
                        if orderIDs.contains(order) { countedOrders[order] = try row.int64(1) }
                    }
                }
                try await db.query("COMMIT", logger: logger)
                return DayInput(generation: generation, hits: hits, countedOrders: countedOrders)
            } catch {
                _ = try? await db.query("ROLLBACK", logger: logger)
                throw error
            }
        }
    }

    public func saveDay(_ target: DirtyDay, generation: Int?, aggregate day: DayAggregate?) async throws -> Bool {
        let (site, dayText) = (target.site, target.day.description)
        return try await transaction { [self] db in
            // The mark's row lock: a batch marking the day again waits for this transaction, then bumps
            // a generation that is gone, so the day is marked anew and aggregated again.
            let current = try await db.rows("SELECT generation FROM dirty_days WHERE site_id = \(site) AND day = \(dayText) FOR UPDATE", logger: logger)
                .first.map { try $0.int(0) }
            guard current == generation else { return false }
            try await db.query("DELETE FROM dirty_days WHERE site_id = \(site) AND day = \(dayText)", logger: logger)
            guard let day else { return true }
            try await db.query("DELETE FROM daily_rows WHERE site_id = \(site) AND day = \(dayText)", logger: logger)
            try await db.query("DELETE FROM daily_visitors WHERE site_id = \(site) AND day = \(dayText)", logger: logger)
            guard day.hitCount > 0 else { return true }
            try await db.copyFrom(
                table: "daily_rows",
                columns: ["site_id", "day", "report", "label", "visits", "actions", "bounces", "visit_seconds", "pageviews",
                          "unique_pageviews", "hits", "value", "items", "carts"],
                logger: logger
            ) { writer in
                var copy = CopyText()
                for (report, labels) in day.rows {
                    for (label, m) in labels {
                        copy.row([
                            .integer(Int64(site)), .text(dayText), .text(report), .text(label), .integer(Int64(m.visits)),
                            .integer(Int64(m.actions)), .integer(Int64(m.bounces)), .integer(Int64(m.visitSeconds)),
                            .integer(Int64(m.pageviews)), .integer(Int64(m.uniquePageviews)), .integer(Int64(m.hits)), .real(m.value),
                            .integer(Int64(m.items)), .integer(Int64(m.carts)),
                        ])
                        try await copy.send(to: writer)
                    }
                }
                try await copy.send(to: writer, over: 0)
            }
            try await db.query("""
                INSERT INTO daily_visitors (site_id, day, unique_visitors, bot_hits, sketch)
                VALUES (\(site), \(dayText), \(day.uniqueVisitors), \(day.botHits), \(day.sketch.bytes))
                """, logger: logger)
            return true
        }
    }

    public func siteIDs() async throws -> [Int] {
        try await rows("SELECT site_id FROM daily_visitors UNION SELECT DISTINCT site_id FROM hits ORDER BY 1").map { try $0.int(0) }
    }

    /// Deletes the site's hits before `cutoff`: partitions wholly before it that hold no other site's hits
    /// are dropped; in the others the site's rows are deleted.
    public func deleteHits(site: Int, before: LocalDay, cutoff: Int64) async throws -> Int {
        try await transaction { [self] db in
            try await db.query("SELECT pg_advisory_xact_lock(7746217)", logger: logger)
            var deleted = 0
            let partitions = try await db.rows("""
                SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i
                JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'hits'::regclass
                """, logger: logger)
            for row in partitions {
                let name = try row.string(0)
                guard let day = Self.partitionDay(name), (day + 1) * 86_400_000 <= cutoff else { continue }
                let others = try await db.rows("SELECT 1 FROM \(unescaped: name) WHERE site_id <> \(site) LIMIT 1", logger: logger)
                guard others.isEmpty else { continue }
                deleted += try await db.rows("SELECT COUNT(*) FROM \(unescaped: name)", logger: logger).first?.int(0) ?? 0
                try await db.query("DROP TABLE \(unescaped: name)", logger: logger)
                forgetPartition(day)
            }
            deleted += try await db.rows("WITH gone AS (DELETE FROM hits WHERE site_id = \(site) AND ts < \(cutoff) RETURNING 1) SELECT COUNT(*) FROM gone", logger: logger)
                .first?.int(0) ?? 0
            try await db.query("""
                INSERT INTO purge_state (site_id, purged_before) VALUES (\(site), \(before.description))
                ON CONFLICT (site_id) DO UPDATE SET purged_before = GREATEST(purge_state.purged_before, excluded.purged_before)
                """, logger: logger)
            return deleted
        }
    }

    /// The UTC day a partition named by `partitionName` holds.
    static func partitionDay(_ name: String) -> Int64? {
        guard name.hasPrefix("hits_d") || name.hasPrefix("hits_m"), let day = LocalDay(String(name.dropFirst(6)).dateText) else { return nil }
        return Int64((day.bounds(in: .gmt).start.timeIntervalSince1970 / 86_400).rounded(.down))
    }
}

private extension String {
    /// `20261028` as `2026-10-28`.
    var dateText: String {
        guard count == 8 else { return self }
        let characters = Array(self)
        return String(characters[0..<4]) + "-" + String(characters[4..<6]) + "-" + String(characters[6..<8])
    }
}

// Reports.
extension PostgresCentralStore {
    /// SUM of a BIGINT column is NUMERIC in PostgreSQL; the casts bring the sums back to BIGINT.
    static let metricSums = """
        SUM(visits)::BIGINT, SUM(actions)::BIGINT, SUM(bounces)::BIGINT, SUM(visit_seconds)::BIGINT, SUM(pageviews)::BIGINT,
        SUM(unique_pageviews)::BIGINT, SUM(hits)::BIGINT, SUM(value), SUM(items)::BIGINT, SUM(carts)::BIGINT
        """

    public func periodRows(site: Int, report: String, from: LocalDay, to: LocalDay) async throws -> [(String, Metrics)] {
        try await rows("""
            SELECT label, \(unescaped: Self.metricSums) FROM daily_rows
            WHERE site_id = \(site) AND report = \(report) AND day >= \(from.description) AND day <= \(to.description) GROUP BY label
            """).map { (try $0.string(0), Self.metrics($0, from: 1)) }
    }

    public func dailySummaries(site: Int, from: LocalDay, to: LocalDay) async throws -> [LocalDay: DaySummary] {
        var result: [LocalDay: DaySummary] = [:]
        for row in try await rows("""
            SELECT v.day, v.unique_visitors, v.bot_hits, r.visits, r.actions, r.bounces, r.visit_seconds, r.pageviews,
                   r.unique_pageviews, r.hits, r.value, r.items, r.carts
            FROM daily_visitors v LEFT JOIN daily_rows r
              ON r.site_id = v.site_id AND r.day = v.day AND r.report = 'summary' AND r.label = ''
            WHERE v.site_id = \(site) AND v.day >= \(from.description) AND v.day <= \(to.description)
            """) {
            guard let day = LocalDay(try row.string(0)) else { continue }
            result[day] = DaySummary(metrics: Self.metrics(row, from: 3), uniqueVisitors: try row.int(1), botHits: try row.int(2))
        }
        return result
    }

    public func purgedBefore(site: Int) async throws -> LocalDay? {
        try await rows("SELECT purged_before FROM purge_state WHERE site_id = \(site)").first.flatMap { LocalDay(try $0.string(0)) }
    }

    public func sketches(site: Int, from: LocalDay, to: LocalDay) async throws -> [Data] {
        try await rows("SELECT sketch FROM daily_visitors WHERE site_id = \(site) AND day >= \(from.description) AND day <= \(to.description)")
            .map { try $0.cells[0].decode(Data.self) }
    }

    public func distinctVisitors(site: Int, start: Int64, end: Int64) async throws -> Int {
        try await rows("""
            SELECT COUNT(DISTINCT visitor_id) FROM hits
            WHERE site_id = \(site) AND ts >= \(start) AND ts < \(end) AND is_bot = 0 AND visitor_id IS NOT NULL AND aggregate_only = 0
            """).first?.int(0) ?? 0
    }

    static func metrics(_ row: PGRow, from index: Int) -> Metrics {
        var m = Metrics()
        m.visits = Int(row.integer(index) ?? 0)
        m.actions = Int(row.integer(index + 1) ?? 0)
        m.bounces = Int(row.integer(index + 2) ?? 0)
        m.visitSeconds = Int(row.integer(index + 3) ?? 0)
        m.pageviews = Int(row.integer(index + 4) ?? 0)
        m.uniquePageviews = Int(row.integer(index + 5) ?? 0)
        m.hits = Int(row.integer(index + 6) ?? 0)
        m.value = row.real(index + 7) ?? 0
        m.items = Int(row.integer(index + 8) ?? 0)
        m.carts = Int(row.integer(index + 9) ?? 0)
        return m
    }
}

// Tokens: only a SHA-256 of each token is stored.
extension PostgresCentralStore {
    public func insertToken(_ token: APIToken, hash: String, audit: @escaping @Sendable (Int64) -> String) async throws -> Int64 {
        try await transaction { [self] db in
            let id = try await db.rows("""
                INSERT INTO api_tokens (name, token_sha256, sites, role, created_at, expires_at)
                VALUES (\(token.name), \(hash), \(token.siteList), \(token.role.rawValue), \(token.createdAt.millisecondsSince1970),
                        \(token.expiresAt?.millisecondsSince1970)) RETURNING id
                """, logger: logger)[0].int64(0)
            try await Self.audit(db, "token_created", audit(id), token.createdAt, logger: logger)
            return id
        }
    }

    static let tokenColumns = "id, name, sites, role, created_at, expires_at, revoked_at, last_used_at"

    public func tokens() async throws -> [APIToken] {
        try await rows("SELECT \(unescaped: Self.tokenColumns) FROM api_tokens ORDER BY id").map(Self.token)
    }

    public func token(hash: String) async throws -> APIToken? {
        try await rows("SELECT \(unescaped: Self.tokenColumns) FROM api_tokens WHERE token_sha256 = \(hash)").first.map(Self.token)
    }

    public func touchToken(id: Int64, at now: Date) async throws {
        try await execute("UPDATE api_tokens SET last_used_at = \(now.millisecondsSince1970) WHERE id = \(id)")
    }

    public func revokeToken(id: Int64, now: Date) async throws -> Bool {
        try await transaction { [self] db in
            let revoked = try await db.rows("""
                UPDATE api_tokens SET revoked_at = \(now.millisecondsSince1970) WHERE id = \(id) AND revoked_at IS NULL RETURNING id
                """, logger: logger)
            guard !revoked.isEmpty else { return false }
            try await Self.audit(db, "token_revoked", "id=\(id)", now, logger: logger)
            return true
        }
    }

    static func token(_ row: PGRow) throws -> APIToken {
        APIToken(
            id: try row.int64(0), name: try row.string(1), siteList: try row.string(2), role: try row.string(3), createdAt: try row.int64(4),
            expiresAt: try row.optionalInt64(5), revokedAt: try row.optionalInt64(6), lastUsedAt: try row.optionalInt64(7))
    }
}

// The send log: one row per (schedule, period).
extension PostgresCentralStore {
    public func lastQueued(schedule: String) async throws -> LocalDay? {
        try await rows("SELECT MAX(period_start) FROM send_log WHERE schedule = \(schedule)").first?.text(0).flatMap(LocalDay.init)
    }

    public func queue(schedule: String, period: ReportPeriod, messageID: String) async throws {
        try await execute("""
            INSERT INTO send_log (schedule, period_start, period_end, status, message_id)
            VALUES (\(schedule), \(period.from.description), \(period.to.description), 'pending', \(messageID)) ON CONFLICT DO NOTHING
            """)
    }

    public func claimDueReports(schedule: String, now: Date, until: Date) async throws -> [QueuedReport] {
        // A second node's UPDATE waits for the first one's row locks, then finds the rows no longer due.
        try await rows("""
            UPDATE send_log SET next_attempt_at = \(until.millisecondsSince1970)
            WHERE schedule = \(schedule) AND status = 'pending' AND next_attempt_at <= \(now.millisecondsSince1970)
            RETURNING period_start, period_end, attempts
            """).sorted { (try? $0.string(0)) ?? "" < (try? $1.string(0)) ?? "" }.compactMap { row in
            guard let from = LocalDay(try row.string(0)), let to = LocalDay(try row.string(1)) else { return nil }
            return QueuedReport(schedule: schedule, from: from, to: to, status: "pending", attempts: try row.int(2))
        }
    }

    public func markSent(schedule: String, from: LocalDay, now: Date, detail: String) async throws {
        try await transaction { [self] db in
            try await db.query("""
                UPDATE send_log SET status = 'sent', sent_at = \(now.millisecondsSince1970), attempts = attempts + 1, last_error = NULL
                WHERE schedule = \(schedule) AND period_start = \(from.description)
                """, logger: logger)
            try await Self.audit(db, "report_sent", detail, now, logger: logger)
        }
    }

    public func markFailed(schedule: String, from: LocalDay, error: String, retryAt: Date, now: Date, detail: String) async throws {
        try await transaction { [self] db in
            try await db.query("""
                UPDATE send_log SET attempts = attempts + 1, next_attempt_at = \(retryAt.millisecondsSince1970), last_error = \(error)
                WHERE schedule = \(schedule) AND period_start = \(from.description)
                """, logger: logger)
            try await Self.audit(db, "report_failed", detail + " error=\(error)", now, logger: logger)
        }
    }

    public func sendLog() async throws -> [QueuedReport] {
        try await rows("SELECT schedule, period_start, period_end, status, attempts FROM send_log ORDER BY schedule, period_start").compactMap { row in
            guard let from = LocalDay(try row.string(1)), let to = LocalDay(try row.string(2)) else { return nil }
            return QueuedReport(schedule: try row.string(0), from: from, to: to, status: try row.string(3), attempts: try row.int(4))
        }
    }
}

// Data subjects.
extension PostgresCentralStore {
    public func deleteUserHits(site: Int, userIDs: [String], now: Date, audit: @escaping @Sendable (Int, Int) -> String) async throws -> (hits: Int, days: Set<LocalDay>) {
        let zone = zones(site)
        return try await transaction { [self] db in
            let timestamps = try await db.rows("""
                DELETE FROM hits WHERE site_id = \(site) AND user_id = ANY(\(userIDs)) RETURNING ts
                """, logger: logger).map { try $0.int64(0) }
            let days = Set(timestamps.map { LocalDay(containing: Date(millisecondsSince1970: $0), in: zone) })
            try await db.query(Self.markDirty(Set(days.map { DirtyDay(site: site, day: $0) })), logger: logger)
            try await Self.audit(db, "data_deleted", audit(timestamps.count, days.count), now, logger: logger)
            return (timestamps.count, days)
        }
    }
}
