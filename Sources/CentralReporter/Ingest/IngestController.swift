import Foundation
import Hummingbird
import NIOCore

/// `POST /v1/batches` on the mutual-TLS listener.
struct IngestController: Sendable {
    let ingest: BatchIngest
    let maxBatchBytes: Int

    func addRoutes(to router: Router<IngestRequestContext>) {
        router.post("/v1/batches", use: receive)
    }

    @Sendable func receive(_ request: Request, context: IngestRequestContext) async throws -> Response {
        let edgeID = await context.certificateEdgeID()
        let bytes: Data
        do {
            // One byte over the limit is enough to know the batch is too large.
            bytes = Data(buffer: try await request.body.collect(upTo: maxBatchBytes + 1))
        } catch is NIOTooManyBytesError {
            bytes = Data(count: maxBatchBytes + 1)
        }
        let outcome = await ingest.accept(certificateEdgeID: edgeID, bytes: bytes)
        let body: String = switch outcome {
        case let .stored(edge, sequence, hits):
            #"{"status":"stored","edge_id":"\#(edge)","sequence":\#(sequence),"hits":\#(hits)}"#
        case let .duplicate(edge, sequence):
            #"{"status":"duplicate","edge_id":"\#(edge)","sequence":\#(sequence)}"#
        case let .rejected(_, reason):
            reason
        }
        let contentType = outcome.status == 200 ? "application/json" : "text/plain; charset=utf-8"
        return Response(
            status: .init(code: outcome.status), headers: [.contentType: contentType],
            body: .init(byteBuffer: ByteBuffer(string: body + "\n")))
    }
}
