import Foundation
import GRDB
import TallyCore

extension CentralStore {
    /// Deletes every hit of one data subject on a site — stored under the keyed hash of their user id, or
    /// under the id itself where the policy kept it — recomputes the days those hits were on, and writes
    /// the deletion to the audit log (with the hash, never the id). Returns hits deleted and days redone.
    public func deleteUser(site: Int, userID: String, hasher: UserIDHasher, gap: TimeInterval, now: Date) async throws -> (hits: Int, days: Int) {
        let hashed = hasher.hash(userID: userID, siteID: site)
        let zone = zones(site)
        let (deleted, days) = try await writer.write { db -> (Int, Set<LocalDay>) in
            let timestamps = try Int64.fetchAll(db, sql: """
                SELECT ts FROM hits WHERE site_id = ? AND user_id IN (?, ?)
                """, arguments: [site, hashed, userID])
            try db.execute(
                sql: "DELETE FROM hits WHERE site_id = ? AND user_id IN (?, ?)",
                arguments: [site, hashed, userID])
            let days = Set(timestamps.map { LocalDay(containing: Date(millisecondsSince1970: $0), in: zone) })
            for day in days {
                try db.execute(sql: Self.markDirtySQL, arguments: [site, day.description])
            }
            try Self.audit(db, "data_deleted", "site=\(site) user_id_hash=\(hashed) hits=\(timestamps.count) days=\(days.count)", now)
            return (timestamps.count, days)
        }
        for day in days { try await recompute(DirtyDay(site: site, day: day), gap: gap) }
        return (deleted, days.count)
    }
}
