import Crypto
import Foundation
import TallyCore

/// What storing a batch did.
public enum StoreOutcome: Sendable, Equatable {
    /// Stored. `missingBefore` counts the sequence numbers skipped since the stream's last stored batch
    /// (0 when the batch follows on, or starts a stream at 1): batches the edge lost or quarantined.
    case stored(hits: Int, missingBefore: Int64)
    /// The same (edge, sequence) with the same bytes was stored before; nothing changed.
    case duplicate
    /// The (edge, sequence) was stored before with different content: refused, nothing changed.
    case conflict
}

/// What ingest needs of a store.
public protocol BatchStore: Sendable {
    /// Stores the batch record and all its hits in one transaction, or recognises a replay.
    func store(_ header: BatchHeader, hits: [Hit], contentSHA256: String, receivedAt: Date) async throws -> StoreOutcome
    func audit(_ event: String, detail: String, at: Date) async throws
}

/// Central's storage: SQLite on one machine (`SQLiteCentralStore`, the default) or PostgreSQL shared by
/// several nodes (`PostgresCentralStore`). Each backend implements these operations in its own SQL, each
/// one a transaction; what is built on them — aggregation, reports, tokens, the send log, deletion — is
/// written once, in the extensions below and in their callers.
public protocol CentralStore: BatchStore {
    /// The time zone each site's days are counted in.
    var zones: @Sendable (Int) -> TimeZone { get }
    /// How many days are best aggregated at once: as many as cores where the store is in this process;
    /// more where each day also waits for a database server's answers and commits.
    var dayParallelism: Int { get }

    // MARK: Batches

    /// Proves the store answers a read and commits a write now; throws what stops it.
    func probe(now: Date) async throws
    /// Each edge stream's last stored batch: what `tally-central status` lists.
    func edgeContacts() async throws -> [EdgeContact]
    /// Number of stored hits and batches (for status output and tests).
    func counts() async throws -> (hits: Int, batches: Int)

    // MARK: Audit log

    /// The newest audit entries, oldest first.
    func auditLog(limit: Int) async throws -> [AuditEntry]

    // MARK: Aggregation

    /// Days waiting to be aggregated, oldest first.
    func dirtyDays(limit: Int) async throws -> [DirtyDay]
    /// Days waiting to be aggregated that no other node is working on, claimed for this one until `until`
    /// (a node that dies leaves its claims to expire); marking a day dirty again releases its claim.
    func claimDirtyDays(limit: Int, now: Date, until: Date) async throws -> [DirtyDay]
    /// Marks days for aggregation, bumping the generation of those already marked.
    func markDirty(site: Int, days: [LocalDay]) async throws
    /// A dirty day's raw hits and counted orders, read in one snapshot with its generation; `nil` input
    /// for a day whose raw hits were purged.
    func dayInput(_ target: DirtyDay) async throws -> DayInput
    /// Replaces the day's aggregates (or only clears its mark, with a nil aggregate) if its generation is
    /// still `generation`; returns whether it did.
    func saveDay(_ target: DirtyDay, generation: Int?, aggregate: DayAggregate?) async throws -> Bool
    /// The sites that have hits or aggregates.
    func siteIDs() async throws -> [Int]
    /// Deletes the site's raw hits before `cutoff` (ms) and records that days before `before` are purged.
    func deleteHits(site: Int, before: LocalDay, cutoff: Int64) async throws -> Int

    // MARK: Reports

    /// A report's rows summed over a period, by label.
    func periodRows(site: Int, report: String, from: LocalDay, to: LocalDay) async throws -> [(String, Metrics)]
    /// Each aggregated day's summary metrics, unique visitors and bot hits.
    func dailySummaries(site: Int, from: LocalDay, to: LocalDay) async throws -> [LocalDay: DaySummary]
    /// Days before this one have had their raw hits purged.
    func purgedBefore(site: Int) async throws -> LocalDay?
    /// The HyperLogLog sketches of the period's aggregated days.
    func sketches(site: Int, from: LocalDay, to: LocalDay) async throws -> [Data]
    /// Distinct visitor ids of the raw hits between `start` and `end` (ms) that count as visits.
    func distinctVisitors(site: Int, start: Int64, end: Int64) async throws -> Int

    // MARK: Tokens

    /// Stores a token record with the audit entry `audit(id)`; returns its id.
    func insertToken(_ token: APIToken, hash: String, audit: @escaping @Sendable (Int64) -> String) async throws -> Int64
    func tokens() async throws -> [APIToken]
    func token(hash: String) async throws -> APIToken?
    func touchToken(id: Int64, at: Date) async throws
    /// Revokes a token by id; `false` when there is no such (unrevoked) token.
    func revokeToken(id: Int64, now: Date) async throws -> Bool

    // MARK: Send log

