import Foundation
import Hummingbird
import NIOCore
import TallyCore

/// `GET /healthz` on the API listener, without authentication and without data: `ok` (200) when the
/// store commits a write now, `degraded` (503) with the reason when it does not — then ingest answers 503
/// too and edges keep their batches until the store is back, with no restart needed.
struct CentralHealthController: Sendable {
    let store: any CentralStore
    let clock: any TallyClock

    func addRoutes(to router: Router<APIRequestContext>) {
        router.get("/healthz", use: health)
    }

    @Sendable func health(_ request: Request, context: APIRequestContext) async throws -> Response {
        var reasons: [String] = []
        do {
            try await store.probe(now: clock.now())
        } catch {
            reasons.append("store_unavailable: \(error)")
        }
        let json = "{\"status\":\"\(reasons.isEmpty ? "ok" : "degraded")\",\"reasons\":[\(reasons.map(JSONRenderer.quote).joined(separator: ","))]}\n"
        return Response(
            status: reasons.isEmpty ? .ok : .serviceUnavailable, headers: [.contentType: "application/json", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(string: json)))
    }
}
