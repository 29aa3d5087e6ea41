import Foundation
import NIOCore
import TallyCore

/// `/healthz` (health with reasons, buffer and shipping state) and `/metrics` (Prometheus text format 0.0.4).
struct OperationsController: Sendable {
    let buffer: HitBuffer
    let committer: GroupCommitter
    let maxBufferBytes: Int
    /// From `[shipping] stall_after_seconds`; nil when the edge does not ship.
    let stallAfterSeconds: Int?
    let metrics: EdgeMetrics
    let clock: any TallyClock

    /// `ok` (200) or `degraded` (503) with every reason that applies, so a load balancer or monitor sees
    /// the truth: hits refused for space or failing to be written, shipping stalled, records or batches in
    /// quarantine waiting for an operator.
    func health() async -> EdgeResponse {
        do { return try healthReport() } catch { return .text("The buffer cannot be read: \(error)", status: .internalServerError) }
    }

    private func healthReport() throws -> EdgeResponse {
        let now = clock.now()
        let status = try buffer.status(now: now)
        let shipping = try buffer.shippingStatus()
        var reasons: [String] = []
        if committer.isRefusing || status.payloadBytes >= maxBufferBytes {
            reasons.append("buffer_full: hits are refused, the buffer holds \(status.payloadBytes) of \(maxBufferBytes) bytes")
        }
        if let failure = committer.writeFailure {
            reasons.append("buffer_write_failed: \(failure)")
        }
        if let stallAfter = stallAfterSeconds, let oldest = try buffer.oldestWaitingToShip(),
           now.timeIntervalSince(oldest) > Double(stallAfter) {
            reasons.append("shipping_stalled: a hit has waited \(Int(now.timeIntervalSince(oldest))) s to ship, more than \(stallAfter) s")
        }
        if shipping.quarantinedBatches > 0 {
            reasons.append("batches_quarantined: \(shipping.quarantinedBatches) batch(es) central refused wait in quarantine")
        }
        if shipping.quarantinedRecords > 0 {
            reasons.append("records_quarantined: \(shipping.quarantinedRecords) record(s) that cannot be shipped wait in quarantine")
        }
        let age = status.oldestAge(now: now).map { String(format: "%.3f", $0) } ?? "null"
        let json = """
            {"status":"\(reasons.isEmpty ? "ok" : "degraded")","reasons":[\(reasons.map(Self.jsonString).joined(separator: ","))],\
            "buffer":{"hits":\(status.depth),"bytes":\(status.payloadBytes),"max_bytes":\(maxBufferBytes),"oldest_hit_age_seconds":\(age)},\
            "shipping":{"pending_batches":\(shipping.pendingBatches),"quarantined_batches":\(shipping.quarantinedBatches),\
            "quarantined_records":\(shipping.quarantinedRecords)}}
            """
        return .json(json + "\n", status: reasons.isEmpty ? .ok : .serviceUnavailable, headers: ["Cache-Control": "no-store"])
    }

    static func jsonString(_ text: String) -> String {
        let data = (try? JSONEncoder().encode(text)) ?? Data("\"\"".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    func prometheus() async -> EdgeResponse {
        let now = clock.now()
        do {
            let text = metrics.render(buffer: try buffer.status(now: now), shipping: try buffer.shippingStatus(), now: now)
            return EdgeResponse(status: .ok, headers: ["Content-Type": "text/plain; version=0.0.4; charset=utf-8"], body: ByteBuffer(string: text))
        } catch {
            return .text("The buffer cannot be read: \(error)", status: .internalServerError)
        }
    }
}
