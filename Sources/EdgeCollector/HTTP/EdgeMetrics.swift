import Foundation
import Prometheus

/// The edge's Prometheus metrics, served at `/metrics`. One registry per application (not the global
/// MetricsSystem), so tests can run several edges in one process and read exact counts.
public final class EdgeMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    let accepted: Counter
    let botsCounted: Counter
    let aggregateOnly: Counter
    private let dropped: [DropReason: Counter]
    let requestDuration: DurationHistogram
    let batchesShipped: Counter
    let batchesFailed: Counter
    let batchesQuarantined: Counter
    private let shippingBacklog: Gauge
    private let pendingBatches: Gauge
    private let quarantinedBatches: Gauge
    private let lastAcknowledgement: Gauge
    private let bufferDepth: Gauge
    private let bufferBytes: Gauge
    private let bufferOldestAge: Gauge

    public init() {
        accepted = registry.makeCounter(name: "tally_edge_hits_accepted_total", help: "Hits stored in the buffer.")
        botsCounted = registry.makeCounter(name: "tally_edge_hits_bot_total", help: "Bot hits stored under bots = \"count_separately\".")
        aggregateOnly = registry.makeCounter(name: "tally_edge_hits_aggregate_only_total", help: "Hits stored as aggregate-only records (count_only).")
        var dropped: [DropReason: Counter] = [:]
        for reason in DropReason.all {
            dropped[reason] = registry.makeCounter(
                name: "tally_edge_hits_dropped_total", labels: [("reason", reason.rawValue)],
                help: "Requests not stored, by reason.")
        }
        self.dropped = dropped
        requestDuration = registry.makeDurationHistogram(
            name: "tally_edge_request_duration_seconds",
            buckets: [.microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10),
                      .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .seconds(1)],
            help: "Time from request to response on the tracking endpoints.")
        batchesShipped = registry.makeCounter(name: "tally_edge_batches_shipped_total", help: "Batches central acknowledged.")
        batchesFailed = registry.makeCounter(name: "tally_edge_batches_failed_total", help: "Batch sends that failed transiently and will be retried.")
        batchesQuarantined = registry.makeCounter(name: "tally_edge_batches_quarantined_total", help: "Batches central refused for good, kept in quarantine.")
        shippingBacklog = registry.makeGauge(name: "tally_edge_shipping_backlog_hits", help: "Hits not yet in a batch.")
        pendingBatches = registry.makeGauge(name: "tally_edge_batches_pending", help: "Batches formed and awaiting acknowledgement.")
        quarantinedBatches = registry.makeGauge(name: "tally_edge_batches_quarantined", help: "Batches in quarantine.")
        lastAcknowledgement = registry.makeGauge(name: "tally_edge_last_ack_timestamp_seconds", help: "When central last acknowledged a batch (0: never).")
        bufferDepth = registry.makeGauge(name: "tally_edge_buffer_hits", help: "Hits waiting in the buffer.")
        bufferBytes = registry.makeGauge(name: "tally_edge_buffer_bytes", help: "Payload bytes in the buffer.")
        bufferOldestAge = registry.makeGauge(name: "tally_edge_buffer_oldest_age_seconds", help: "Age of the oldest hit in the buffer.")
    }

    func drop(_ reason: DropReason) {
        dropped[reason]?.increment()
    }

    /// The exposition text, with the buffer gauges read fresh.
    func render(buffer: BufferStatus, shipping: ShippingStatus, now: Date) -> String {
        shippingBacklog.set(Double(shipping.unassignedHits))
        pendingBatches.set(Double(shipping.pendingBatches))
        quarantinedBatches.set(Double(shipping.quarantinedBatches))
        lastAcknowledgement.set(shipping.lastAcknowledgedAt?.timeIntervalSince1970 ?? 0)
        bufferDepth.set(Double(buffer.depth))
        bufferBytes.set(Double(buffer.payloadBytes))
        bufferOldestAge.set(buffer.oldestAge(now: now) ?? 0)
        return registry.emitToString()
    }
}
