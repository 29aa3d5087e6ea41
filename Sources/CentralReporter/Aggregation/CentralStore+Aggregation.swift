import Foundation
import GRDB
import TallyCore

/// Aggregation and retention on the store. Recomputing a day reads its raw hits in a snapshot and replaces
/// all of its aggregate rows in one transaction, so a report never sees half a day.
extension CentralStore {
    public func dirtyDays(limit: Int = 1000) throws -> [DirtyDay] {
        try writer.read { db in
            try Row.fetchAll(db, sql: "SELECT site_id, day FROM dirty_days ORDER BY day, site_id LIMIT ?", arguments: [limit])
                .compactMap { row in LocalDay(row[1] as String).map { DirtyDay(site: row[0], day: $0) } }
        }
    }

    /// Recomputes one site-day from its raw hits. Days whose raw hits were purged keep their aggregates.
    ///
    /// The hits are read and aggregated in a read snapshot, so ingest and other days' aggregation go on
    /// meanwhile; the result is written only if the day's dirty generation is still the one the snapshot saw.
    /// Otherwise a batch (or another aggregator) touched the day since, the day stays dirty and is redone.
    /// Returns whether the result was written.
    @discardableResult
    public func recompute(_ target: DirtyDay, gap: TimeInterval) async throws -> Bool {
        let zone = zones(target.site)
        let (start, end) = target.day.bounds(in: zone)
        let (site, dayText) = (target.site, target.day.description)
        let (generation, day) = try await writer.read { db -> (Int?, DayAggregate?) in
            let generation = try Int.fetchOne(db, sql: "SELECT generation FROM dirty_days WHERE site_id = ? AND day = ?", arguments: [site, dayText])
            if let purged = try String.fetchOne(db, sql: "SELECT purged_before FROM purge_state WHERE site_id = ?", arguments: [site]),
               let before = LocalDay(purged), target.day < before {
                return (generation, nil)
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
            return (generation, DayAggregator.aggregate(hits, zone: zone, gap: gap, countedOrders: countedOrders))
        }
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

    /// Recomputes `days` with up to `parallelism` days read and aggregated at once (each on its own read
    /// snapshot; the writes take turns). Returns how many were written; a day a batch dirtied again
    /// meanwhile stays dirty for the next round.
    @discardableResult
    public func recompute(_ days: [DirtyDay], gap: TimeInterval, parallelism: Int = ProcessInfo.processInfo.activeProcessorCount) async throws -> Int {
        var pending = days[...]
        var written = 0
        try await withThrowingTaskGroup(of: Bool.self) { group in
            func startNext() {
                guard let day = pending.popFirst() else { return }
                group.addTask { try await recompute(day, gap: gap) }
            }
            for _ in 0..<max(1, parallelism) { startNext() }
            while let done = try await group.next() {
                try Task.checkCancellation()
                if done { written += 1 }
                startNext()
            }
        }
        return written
    }

    /// Marks every day of a range dirty (`tally-central aggregate`).
    public func markDirty(site: Int, from: LocalDay, to: LocalDay) async throws {
        try await writer.write { db in
            var day = from
            while day <= to {
                try db.execute(sql: Self.markDirtySQL, arguments: [site, day.description])
                day = day.adding(days: 1)
            }
        }
    }

    /// The sites that have hits or aggregates.
    public func siteIDs() throws -> [Int] {
        try writer.read { db in
            try Int.fetchAll(db, sql: "SELECT site_id FROM daily_visitors UNION SELECT DISTINCT site_id FROM hits ORDER BY 1")
        }
    }

    /// Deletes raw hits of days before `before` (site time) after making sure those days are aggregated;
    /// returns how many hits were deleted. Reports of purged days come from the aggregates and sketches.
    public func purge(site: Int, before: LocalDay, gap: TimeInterval) async throws -> Int {
        try await recompute(try dirtyDays(limit: .max).filter { $0.site == site && $0.day < before }, gap: gap)
        let cutoff = before.bounds(in: zones(site)).start.millisecondsSince1970
        return try await writer.write { db in
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

extension CentralStore {
    /// Visits per aggregated day of a site.
    public func visitsPerDay(site: Int) throws -> [String: Int] {
        try writer.read { db in
            Dictionary(uniqueKeysWithValues: try Row.fetchAll(
                db, sql: "SELECT day, visits FROM daily_rows WHERE site_id = ? AND report = 'summary' ORDER BY day", arguments: [site]
            ).map { ($0[0] as String, $0[1] as Int) })
        }
    }
}
