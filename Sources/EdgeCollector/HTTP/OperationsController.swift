import Foundation
import Hummingbird
import NIOCore
import TallyCore

/// `/healthz` (liveness and buffer state) and `/metrics` (Prometheus text format 0.0.4).
struct OperationsController: Sendable {
    let buffer: HitBuffer
    let committer: GroupCommitter
    let maxBufferBytes: Int
    let metrics: EdgeMetrics
    let clock: any TallyClock

    func addRoutes(to router: Router<EdgeRequestContext>) {
        router.get("/healthz", use: health)
        router.get("/metrics", use: prometheus)
    }

    @Sendable func health(_ request: Request, context: EdgeRequestContext) async throws -> Response {
        let now = clock.now()
        let status = try buffer.status(now: now)
        let full = committer.isRefusing || status.payloadBytes >= maxBufferBytes
        let age = status.oldestAge(now: now).map { String(format: "%.3f", $0) } ?? "null"
        let json = """
            {"status":"\(full ? "buffer_full" : "ok")","buffer":{"hits":\(status.depth),"bytes":\(status.payloadBytes),\
            "max_bytes":\(maxBufferBytes),"oldest_hit_age_seconds":\(age)}}
            """
        return Response(
            status: .ok, headers: [.contentType: "application/json", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(string: json)))
    }

    @Sendable func prometheus(_ request: Request, context: EdgeRequestContext) async throws -> Response {
        let now = clock.now()
        let text = metrics.render(buffer: try buffer.status(now: now), shipping: try buffer.shippingStatus(), now: now)
        return Response(
            status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}
