import Crypto
import Foundation
import Logging
import ServiceLifecycle
import TallyCore

/// Ships the buffer to central: forms a batch when `batch_max_hits` hits wait or the oldest has waited
/// `batch_interval_seconds`, sends the oldest pending batch, and deletes its hits only on central's
/// acknowledgement. Transient failures (no answer, 5xx, 408, 429) back off exponentially with jitter;
/// a batch central refuses for good (other 4xx: bad signature, unknown edge, conflict) is quarantined
/// with its hits — kept, counted, logged — and shipping goes on with the next one.
///
/// All state is in the buffer, so a crash at any point resumes correctly: a batch formed but not
/// acknowledged is resent byte for byte, and central acknowledges a replay as a duplicate.
public final class Shipper: Service, Sendable {
    let buffer: HitBuffer
    let transport: any BatchTransport
    let signingKey: Data
    let edgeID: String
    let settings: ShippingSettings
    let metrics: EdgeMetrics
    let clock: any TallyClock
    let logger: Logger

    public init(
        buffer: HitBuffer, transport: any BatchTransport, signingKey: Curve25519.Signing.PrivateKey, edgeID: String,
        settings: ShippingSettings, metrics: EdgeMetrics, clock: any TallyClock, logger: Logger
    ) {
        self.buffer = buffer
        self.transport = transport
        self.signingKey = signingKey.rawRepresentation
        self.edgeID = edgeID
        self.settings = settings
        self.metrics = metrics
        self.clock = clock
        self.logger = logger
    }

    public func run() async throws {
        try? await cancelWhenGracefulShutdown {
            var consecutiveFailures = 0
            while !Task.isCancelled {
                do {
                    if try await self.shipOnce() {
                        consecutiveFailures = 0
                        continue
                    }
                    try await Task.sleep(for: .milliseconds(200))
                } catch let failure as TransientFailure {
                    consecutiveFailures += 1
                    let delay = Self.backoff(attempt: consecutiveFailures, max: Double(self.settings.maxBackoffSeconds))
                    self.logger.warning("Central unreachable; retrying", metadata: [
                        "reason": "\(failure.reason)", "retry_in_seconds": "\(String(format: "%.1f", delay))",
                    ])
                    try await Task.sleep(for: .seconds(delay))
                } catch is CancellationError {
                    return
                } catch {
                    self.logger.error("Shipping failed", metadata: ["error": "\(error)"])
                    try await Task.sleep(for: .seconds(1))
                }
            }
        }
    }

    struct TransientFailure: Error { let reason: String }

    /// One step: send the pending batch, or form one if it is time. Returns whether anything happened.
    public func shipOnce() async throws -> Bool {
        if let batch = try buffer.pendingBatch() {
            try await send(batch)
            return true
        }
        let (full, oldest) = try buffer.unassigned(atLeast: settings.batchMaxHits)
        guard let oldest else { return false }
        let due = full || clock.now().timeIntervalSince(oldest) >= Double(settings.batchIntervalSeconds)
        guard due else { return false }
        let key = try Curve25519.Signing.PrivateKey(rawRepresentation: signingKey)
        let (batch, quarantined) = try await buffer.formBatch(edgeID: edgeID, maxHits: settings.batchMaxHits, key: key, now: clock.now())
        for record in quarantined {
            metrics.recordsQuarantined.increment()
            logger.error("A buffered record cannot be shipped; it is quarantined alone and the rest ship", metadata: [
                "record": "\(record.id)", "reason": "\(record.reason)",
            ])
        }
        return batch != nil || !quarantined.isEmpty
    }

    private func send(_ batch: OutboxBatch) async throws {
        let status: Int
        let body: String
        do {
            (status, body) = try await transport.post(batch.bytes)
        } catch {
            try await buffer.recordFailure(sequence: batch.sequence, reason: "\(error)")
            metrics.batchesFailed.increment()
            throw TransientFailure(reason: "\(error)")
        }
        let reason = body.trimmingCharacters(in: .whitespacesAndNewlines)
        switch status {
        case 200..<300:
            try await buffer.acknowledge(sequence: batch.sequence, now: clock.now())
            metrics.batchesShipped.increment()
            logger.debug("Batch shipped", metadata: ["sequence": "\(batch.sequence)", "hits": "\(batch.hitCount)"])
        case 408, 429, 500...:
            try await buffer.recordFailure(sequence: batch.sequence, reason: "HTTP \(status): \(reason)")
            metrics.batchesFailed.increment()
            throw TransientFailure(reason: "HTTP \(status): \(reason)")
        default:
            try await buffer.quarantine(sequence: batch.sequence, reason: "HTTP \(status): \(reason)")
            metrics.batchesQuarantined.increment()
            logger.error("Central refused a batch; it is quarantined with its hits", metadata: [
                "sequence": "\(batch.sequence)", "hits": "\(batch.hitCount)", "status": "\(status)", "reason": "\(reason)",
            ])
        }
    }

    /// Exponential backoff from half a second, capped, with full jitter in its upper half so edges that
    /// lost central together do not return together.
    public static func backoff(attempt: Int, max: Double) -> Double {
        let ceiling = min(max, 0.5 * pow(2, Double(min(attempt, 20) - 1)))
        return Double.random(in: (ceiling / 2)...ceiling)
    }
}
