import TrackingInput
import Logging
import ServiceLifecycle
import Synchronization

/// Group commit for the buffer: requests hand their hits over and (with `ack = "durable"`) wait; one
/// writer loop takes everything that has arrived since its last transaction and commits it at once, so
/// many concurrent hits share one transaction and one fsync. Drop counts ride along in the same
/// transaction. On graceful shutdown the loop stops taking work, commits what is pending and returns.
public final class GroupCommitter: Service, Sendable {
    public enum Failure: Error, Equatable {
        /// The buffer holds `max_buffer_bytes`; the request is refused with 503 and nothing is stored.
        case bufferFull
        /// The edge is shutting down.
        case closed
    }

    private struct Pending {
        var hits: [BufferedHit] = []
        var waiters: [Completion] = []
        var drops: [DropReason: Int] = [:]
        var bytes = 0
        var isEmpty: Bool { hits.isEmpty && drops.isEmpty }
    }

    private struct State {
        var pending = Pending()
        /// Bytes handed to the writer but not yet reflected in the sink's total.
        var inFlightBytes = 0
        var closed = false
        /// The last submission was refused for space and none has been admitted since.
        var refusing = false
        /// Why the last buffer write failed (a full disk, a lost file), until a write succeeds again.
        var writeFailure: String?
    }

    /// Called once, from the writer, when the hits are committed or could not be.
    public typealias Completion = @Sendable (Result<Void, any Error>) -> Void

    private let sink: any HitSink
    private let maxBytes: Int
    private let durable: Bool
    private let logger: Logger
    private let state = Mutex(State())
    private let wakeups: AsyncStream<Void>
    private let wake: AsyncStream<Void>.Continuation

    public init(sink: any HitSink, maxBytes: Int, ack: BufferSettings.AckMode, logger: Logger) {
        self.sink = sink
        self.maxBytes = maxBytes
        self.durable = ack == .durable
        self.logger = logger
        (wakeups, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Hands hits to the buffer: all of them or, when they do not fit, none (`bufferFull`). With durable
    /// acknowledgement it returns once their transaction has committed.
    public func submit(_ hits: [BufferedHit]) async throws {
        try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<Void, any Error>) in
            submit(hits) { continuation.resume(with: $0) }
        }
    }

    /// Hands hits to the buffer and calls `completion` once: with durable acknowledgement when their
    /// transaction has committed (from the writer), otherwise as soon as they are admitted (from here).
    /// Hits that do not fit are refused whole with `bufferFull`.
    public func submit(_ hits: [BufferedHit], completion: @escaping Completion) {
        guard !hits.isEmpty else { return completion(.success(())) }
        let bytes = hits.reduce(0) { $0 + $1.payload.count }
        let refused: Failure? = state.withLock { state in
            if let refusal = admit(&state, bytes: bytes) { return refusal }
            state.pending.hits.append(contentsOf: hits)
            if durable { state.pending.waiters.append(completion) }
            state.pending.bytes += bytes
            return nil
        }
        if let refused { return completion(.failure(refused)) }
        wake.yield()
        if !durable { completion(.success(())) }
    }

    private func admit(_ state: inout State, bytes: Int) -> Failure? {
        if state.closed { return .closed }
        if sink.storedBytes + state.inFlightBytes + state.pending.bytes + bytes > maxBytes {
            state.pending.drops[.bufferFull, default: 0] += 1
            state.refusing = true
            return .bufferFull
        }
        state.refusing = false
        return nil
    }

    /// Whether the edge is refusing hits for lack of buffer space (the last submission did not fit).
    public var isRefusing: Bool { state.withLock { $0.refusing } }

    /// Why hits cannot be written now, if the last write failed.
    public var writeFailure: String? { state.withLock { $0.writeFailure } }

    /// Counts a dropped request; persisted with the next transaction.
    public func countDrop(_ reason: DropReason) {
        let accepted = state.withLock { state in
            guard !state.closed else { return false }
            state.pending.drops[reason, default: 0] += 1
            return true
        }
        if accepted { wake.yield() }
    }

    public func run() async throws {
        for await _ in wakeups.cancelOnGracefulShutdown() {
            await commitPending()
        }
        state.withLock { $0.closed = true }
        await commitPending()
    }

    /// Commits everything pending in one transaction and answers its waiters.
    private func commitPending() async {
        let batch: Pending = state.withLock { state in
            let batch = state.pending
            state.pending = Pending()
            state.inFlightBytes = batch.bytes
            return batch
        }
        guard !batch.isEmpty else { return }
        do {
            try await sink.append(batch.hits, drops: batch.drops)
            state.withLock { state in
                state.inFlightBytes = 0
                state.writeFailure = nil
            }
            for waiter in batch.waiters { waiter(.success(())) }
        } catch {
            state.withLock { state in
                state.inFlightBytes = 0
                state.writeFailure = "\(error)"
            }
            logger.error("Buffer write failed; \(batch.hits.count) hit(s) were not stored", metadata: ["error": "\(error)"])
            for waiter in batch.waiters { waiter(.failure(error)) }
        }
    }
}
