import TrackingInput
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization

/// Group commit for the buffer: requests hand their hits over and (with `ack = "durable"`) wait for the
/// transaction that holds them; everything that arrived since the last transaction is committed at once,
/// so many concurrent hits share one transaction and one fsync. Drop counts ride along.
///
/// With durable acknowledgement the request that finds no transaction under way commits itself, on its
/// own thread (an event loop of the listener), and goes on committing whatever arrived meanwhile, for a
/// few rounds; requests arriving during a transaction only queue. There is no hand-over to a writer
/// thread and back per transaction: on two cores, waiting for a third thread to be scheduled made the
/// latency tail (docs/performance.md). The writer loop commits what is left after those rounds, drop
/// counts, and every hit under `ack = "fast"`. On graceful shutdown it stops taking work, commits what
/// is pending and returns.
///
/// A commit started on an event loop waits `commit_delay_ms` (default 2) after the loop's pass, so the
/// requests of the next passes join it too: each transaction costs its sync and its log writes whatever
/// it holds, and at a few thousand requests a second they otherwise held one to three hits each.
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
        /// A transaction is being written (by a request's thread or the writer loop); whoever holds this
        /// commits until nothing is pending, and only then lets it go.
        var committing = false
    }

    /// How many transactions a request's thread commits in a row before it leaves the rest to the loop.
    private static let leaderRounds = 4

    /// Called once, from the writer, when the hits are committed or could not be.
    public typealias Completion = @Sendable (Result<Void, any Error>) -> Void
    /// Runs a commit on the loop after the delay; tests substitute one that lets them choose the moment.
    public typealias Scheduler = @Sendable (_ loop: any EventLoop, _ delay: TimeAmount, _ commit: @escaping @Sendable () -> Void) -> Void

    private let sink: any HitSink
    private let maxBytes: Int
    private let durable: Bool
    private let commitDelay: TimeAmount
    private let schedule: Scheduler
    private let logger: Logger
    private let state = Mutex(State())
    private let wakeups: AsyncStream<Void>
    private let wake: AsyncStream<Void>.Continuation

    public init(
        sink: any HitSink, maxBytes: Int, ack: BufferSettings.AckMode, commitDelay: TimeAmount = .zero, logger: Logger,
        schedule: @escaping Scheduler = { loop, delay, commit in loop.scheduleTask(in: delay, commit) }
    ) {
        self.sink = sink
        self.maxBytes = maxBytes
        self.durable = ack == .durable
        self.commitDelay = commitDelay
        self.schedule = schedule
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
    /// transaction has committed (on this thread if it wrote the transaction, else on the one that did),
    /// otherwise as soon as they are admitted. Hits that do not fit are refused whole with `bufferFull`.
    public func submit(_ hits: [BufferedHit], completion: @escaping Completion) {
        guard !hits.isEmpty else { return completion(.success(())) }
        let bytes = hits.reduce(0) { $0 + $1.payload.count }
        let (refused, lead): (Failure?, Bool) = state.withLock { state in
            if let refusal = admit(&state, bytes: bytes) { return (refusal, false) }
            state.pending.hits.append(contentsOf: hits)
            if durable { state.pending.waiters.append(completion) }
            state.pending.bytes += bytes
            guard durable, !state.committing else { return (nil, false) }
            state.committing = true
            return (nil, true)
        }
        if let refused { return completion(.failure(refused)) }
        if lead {
            // On an event loop, the commit waits for the end of the loop's current pass over its ready
            // connections, and then for the commit delay: every request read meanwhile joins this
            // transaction, rather than the first committing alone while the others queue for the next
            // (docs/performance.md).
            if let loop = MultiThreadedEventLoopGroup.currentEventLoop {
                commitLater(on: loop)
            } else {
                commitRounds()
            }
        } else if !durable {
            wake.yield()
            completion(.success(()))
        }
        // Durable and a transaction under way: its writer takes these hits in its next round.
    }

    /// Commits what is pending on the event loop, one transaction after each pass of the loop over its
    /// connections (and the commit delay), while more arrives: between two transactions the loop reads its
    /// own requests, which join the next one. Lets the role go when nothing is pending.
    private func commitPasses(on loop: any EventLoop) {
        let batch = take()
        commit(batch, write: { try sink.append(batch.hits, drops: batch.drops) })
        let more = state.withLock { state in
            if state.pending.isEmpty { state.committing = false }
            return state.committing
        }
        if more { commitLater(on: loop) }
    }

    private func commitLater(on loop: any EventLoop) {
        if commitDelay > .zero {
            schedule(loop, commitDelay) { self.commitPasses(on: loop) }
        } else {
            loop.execute { self.commitPasses(on: loop) }
        }
    }

    /// Commits what is pending on the calling thread (not an event loop), round after round while more
    /// arrives; after `leaderRounds` the writer loop takes over what is left.
    private func commitRounds() {
        for round in 1...Self.leaderRounds {
            let batch = take()
            commit(batch, write: { try sink.append(batch.hits, drops: batch.drops) })
            let handOver = state.withLock { state -> Bool? in
                if state.pending.isEmpty {
                    state.committing = false
                    return false
                }
                guard round == Self.leaderRounds else { return nil }
                state.committing = false
                return true
            }
            switch handOver {
            case nil: continue
            case false?: return
            case true?: wake.yield(); return
            }
        }
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

    /// Counts a dropped request. The count rides along with the next transaction of hits; without
    /// hits, the writer loop commits it within `dropFlushInterval`. Nothing waits for it, so it does not
    /// start a transaction (and a sync) of its own: under traffic that would be one per dropped request.
    public func countDrop(_ reason: DropReason) {
        state.withLock { state in
            guard !state.closed else { return }
            state.pending.drops[reason, default: 0] += 1
        }
    }

    /// How long a drop count may wait for a transaction of hits before the writer loop commits it alone.
    static let dropFlushInterval = Duration.seconds(1)

    public func run() async throws {
        await withTaskGroup(of: Void.self) { tasks in
            tasks.addTask { [wake] in
                // Drop counts left without a transaction of hits to ride along with.
                while (try? await Task.sleep(for: Self.dropFlushInterval)) != nil {
                    wake.yield()
                }
            }
            for await _ in wakeups.cancelOnGracefulShutdown() {
                await commitUntilEmpty()
            }
            tasks.cancelAll()
        }
        state.withLock { $0.closed = true }
        await commitUntilEmpty(waitingForOthers: true)
    }

    /// The writer loop's turn: unless a request's thread is committing (it will take what is pending),
    /// commits until nothing is pending. At shutdown it waits for such a thread to finish first.
    private func commitUntilEmpty(waitingForOthers: Bool = false) async {
        while true {
            let acquired = state.withLock { state in
                guard !state.committing else { return false }
                state.committing = true
                return true
            }
            if acquired { break }
            guard waitingForOthers else { return }
            try? await Task.sleep(for: .milliseconds(1))
        }
        while true {
            let batch = take()
            if !batch.isEmpty {
                do {
                    try await sink.append(batch.hits, drops: batch.drops)
                    finished(batch, with: nil)
                } catch {
                    finished(batch, with: error)
                }
            }
            let done = state.withLock { state in
                guard state.pending.isEmpty else { return false }
                state.committing = false
                return true
            }
            if done { return }
        }
    }

    /// Takes everything pending for one transaction.
    private func take() -> Pending {
        state.withLock { state in
            let batch = state.pending
            state.pending = Pending()
            state.inFlightBytes = batch.bytes
            return batch
        }
    }

    /// Writes one transaction on the calling thread and answers its waiters.
    private func commit(_ batch: Pending, write: () throws -> Void) {
        guard !batch.isEmpty else { return }
        do {
            try write()
            finished(batch, with: nil)
        } catch {
            finished(batch, with: error)
        }
    }

    private func finished(_ batch: Pending, with error: (any Error)?) {
        state.withLock { state in
            state.inFlightBytes = 0
            state.writeFailure = error.map { "\($0)" }
        }
        guard let error else {
            for waiter in batch.waiters { waiter(.success(())) }
            return
        }
        logger.error("Buffer write failed; \(batch.hits.count) hit(s) were not stored", metadata: ["error": "\(error)"])
        for waiter in batch.waiters { waiter(.failure(error)) }
    }
}
