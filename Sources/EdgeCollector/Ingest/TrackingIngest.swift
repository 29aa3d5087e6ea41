import TrackingInput
import Foundation
import Logging
import TallyCore

/// Takes requests from the HTTP layer through the pipeline into the buffer, and counts every outcome.
/// It only appends: everything slow (shipping, aggregation) happens elsewhere, later.
public struct TrackingIngest: Sendable {
    public enum Outcome: Sendable, Equatable {
        case stored(sendImage: Bool)
        /// Dropped by policy; the client still gets the normal answer, as Matomo does.
        case dropped(DropReason, sendImage: Bool)
        case rejected(RequestRejection)
        case bufferFull
        case unavailable
    }

    let pipeline: PrivacyPipeline
    let committer: GroupCommitter
    let metrics: EdgeMetrics
    let logger: Logger
    let retryAfterSeconds: Int

    public init(pipeline: PrivacyPipeline, committer: GroupCommitter, metrics: EdgeMetrics, retryAfterSeconds: Int, logger: Logger) {
        self.pipeline = pipeline
        self.committer = committer
        self.metrics = metrics
        self.retryAfterSeconds = retryAfterSeconds
        self.logger = logger
    }

    /// Counts a request refused before it reached the pipeline (size limits, malformed body).
    func countRejection(_ reason: DropReason) { count(reason) }

    /// One tracking request; `completion` gets the outcome once the hit is stored (or why not).
    public func track(_ request: IncomingRequest, completion: @escaping @Sendable (Outcome) -> Void) {
        let (hits, outcome) = evaluate(request)
        guard !hits.isEmpty else { return completion(outcome) }
        store(hits) { failure in completion(failure ?? outcome) }
    }

    public func track(_ request: IncomingRequest) async -> Outcome {
        await withUnsafeContinuation { continuation in track(request) { continuation.resume(returning: $0) } }
    }

    /// A Matomo bulk request: every entry is evaluated on its own; the stored ones go into the buffer
    /// together (one transaction), or, if they do not fit, none of them does.
    public func trackBulk(
        _ requests: [IncomingRequest], completion: @escaping @Sendable (_ outcomes: [Outcome], _ failure: Outcome?) -> Void
    ) {
        var hits: [BufferedHit] = []
        var outcomes: [Outcome] = []
        for request in requests {
            let (stored, outcome) = evaluate(request)
            hits.append(contentsOf: stored)
            outcomes.append(outcome)
        }
        store(hits) { [outcomes] failure in completion(outcomes, failure) }
    }

    /// Runs the pipeline; returns the hit to store (if any) and the outcome to report if storing succeeds.
    private func evaluate(_ request: IncomingRequest) -> ([BufferedHit], Outcome) {
        let result: PrivacyPipeline.Result
        do {
            result = try pipeline.process(request)
        } catch {
            count(error.dropReason)
            return ([], .rejected(error))
        }
        for repair in result.repairs { metrics.repaired(repair) }
        switch result.outcome {
        case let .drop(reason):
            count(reason)
            return ([], .dropped(reason, sendImage: result.sendImage))
        case let .store(hit):
            guard let digest = result.policyDigest, let buffered = try? BufferedHit(hit: hit, policyDigest: digest) else {
                count(.invalidRequest)
                return ([], .rejected(RequestRejection("The hit could not be encoded.")))
            }
            return ([buffered], .stored(sendImage: result.sendImage))
        }
    }

    /// Hands hits to the buffer; `completion` gets `nil` when they were stored, else the failure outcome.
    private func store(_ hits: [BufferedHit], completion: @escaping @Sendable (Outcome?) -> Void) {
        guard !hits.isEmpty else { return completion(nil) }
        let (metrics, logger) = (metrics, logger)
        committer.submit(hits) { result in
            switch result {
            case .success:
                metrics.accepted.increment(by: Int64(hits.count))
                let bots = hits.count(where: \.isBot)
                if bots > 0 { metrics.botsCounted.increment(by: Int64(bots)) }
                let aggregateOnly = hits.count(where: \.aggregateOnly)
                if aggregateOnly > 0 { metrics.aggregateOnly.increment(by: Int64(aggregateOnly)) }
                completion(nil)
            case let .failure(error as GroupCommitter.Failure) where error == .bufferFull:
                metrics.drop(.bufferFull)
                completion(.bufferFull)
            case let .failure(error):
                logger.error("Hits not stored", metadata: ["error": "\(error)"])
                completion(.unavailable)
            }
        }
    }

    private func count(_ reason: DropReason) {
        metrics.drop(reason)
        committer.countDrop(reason)
    }
}
