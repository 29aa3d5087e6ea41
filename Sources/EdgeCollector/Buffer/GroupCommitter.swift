import TrackingInput
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization

/// Group commit for the buffer: requests hand their hits over and (with `ack = "durable"`) wait for the
/// transaction that holds them; everything that arrived on a lane (below) since its last transaction is
/// committed at once, so many concurrent hits share one transaction and one fsync. Drop counts ride along.
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
///
/// Each event loop of the listener has a lane of its own (what is pending, whether a commit is under
/// way): a loop commits only the requests it read, and answers them itself. With one lane for all, the
/// loop that led a commit wrote the other loop's answers too (a hand-over per answer), both loops locked
/// the same state for every request, and while a commit synced, neither loop had anything to do but
/// wait: at full load the edge handled about a tenth fewer requests (docs/performance.md). The two
/// loops' transactions still take turns at SQLite's single writer. Threads that are not one of those loops
/// (the writer loop, tests) share one more lane.
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

    /// One lane's state: what its loop (or the threads that are not loops) handed over and not yet
    /// committed, and who commits it.
    private struct State {
        var pending = Pending()
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

    private final class Lane: Sendable {
        let state = Mutex(State())
    }

    private let sink: any HitSink
    private let maxBytes: Int
    private let durable: Bool
    private let commitDelay: TimeAmount
    private let schedule: Scheduler
    private let logger: Logger
    /// The lane of the threads that are not one of the listener's loops; `loopLanes` never changes after
    /// `init`, so finding a loop's lane takes no lock.
    private let sharedLane = Lane()
    private let loopLanes: [ObjectIdentifier: Lane]
    private let lanes: [Lane]
    /// Payload bytes admitted on any lane and not yet committed (or failed): with the sink's total, what
    /// `max_buffer_bytes` limits.
    private let reservedBytes = Atomic<Int>(0)
    private let wakeups: AsyncStream<Void>
    private let wake: AsyncStream<Void>.Continuation

    /// `loops` are the listener's event loops, each given a lane of its own.
    public init(
        sink: any HitSink, maxBytes: Int, ack: BufferSettings.AckMode, commitDelay: TimeAmount = .zero,
        loops: [any EventLoop] = [], logger: Logger,
        schedule: @escaping Scheduler = { loop, delay, commit in loop.scheduleTask(in: delay, commit) }
    ) {
        loopLanes = Dictionary(loops.map { (ObjectIdentifier($0), Lane()) }, uniquingKeysWith: { first, _ in first })
        lanes = [sharedLane] + loopLanes.values
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
        let loop = MultiThreadedEventLoopGroup.currentEventLoop
        let lane = lane(of: loop)
        let (refused, lead): (Failure?, Bool) = lane.state.withLock { state in
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
            if let loop {
                commitLater(on: loop, lane: lane)
            } else {
                commitRounds(lane: lane)
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
    private func commitPasses(on loop: any EventLoop, lane: Lane) {
        let batch = take(lane)
        commit(batch, lane: lane, write: { try sink.append(batch.hits, drops: batch.drops) })
        let more = lane.state.withLock { state in
            if state.pending.isEmpty { state.committing = false }
            return state.committing
        }
        if more { commitLater(on: loop, lane: lane) }
    }

    private func commitLater(on loop: any EventLoop, lane: Lane) {
        if commitDelay > .zero {
            schedule(loop, commitDelay) { self.commitPasses(on: loop, lane: lane) }
        } else {
            loop.execute { self.commitPasses(on: loop, lane: lane) }
        }
    }

    /// Commits what is pending on the calling thread (not an event loop), round after round while more
    /// arrives; after `leaderRounds` the writer loop takes over what is left.
    private func commitRounds(lane: Lane) {
        for round in 1...Self.leaderRounds {
            let batch = take(lane)
            commit(batch, lane: lane, write: { try sink.append(batch.hits, drops: batch.drops) })
            let handOver = lane.state.withLock { state -> Bool? in
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

    /// The lane of the calling thread's event loop, or the shared one.
    private func lane(of loop: (any EventLoop)?) -> Lane {
        loop.flatMap { loopLanes[ObjectIdentifier($0)] } ?? sharedLane
    }

    /// Admits hits of `bytes` payload if the buffer's total, with what every lane holds pending or is
    /// writing, stays within `maxBytes`; their bytes stay reserved until their transaction ends.
    private func admit(_ state: inout State, bytes: Int) -> Failure? {
        if state.closed { return .closed }
        // Reserved bytes are read before the sink's total, and released only after the sink has counted
        // them (acquire and release): a reader never sees a transaction's bytes in neither.
        var reserved = reservedBytes.load(ordering: .acquiring)
        while true {
            if reserved + sink.storedBytes + bytes > maxBytes {
                state.pending.drops[.bufferFull, default: 0] += 1
                state.refusing = true
                return .bufferFull
            }
            let (exchanged, found) = reservedBytes.compareExchange(expected: reserved, desired: reserved + bytes, ordering: .acquiringAndReleasing)
            if exchanged { break }
            reserved = found
        }
        state.refusing = false
        return nil
    }

    /// Whether the edge is refusing hits for lack of buffer space (the last submission on some lane did
    /// not fit).
    public var isRefusing: Bool { lanes.contains { $0.state.withLock { $0.refusing } } }

    /// Why hits cannot be written now, if the last write (on some lane) failed.
    public var writeFailure: String? { lanes.lazy.compactMap { $0.state.withLock { $0.writeFailure } }.first }

    /// Counts a dropped request. The count rides along with the next transaction of hits; without
    /// hits, the writer loop commits it within `dropFlushInterval`. Nothing waits for it, so it does not
    /// start a transaction (and a sync) of its own: under traffic that would be one per dropped request.
    public func countDrop(_ reason: DropReason) {
        lane(of: MultiThreadedEventLoopGroup.currentEventLoop).state.withLock { state in
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
                for lane in lanes { await commitUntilEmpty(lane) }
            }
            tasks.cancelAll()
        }
        for lane in lanes { lane.state.withLock { $0.closed = true } }
        for lane in lanes { await commitUntilEmpty(lane, waitingForOthers: true) }
    }

    /// The writer loop's turn: unless a request's thread is committing (it will take what is pending),
    /// commits until nothing is pending. At shutdown it waits for such a thread to finish first.
    private func commitUntilEmpty(_ lane: Lane, waitingForOthers: Bool = false) async {
        while true {
            let acquired = lane.state.withLock { state in
                guard !state.committing else { return false }
                state.committing = true
                return true
            }
            if acquired { break }
            guard waitingForOthers else { return }
            try? await Task.sleep(for: .milliseconds(1))
        }
        while true {
            let batch = take(lane)
            if !batch.isEmpty {
                do {
                    try await sink.append(batch.hits, drops: batch.drops)
                    finished(batch, lane: lane, with: nil)
                } catch {
                    finished(batch, lane: lane, with: error)
                }
            }
            let done = lane.state.withLock { state in
                guard state.pending.isEmpty else { return false }
                state.committing = false
                return true
            }
            if done { return }
        }
    }

    /// Takes everything pending on a lane for one transaction.
    private func take(_ lane: Lane) -> Pending {
        lane.state.withLock { state in
            let batch = state.pending
            state.pending = Pending()
            return batch
        }
    }

    /// Writes one transaction on the calling thread and answers its waiters.
    private func commit(_ batch: Pending, lane: Lane, write: () throws -> Void) {
        guard !batch.isEmpty else { return }
        do {
            try write()
            finished(batch, lane: lane, with: nil)
        } catch {
            finished(batch, lane: lane, with: error)
        }
    }

    private func finished(_ batch: Pending, lane: Lane, with error: (any Error)?) {
        reservedBytes.subtract(batch.bytes, ordering: .releasing)
        lane.state.withLock { state in
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