    func lastQueued(schedule: String) async throws -> LocalDay?
    /// Queues (schedule, period) once; queuing it again changes nothing.
    func queue(schedule: String, period: ReportPeriod, messageID: String) async throws
    /// The schedule's queued reports due by `now`, claimed until `until` so that no other node sends them
    /// meanwhile; sending marks them sent or failed (with the next attempt's time).
    func claimDueReports(schedule: String, now: Date, until: Date) async throws -> [QueuedReport]
    func markSent(schedule: String, from: LocalDay, now: Date, detail: String) async throws
    func markFailed(schedule: String, from: LocalDay, error: String, retryAt: Date, now: Date, detail: String) async throws
    /// Every send-log row (for status output and tests).
    func sendLog() async throws -> [QueuedReport]

    // MARK: Data subjects

    /// Deletes the site's hits whose user id is one of `userIDs`, marks their days dirty and audits
    /// `audit(hits, days)`, in one transaction; returns how many hits and which days.
    func deleteUserHits(site: Int, userIDs: [String], now: Date, audit: @escaping @Sendable (Int, Int) -> String) async throws -> (hits: Int, days: Set<LocalDay>)
}

/// A site's day whose aggregates must be recomputed.
public struct DirtyDay: Hashable, Sendable {
    public var site: Int
    public var day: LocalDay

    /// The (site, day) pairs hits fall on, each day in its site's time zone.
    static func days(of hits: [Hit], zones: (Int) -> TimeZone) -> Set<DirtyDay> {
        var days: Set<DirtyDay> = []
        // A batch's hits mostly fall on one day per site: the last day's bounds answer without a calendar.
        var lastDay: [Int: (start: Int64, end: Int64)] = [:]
        for hit in hits {
            if let last = lastDay[hit.siteID], last.start <= hit.timestamp, hit.timestamp < last.end { continue }
            let zone = zones(hit.siteID)
            let day = LocalDay(containing: Date(millisecondsSince1970: hit.timestamp), in: zone)
            let bounds = day.bounds(in: zone)
            lastDay[hit.siteID] = (bounds.start.millisecondsSince1970, bounds.end.millisecondsSince1970)
            days.insert(DirtyDay(site: hit.siteID, day: day))
        }
        return days
    }
}

/// What aggregating a day reads: its dirty generation, and its hits with the time of each counted order
/// (or nothing, when the day's raw hits were purged).
public struct DayInput: Sendable {
    public var generation: Int?
    public var hits: [Hit]?
    public var countedOrders: [String: Int64]
}

/// One day's summary row.
public struct DaySummary: Sendable {
    public var metrics: Metrics
    public var uniqueVisitors: Int
    public var botHits: Int
}

/// Each edge stream's last stored batch.
public struct EdgeContact: Sendable, Equatable {
    public var edgeID: String
    public var stream: String
    public var lastSequence: Int64
    public var lastContact: Date
    public var batches: Int
}

/// One audit-log entry.
public struct AuditEntry: Sendable, Equatable {
    public var at: Date
    public var event: String
    public var detail: String
}

/// A scheduled report's row in the send log.
public struct QueuedReport: Sendable, Equatable {
    public var schedule: String
    public var from: LocalDay
    public var to: LocalDay
    public var status: String
    public var attempts: Int
}

// MARK: - Built on the operations, once for every backend

extension CentralStore {
    /// The first thousand dirty days, oldest first.
    public func dirtyDays() async throws -> [DirtyDay] { try await dirtyDays(limit: 1000) }

    /// The audit log's events, oldest first.
    public func auditEvents() async throws -> [String] {
        try await auditLog(limit: .max).map(\.event)
    }

    /// Recomputes one site-day from its raw hits. Days whose raw hits were purged keep their aggregates.
    ///
    /// The hits are read in one snapshot and aggregated outside any transaction, so ingest and other days'
    /// aggregation go on meanwhile; the result is written only if the day's dirty generation is still the
    /// one the snapshot saw. Otherwise a batch (or another aggregator) touched the day since, the day
    /// stays dirty and is redone. Returns whether the result was written.
    @discardableResult
    public func recompute(_ target: DirtyDay, gap: TimeInterval) async throws -> Bool {
        let input = try await dayInput(target)
        let aggregate = input.hits.map {
            DayAggregator.aggregate($0, zone: zones(target.site), gap: gap, countedOrders: input.countedOrders)
        }
        return try await saveDay(target, generation: input.generation, aggregate: aggregate)
    }

    public var dayParallelism: Int { ProcessInfo.processInfo.activeProcessorCount }

    /// Recomputes `days` with up to `parallelism` (by default `dayParallelism`) days read and aggregated at
    /// once. Returns how many were written; a day a batch dirtied again meanwhile stays dirty for the next round.
    @discardableResult
    public func recompute(_ days: [DirtyDay], gap: TimeInterval, parallelism: Int? = nil) async throws -> Int {
        let parallelism = parallelism ?? dayParallelism
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
        var days: [LocalDay] = []
        var day = from
        while day <= to {
            days.append(day)
            day = day.adding(days: 1)
        }
        try await markDirty(site: site, days: days)
    }

