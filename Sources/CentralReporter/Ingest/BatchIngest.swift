import Crypto
import Foundation
import Logging
import TallyCore

/// The five acceptance checks of a batch (SPEC §3), in an order where nothing expensive happens for an
/// unauthenticated sender, then the single-transaction store.
public struct BatchIngest: Sendable {
    public enum Outcome: Sendable, Equatable {
        case stored(edgeID: String, sequence: Int64, hits: Int)
        case duplicate(edgeID: String, sequence: Int64)
        case rejected(status: Int, reason: String)

        public var status: Int {
            switch self {
            case .stored, .duplicate: 200
            case let .rejected(status, _): status
            }
        }
    }

    let config: CentralConfig
    let store: any BatchStore
    let clock: any TallyClock
    let logger: Logger

    public init(config: CentralConfig, store: any BatchStore, clock: any TallyClock = SystemClock(), logger: Logger) {
        self.config = config
        self.store = store
        self.clock = clock
        self.logger = logger
    }

    /// - Parameters:
    ///   - certificateEdgeID: the edge named by the verified TLS client certificate (check a, chaining to
    ///     the edge CA, is done by the TLS handshake itself).
    ///   - bytes: the request body, at most `maxBatchBytes + 1` bytes.
    public func accept(certificateEdgeID: String?, bytes: Data) async -> Outcome {
        guard let certificateEdgeID, let edge = config.edge(id: certificateEdgeID) else {
            return await reject(403, "The client certificate names no registered edge (\(certificateEdgeID ?? "no identity")); register it in central.toml.", edge: certificateEdgeID)
        }
        guard bytes.count <= config.ingest.limits.maxBatchBytes else {
            return await reject(413, "The batch is larger than \(config.ingest.limits.maxBatchBytes) bytes; ship smaller batches.", edge: edge.id)
        }
        let batch: ReceivedBatch
        do {
            batch = try ReceivedBatch(bytes: bytes, limits: config.ingest.limits)
        } catch {
            return await reject(error.isTooLarge ? 413 : 400, error.description, edge: edge.id)
        }
        guard batch.header.edgeID == edge.id else {
            return await reject(403, "The batch claims edge \(batch.header.edgeID) but the certificate names \(edge.id).", edge: edge.id)
        }
        guard let key = edge.publicKey else {
            return await reject(403, "Edge \(edge.id) has no usable public key.", edge: edge.id)
        }
        var hits: [Hit]
        do {
            try batch.verify(publicKey: key)
            hits = try batch.hits()
        } catch {
            return await reject(error == .badSignature ? 403 : 400, error.description, edge: edge.id)
        }
        // The rules every stored record keeps (no control character, no unusable number) hold whatever
        // version of the edge wrote the batch; what was repaired is logged, the hits are kept.
        var repairs: [InputRepair: Int] = [:]
        for index in hits.indices {
            for repair in hits[index].repair() { repairs[repair, default: 0] += 1 }
        }
        if !repairs.isEmpty {
            logger.warning("Hits repaired on arrival", metadata: [
                "edge_id": "\(edge.id)", "sequence": "\(batch.header.sequence)",
                "repairs": "\(repairs.sorted { $0.key.rawValue < $1.key.rawValue }.map { "\($0.key)=\($0.value)" }.joined(separator: ","))",
            ])
        }
        let digest = SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
        let header = batch.header
        do {
            switch try await store.store(header, hits: hits, contentSHA256: digest, receivedAt: clock.now()) {
            case let .stored(count, missing):
                if missing > 0 {
                    logger.warning("Gap in an edge's batch sequence: batches were lost or quarantined at the edge", metadata: [
                        "edge_id": "\(edge.id)", "stream": "\(header.stream.isEmpty ? "-" : header.stream)",
                        "sequence": "\(header.sequence)", "missing": "\(missing)",
                    ])
                }
                return .stored(edgeID: edge.id, sequence: header.sequence, hits: count)
            case .duplicate:
                return .duplicate(edgeID: edge.id, sequence: header.sequence)
            case .conflict:
                return await reject(409, "Edge \(edge.id) already sent sequence \(header.sequence) of stream \(header.stream.isEmpty ? "(unnamed)" : header.stream) with different content; its shipping state was copied to another buffer.", edge: edge.id)
            }
        } catch {
            logger.error("Storing a batch failed", metadata: ["edge_id": "\(edge.id)", "error": "\(error)"])
            return .rejected(status: 503, reason: "Central cannot store batches now; retry later.")
        }
    }

    /// A refusal: logged, written to the audit log, answered with one line.
    private func reject(_ status: Int, _ reason: String, edge: String?) async -> Outcome {
        logger.warning("Batch rejected", metadata: ["edge_id": "\(edge ?? "-")", "status": "\(status)", "reason": "\(reason)"])
        try? await store.audit("edge_rejected", detail: "edge=\(edge ?? "-") status=\(status) reason=\(reason)", at: clock.now())
        return .rejected(status: status, reason: reason)
    }
}

extension BatchError {
    var isTooLarge: Bool { if case .tooLarge = self { true } else { false } }
}
