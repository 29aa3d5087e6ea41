import Foundation
import GRDB
import TallyCore

/// Aggregation and retention on the store. Recomputing a day reads its raw hits and replaces all of its
/// aggregate rows in one transaction, so a report never sees half a day.
extension CentralStore {
    public func dirtyDays(limit: Int = 1000) throws -> [DirtyDay] {
        try writer.read { db in
            try Row.fetchAll(db, sql: "SELECT site_id, day FROM dirty_days ORDER BY day, site_id LIMIT ?", arguments: [limit])
                .compactMap { row in LocalDay(row[1] as String).map { DirtyDay(site: row[0], day: $0) } }
        }
    }

    /// Recomputes one site-day from its raw hits. Days whose raw hits were purged keep their aggregates.
    public func recompute(_ target: DirtyDay, gap: TimeInterval) async throws {
        let zone = zones(target.site)
        let (start, end) = target.day.bounds(in: zone)
        try await writer.write { db in
            defer { try? db.execute(sql: "DELETE FROM dirty_days WHERE site_id = ? AND day = ?", arguments: [target.site, target.day.description]) }
            if let purged = try String.fetchOne(db, sql: "SELECT purged_before FROM purge_state WHERE site_id = ?", arguments: [target.site]),
               let before = LocalDay(purged), target.day < before {
                return
            }
            let payloads = try Data.fetchAll(
                db, sql: "SELECT payload FROM hits WHERE site_id = ? AND ts >= ? AND ts < ?",
                arguments: [target.site, start.millisecondsSince1970, end.millisecondsSince1970])
            let hits = try payloads.map { try Hit.decodeJSON($0) }
            let day = DayAggregator.aggregate(hits, zone: zone, gap: gap)
            try db.execute(sql: "DELETE FROM daily_rows WHERE site_id = ? AND day = ?", arguments: [target.site, target.day.description])
            try db.execute(sql: "DELETE FROM daily_visitors WHERE site_id = ? AND day = ?", arguments: [target.site, target.day.description])
            guard !hits.isEmpty else { return }
            let insert = try db.cachedStatement(sql: """
                INSERT INTO daily_rows (site_id, day, report, label, visits, actions, bounces, visit_seconds, pageviews,
                    unique_pageviews, hits, value) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
            for (report, labels) in day.rows {
                for (label, m) in labels {
                    try insert.execute(arguments: [
                        target.site, target.day.description, report, label, m.visits, m.actions, m.bounces, m.visitSeconds,
                        m.pageviews, m.uniquePageviews, m.hits, m.value,
                    ])
                }
            }
            try db.execute(
                sql: "INSERT INTO daily_visitors (site_id, day, unique_visitors, bot_hits, sketch) VALUES (?, ?, ?, ?, ?)",
                arguments: [target.site, target.day.description, day.uniqueVisitors, day.botHits, day.sketch.bytes])
        }
    }

    /// Marks every day of a range dirty (`tally-central aggregate`).
    public func markDirty(site: Int, from: LocalDay, to: LocalDay) async throws {
        try await writer.write { db in
            var day = from
            while day <= to {
                try db.execute(sql: "INSERT OR IGNORE INTO dirty_days (site_id, day) VALUES (?, ?)", arguments: [site, day.description])
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
        for dirty in try dirtyDays(limit: .max) where dirty.site == site && dirty.day < before {
            try await recompute(dirty, gap: gap)
        }
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