    /// Deletes raw hits of days before `before` (site time) after making sure those days are aggregated;
    /// returns how many hits were deleted. Reports of purged days come from the aggregates and sketches.
    public func purge(site: Int, before: LocalDay, gap: TimeInterval) async throws -> Int {
        try await recompute(try await dirtyDays(limit: .max).filter { $0.site == site && $0.day < before }, gap: gap)
        return try await deleteHits(site: site, before: before, cutoff: before.bounds(in: zones(site)).start.millisecondsSince1970)
    }

    /// Visits per aggregated day of a site.
    public func visitsPerDay(site: Int) async throws -> [String: Int] {
        let days = try await dailySummaries(site: site, from: LocalDay(year: 1970, month: 1, day: 1)!, to: LocalDay(year: 2199, month: 12, day: 31)!)
        return Dictionary(uniqueKeysWithValues: days.map { ($0.key.description, $0.value.metrics.visits) })
    }

    /// Unique visitors over a period: a single day's exact count; for longer periods the distinct
    /// visitor ids of the raw hits, or — when some of the period's raw hits were purged — the merge of
    /// the days' HyperLogLog sketches (standard error about 1.6%).
    func uniqueVisitors(site: Int, from: LocalDay, to: LocalDay, zone: TimeZone) async throws -> Int {
        if from == to {
            return try await dailySummaries(site: site, from: from, to: to)[from]?.uniqueVisitors ?? 0
        }
        if let purged = try await purgedBefore(site: site), from < purged {
            var sketch = HyperLogLog()
            for bytes in try await sketches(site: site, from: from, to: to) {
                if let day = HyperLogLog(bytes: bytes) { sketch.merge(day) }
            }
            return sketch.estimate
        }
        return try await distinctVisitors(
            site: site, start: from.bounds(in: zone).start.millisecondsSince1970, end: to.bounds(in: zone).end.millisecondsSince1970)
    }

    // MARK: Tokens

    /// Creates a token and returns it with its record; the token text is shown once and not stored.
    public func createToken(name: String, sites: Set<Int>?, role: APIToken.Role, expiresAt: Date?, now: Date) async throws -> (token: String, record: APIToken) {
        var random = [UInt8](repeating: 0, count: 32)
        for i in random.indices { random[i] = UInt8.random(in: .min ... .max) }
        let token = "tly_" + Data(random).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        var record = APIToken(id: 0, name: name, sites: sites, role: role, createdAt: now, expiresAt: expiresAt)
        let siteList = record.siteList
        let expires = expiresAt.map { ISO8601DateFormatter().string(from: $0) } ?? "never"
        record.id = try await insertToken(record, hash: Self.tokenHash(token)) { id in
            "id=\(id) name=\(name) role=\(role.rawValue) sites=\(siteList) expires=\(expires)"
        }
        return (token, record)
    }

    /// The token's record if it may be used now. A use after expiry is audited.
    public func authenticate(token: String, now: Date) async throws -> Result<APIToken, TokenRejection> {
        guard let record = try await self.token(hash: Self.tokenHash(token)) else { return .failure(.unknown) }
        if record.revokedAt != nil { return .failure(.revoked) }
        if let expires = record.expiresAt, expires <= now {
            try await audit("token_used_after_expiry", detail: "id=\(record.id) name=\(record.name)", at: now)
            return .failure(.expired(tokenID: record.id, name: record.name))
        }
        try await touchToken(id: record.id, at: now)
        return .success(record)
    }

    static func tokenHash(_ token: String) -> String {
        SHA256.hash(data: Data(token.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    // MARK: Data subjects

    /// Deletes every hit of one data subject on a site — stored under the keyed hash of their user id, or
    /// under the id itself where the policy kept it — recomputes the days those hits were on, and writes
    /// the deletion to the audit log (with the hash, never the id). Returns hits deleted and days redone.
    public func deleteUser(site: Int, userID: String, hasher: UserIDHasher, gap: TimeInterval, now: Date) async throws -> (hits: Int, days: Int) {
        let hashed = hasher.hash(userID: userID, siteID: site)
        let (hits, days) = try await deleteUserHits(site: site, userIDs: [hashed, userID], now: now) { hits, days in
            "site=\(site) user_id_hash=\(hashed) hits=\(hits) days=\(days)"
        }
        for day in days { try await recompute(DirtyDay(site: site, day: day), gap: gap) }
        return (hits, days.count)
    }
}

extension APIToken {
    /// The sites as stored: comma-separated ids, or `*` for every site.
    var siteList: String { sites.map { $0.sorted().map(String.init).joined(separator: ",") } ?? "*" }

    init(id: Int64, name: String, siteList: String, role: String, createdAt: Int64, expiresAt: Int64?, revokedAt: Int64?, lastUsedAt: Int64?) {
        self.init(
            id: id, name: name,
            sites: siteList == "*" ? nil : Set(siteList.split(separator: ",").compactMap { Int($0) }),
            role: APIToken.Role(rawValue: role) ?? .viewer,
            createdAt: Date(millisecondsSince1970: createdAt),
            expiresAt: expiresAt.map(Date.init(millisecondsSince1970:)),
            revokedAt: revokedAt.map(Date.init(millisecondsSince1970:)),
            lastUsedAt: lastUsedAt.map(Date.init(millisecondsSince1970:)))
    }
}
