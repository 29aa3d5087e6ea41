import Dispatch
import Foundation
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization
import TrackingInput

/// Group commit for the buffer, on a writer thread of its own. Requests hand their hits over on the
/// event loop that read them and (with `ack = "durable"`) are answered on that loop once the transaction
/// that holds them has committed. The writer commits everything pending in one transaction and, as soon
/// as that one is synced, everything that arrived meanwhile: while one transaction syncs the next one
/// gathers, so the busier the edge, the more hits share a sync, and no event loop ever waits for the
/// disk or for the other loop's transaction. Drop counts ride along; when no hit comes they are
/// committed within `dropFlushInterval`.
///
/// Before, each event loop committed the requests it had read itself, after its pass and a commit delay:
/// during the sync, and while the other loop's transaction held SQLite's single writer, the loop read
/// nothing. With the writer thread the edge handled a quarter more requests at full load, and at 8,200
/// requests/s its p99 fell from 5–6 to 2.4–3.8 ms (docs/performance.md).
///
/// Each event loop of the listener has a lane of its own (what it handed over and who waits for it), so
/// the loops do not take one lock for every request, and the writer hands each loop its answers in one
/// piece per transaction. Threads that are not one of those loops (tests) share one more lane, answered
/// on the writer thread. On graceful shutdown the committer stops taking work, commits what is pending
/// and returns.
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
    /// committed.
    private struct State {
        var pending = Pending()
        var closed = false
        /// The last submission was refused for space and none has been admitted since.
        var refusing = false
    }

    /// Called once, when the hits are committed or could not be: on the submitting event loop, or on the
    /// writer thread for submissions from elsewhere (or with `ack = "fast"`, at once).
    public typealias Completion = @Sendable (Result<Void, any Error>) -> Void
    /// How the writer waits out the commit delay; tests substitute one that lets them choose the moment.
    public typealias Pause = @Sendable (Duration) -> Void

    private final class Lane: Sendable {
        let state = Mutex(State())
        /// The event loop this lane's answers are given on; `nil` for the shared lane.
        let loop: (any EventLoop)?
        init(loop: (any EventLoop)?) { self.loop = loop }
    }

    /// The writer thread's stop: asked for by `run` at shutdown, answered once everything is committed.
    private struct Stop {
        var requested = false
        var done: CheckedContinuation<Void, Never>?
    }

    private let sink: any HitSink
    private let maxBytes: Int
    private let durable: Bool
    private let commitDelay: Duration
    private let pause: Pause
    private let logger: Logger
    /// The lane of the threads that are not one of the listener's loops; `loopLanes` never changes after
    /// `init`, so finding a loop's lane takes no lock.
    private let sharedLane = Lane(loop: nil)
    private let loopLanes: [ObjectIdentifier: Lane]
    private let lanes: [Lane]
    /// Payload bytes admitted on any lane and not yet committed (or failed): with the sink's total, what
    /// `max_buffer_bytes` limits.
    private let reservedBytes = Atomic<Int>(0)
    /// Wakes the writer thread. `signalled` is set by the first submission after the writer last looked,
    /// so a busy edge signals once per transaction rather than once per request.
    private let signal = DispatchSemaphore(value: 0)
    private let signalled = Atomic<Bool>(false)
    private let writeFailureText = Mutex<String?>(nil)
    private let stop = Mutex(Stop())

    /// `loops` are the listener's event loops, each given a lane of its own. The writer thread starts
    /// here and ends at shutdown (`run`), or when the committer is released.
    public init(
        sink: any HitSink, maxBytes: Int, ack: BufferSettings.AckMode, commitDelay: Duration = .zero,
        loops: [any EventLoop] = [], logger: Logger, dropFlushInterval: Duration = .seconds(1),
        pause: @escaping Pause = { Thread.sleep(forTimeInterval: $0 / .seconds(1)) }
    ) {
        loopLanes = Dictionary(loops.map { (ObjectIdentifier($0), Lane(loop: $0)) }, uniquingKeysWith: { first, _ in first })
        lanes = [sharedLane] + loopLanes.values
        self.sink = sink
        self.maxBytes = maxBytes
        self.durable = ack == .durable
        self.commitDelay = commitDelay
        self.pause = pause
        self.logger = logger
        let (signal, interval) = (signal, dropFlushInterval)
        let thread = Thread { [weak self] in
            // Named from inside: a name given before the start is not passed to the system's thread.
            Thread.current.name = "tally-writer"
            while true {
                let woken = signal.wait(timeout: .now() + .nanoseconds(Int(interval / .nanoseconds(1)))) == .success
                guard let self, self.writerTurn(woken: woken) else { return }
            }
        }
        thread.start()
    }

    /// Wakes the writer thread, which ends when it finds the committer gone.
    deinit { signal.signal() }

    /// Hands hits to the buffer: all of them or, when they do not fit, none (`bufferFull`). With durable
    /// acknowledgement it returns once their transaction has committed.
    public func submit(_ hits: [BufferedHit]) async throws {
        try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<Void, any Error>) in
            submit(hits) { continuation.resume(with: $0) }
        }
    }

    /// Hands hits to the buffer and calls `completion` once: with durable acknowledgement when their
    /// transaction has committed, otherwise as soon as they are admitted. Hits that do not fit are
    /// refused whole with `bufferFull`.
    public func submit(_ hits: [BufferedHit], completion: @escaping Completion) {
        guard !hits.isEmpty else { return completion(.success(())) }
        let bytes = hits.reduce(0) { $0 + $1.payload.count }
        let lane = lane(of: MultiThreadedEventLoopGroup.currentEventLoop)
        let refused: Failure? = lane.state.withLock { state in
            if let refusal = admit(&state, bytes: bytes) { return refusal }
            state.pending.hits.append(contentsOf: hits)
            if durable { state.pending.waiters.append(completion) }
            state.pending.bytes += bytes
            return nil
        }
        if let refused { return completion(.failure(refused)) }
        if !signalled.exchange(true, ordering: .acquiringAndReleasing) { signal.signal() }
        if !durable { completion(.success(())) }
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

    /// Why hits cannot be written now, if the last write failed.
    public var writeFailure: String? { writeFailureText.withLock { $0 } }

    /// Counts a dropped request. The count rides along with the next transaction of hits; without
    /// hits, the writer commits it within `dropFlushInterval`. Nothing waits for it, so it does not
    /// wake the writer: under traffic that would be a transaction (and a sync) per dropped request.
    public func countDrop(_ reason: DropReason) {
        lane(of: MultiThreadedEventLoopGroup.currentEventLoop).state.withLock { state in
            guard !state.closed else { return }
            state.pending.drops[reason, default: 0] += 1
        }
    }

    /// Waits for graceful shutdown (the listener has stopped by then and finished its requests), stops
    /// taking work, and returns once the writer has committed what is pending.
    public func run() async throws {
        try? await gracefulShutdown()
        for lane in lanes { lane.state.withLock { $0.closed = true } }
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            stop.withLock { $0 = Stop(requested: true, done: done) }
            signal.signal()
        }
    }

    /// One turn of the writer thread, after a submission woke it (`woken`) or the drop-flush interval
    /// passed: commits every lane's pending hits and drop counts, one transaction after another until
    /// nothing is pending. Returns false once the committer has stopped.
    private func writerTurn(woken: Bool) -> Bool {
        // The delay lets the requests of the next few milliseconds join the transaction the first one
        // woke the writer for (fewer syncs per request, for longer answers).
        if woken, commitDelay > .zero { pause(commitDelay) }
        signalled.store(false, ordering: .sequentiallyConsistent)
        // Read before the last look at the lanes: the lanes are closed before the stop is asked for, so
        // once it is, what this turn commits is everything there will be.
        let stopping = stop.withLock { $0.requested }
        while true {
            let batches = lanes.map { lane in
                lane.state.withLock { state in
                    let batch = state.pending
                    state.pending = Pending()
                    return batch
                }
            }
            if batches.allSatisfy(\.isEmpty) { break }
            commit(batches)
        }
        guard stopping else { return true }
        stop.withLock { stop in
            stop.done?.resume()
            stop.done = nil
        }
        return false
    }

    /// Writes the lanes' batches in one transaction and answers their waiters, each lane's on its loop.
    private func commit(_ batches: [Pending]) {
        var hits: [BufferedHit] = []
        hits.reserveCapacity(batches.reduce(0) { $0 + $1.hits.count })
        var drops: [DropReason: Int] = [:]
        for batch in batches {
            hits.append(contentsOf: batch.hits)
            drops.merge(batch.drops, uniquingKeysWith: +)
        }
        let result: Result<Void, any Error>
        do {
            try sink.append(hits, drops: drops)
            result = .success(())
        } catch {
            result = .failure(error)
            logger.error("Buffer write failed; \(hits.count) hit(s) were not stored", metadata: ["error": "\(error)"])
        }
        reservedBytes.subtract(batches.reduce(0) { $0 + $1.bytes }, ordering: .releasing)
        writeFailureText.withLock { text in
            if case let .failure(error) = result { text = "\(error)" } else { text = nil }
        }
        for (lane, batch) in zip(lanes, batches) where !batch.waiters.isEmpty {
            let waiters = batch.waiters
            if let loop = lane.loop {
                loop.execute { for waiter in waiters { waiter(result) } }
            } else {
                for waiter in waiters { waiter(result) }
            }
        }
    }
}
