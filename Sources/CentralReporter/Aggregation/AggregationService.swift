import Foundation
import Logging
import ServiceLifecycle
import TallyCore

/// Recomputes the days new batches touched (late and out-of-order data included), and once a day purges
/// raw hits older than `raw_retention_days`. Stops between two days' work on graceful shutdown.
public struct AggregationService: Service {
    let store: any CentralStore
    let config: CentralConfig
    let clock: any TallyClock
    let logger: Logger
    /// Called after each round of work, for whoever needs to know it happened (tests wait on it).
    let onRound: @Sendable () -> Void

    public init(store: any CentralStore, config: CentralConfig, clock: any TallyClock, logger: Logger, onRound: @escaping @Sendable () -> Void = {}) {
        self.store = store
        self.config = config
        self.clock = clock
        self.logger = logger
        self.onRound = onRound
    }

    public func run() async throws {
        try? await cancelWhenGracefulShutdown {
            var lastPurge = Date.distantPast
            while !Task.isCancelled {
                do {
                    try await aggregateDirtyDays()
                    if clock.now().timeIntervalSince(lastPurge) >= 86_400 {
                        lastPurge = clock.now()
                        _ = try await purgeExpired()
                    }
                } catch is CancellationError {
                    return
                } catch {
                    logger.error("Aggregation failed; retrying", metadata: ["error": "\(error)"])
                }
                onRound()
                try await Task.sleep(for: .seconds(config.aggregation.intervalSeconds))
            }
        }
    }

    /// Aggregates the dirty days no other node is working on.
    public func aggregateDirtyDays() async throws {
        let gap = Double(config.aggregation.visitGapMinutes * 60)
        let now = clock.now()
        try await store.recompute(try await store.claimDirtyDays(limit: 1000, now: now, until: now.addingTimeInterval(Double(config.aggregation.leaseSeconds))), gap: gap)
    }

    /// Purges every site's raw hits older than the retention; returns (site, hits deleted) per site.
    public func purgeExpired() async throws -> [(site: Int, deleted: Int, before: LocalDay)] {
        var result: [(Int, Int, LocalDay)] = []
        for site in try await store.siteIDs() {
            let before = LocalDay(containing: clock.now(), in: config.timeZone(site: site)).adding(days: -config.aggregation.rawRetentionDays)
            let deleted = try await store.purge(site: site, before: before, gap: Double(config.aggregation.visitGapMinutes * 60))
            if deleted > 0 {
                try await store.audit("data_purged", detail: "site=\(site) before=\(before) hits=\(deleted)", at: clock.now())
                logger.notice("Raw hits purged", metadata: ["site": "\(site)", "before": "\(before)", "hits": "\(deleted)"])
            }
            result.append((site, deleted, before))
        }
        return result
    }
}
