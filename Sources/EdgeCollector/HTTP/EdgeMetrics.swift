import TrackingInput
import Foundation
import Prometheus
import TallyCore

/// The edge's Prometheus metrics, served at `/metrics`. One registry per application (not the global
/// MetricsSystem), so tests can run several edges in one process and read exact counts.
public final class EdgeMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    let accepted: Counter
    let botsCounted: Counter
    let aggregateOnly: Counter
    private let dropped: [DropReason: Counter]
    private let repairs: [InputRepair: Counter]
    let requestDuration: DurationHistogram
    let batchesShipped: Counter
    let batchesFailed: Counter
    let batchesQuarantined: Counter
    let recordsQuarantined: Counter
    private let quarantinedRecords: Gauge
    private let shippingBacklog: Gauge
    private let pendingBatches: Gauge
    private let quarantinedBatches: Gauge
    private let lastAcknowledgement: Gauge
    private let bufferDepth: Gauge
    private let bufferBytes: Gauge
    private let bufferOldestAge: Gauge

    public init() {
        accepted = registry.makeCounter(descriptor: .tally("tally_edge_hits_accepted_total", help: "Hits stored in the buffer."))
        botsCounted = registry.makeCounter(descriptor: .tally("tally_edge_hits_bot_total", help: "Bot hits stored under bots = \"count_separately\"."))
        aggregateOnly = registry.makeCounter(descriptor: .tally("tally_edge_hits_aggregate_only_total", help: "Hits stored as aggregate-only records (count_only)."))
        var dropped: [DropReason: Counter] = [:]
        for reason in DropReason.all {
            dropped[reason] = registry.makeCounter(descriptor: .tally("tally_edge_hits_dropped_total", help: "Requests not stored, by reason."), labels: [("reason", reason.rawValue)])
        }
        self.dropped = dropped
        var repairs: [InputRepair: Counter] = [:]
        for kind in InputRepair.all {
            repairs[kind] = registry.makeCounter(descriptor: .tally("tally_edge_input_repairs_total", help: "Requests whose input was repaired instead of refused, by kind of repair."), labels: [("kind", kind.rawValue)])
        }
        self.repairs = repairs
        requestDuration = registry.makeDurationHistogram(
            descriptor: .tally("tally_edge_request_duration_seconds", help: "Time from request to response on the tracking endpoints."),
            buckets: [.microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10),
                      .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .seconds(1)])
        batchesShipped = registry.makeCounter(descriptor: .tally("tally_edge_batches_shipped_total", help: "Batches central acknowledged."))
        batchesFailed = registry.makeCounter(descriptor: .tally("tally_edge_batches_failed_total", help: "Batch sends that failed transiently and will be retried."))
        batchesQuarantined = registry.makeCounter(descriptor: .tally("tally_edge_batches_quarantined_total", help: "Batches central refused for good, kept in quarantine."))
        recordsQuarantined = registry.makeCounter(
            descriptor: .tally("tally_edge_records_quarantined_total", help: "Buffered records that could not be shipped, quarantined alone."))
        quarantinedRecords = registry.makeGauge(descriptor: .tally("tally_edge_records_quarantined", help: "Records in quarantine."))
        shippingBacklog = registry.makeGauge(descriptor: .tally("tally_edge_shipping_backlog_hits", help: "Hits not yet in a batch."))
        pendingBatches = registry.makeGauge(descriptor: .tally("tally_edge_batches_pending", help: "Batches formed and awaiting acknowledgement."))
        quarantinedBatches = registry.makeGauge(descriptor: .tally("tally_edge_batches_quarantined", help: "Batches in quarantine."))
        lastAcknowledgement = registry.makeGauge(descriptor: .tally("tally_edge_last_ack_timestamp_seconds", help: "When central last acknowledged a batch (0: never)."))
        bufferDepth = registry.makeGauge(descriptor: .tally("tally_edge_buffer_hits", help: "Hits waiting in the buffer."))
        bufferBytes = registry.makeGauge(descriptor: .tally("tally_edge_buffer_bytes", help: "Payload bytes in the buffer."))
        bufferOldestAge = registry.makeGauge(descriptor: .tally("tally_edge_buffer_oldest_age_seconds", help: "Age of the oldest hit in the buffer."))
    }

    func drop(_ reason: DropReason) {
        dropped[reason]?.increment()
    }

    func repaired(_ kind: InputRepair) {
        repairs[kind]?.increment()
    }

    /// The exposition text, with the buffer gauges read fresh.
    func render(buffer: BufferStatus, shipping: ShippingStatus, now: Date) -> String {
        shippingBacklog.set(Double(shipping.unassignedHits))
        pendingBatches.set(Double(shipping.pendingBatches))
        quarantinedBatches.set(Double(shipping.quarantinedBatches))
        quarantinedRecords.set(Double(shipping.quarantinedRecords))
        lastAcknowledgement.set(shipping.lastAcknowledgedAt?.timeIntervalSince1970 ?? 0)
        bufferDepth.set(Double(buffer.depth))
        bufferBytes.set(Double(buffer.payloadBytes))
        bufferOldestAge.set(buffer.oldestAge(now: now) ?? 0)
        return registry.emitToString()
    }
}

extension MetricNameDescriptor {
    /// A metric's full name and help text (names carry their unit already, as Prometheus advises).
    static func tally(_ name: String, help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
    }
}
