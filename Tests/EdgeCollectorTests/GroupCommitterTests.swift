@testable import EdgeCollector
import GRDB
import Foundation
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization
import TallyCore
import TrackingInput
import Testing

@Suite("Group commit into the buffer")
struct GroupCommitterTests {
    /// The real buffer behind a sink that counts transactions, can hold the first one until told, and can
    /// be made to fail.
    final class CountingSink: HitSink {
        struct Counts { var transactions = 0; var writing = 0; var overlapped = false; var failNext = false }
        let buffer: HitBuffer
        let counts = Mutex(Counts())
        let holdFirst: DispatchSemaphore?
        let firstStarted = DispatchSemaphore(value: 0)
        /// Signalled after each transaction that committed.
        let wrote = DispatchSemaphore(value: 0)

        init(buffer: HitBuffer, holdFirst: Bool = false) {
            self.buffer = buffer
            self.holdFirst = holdFirst ? DispatchSemaphore(value: 0) : nil
        }

        var storedBytes: Int { buffer.storedBytes }

        func append(_ hits: [BufferedHit], drops: [DropReason: Int]) throws {
            let (number, fail) = counts.withLock { counts in
                counts.transactions += 1
                counts.writing += 1
                if counts.writing > 1 { counts.overlapped = true }
                defer { counts.failNext = false }
                return (counts.transactions, counts.failNext)
            }
            defer { counts.withLock { $0.writing -= 1 } }
            if number == 1, let holdFirst {
                firstStarted.signal()
                holdFirst.wait()
            }
            if fail { throw CocoaError(.fileWriteOutOfSpace) }
            try buffer.append(hits, drops: drops)
            wrote.signal()
        }
    }

    static func hit(_ n: Int) throws -> BufferedHit {
        var hit = Hit(siteID: 1, kind: .pageview, timestamp: 1_764_547_200_000 + Int64(n))
        hit.url = "https://example.com/\(n)"
        return try BufferedHit(hit: hit, policyDigest: PolicyDigest(canonicalText: "policy"))
    }

    @Test("The buffer syncs every commit to the disk (synchronous = FULL on its writing connection), as ack = \"durable\" promises")
    func commitsAreSynced() throws {
        let directory = try TemporaryDirectory()
        let buffer = try HitBuffer.open(path: directory.file("buffer.sqlite"))
        let level = try buffer.writer.writeWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") }
        #expect(level == 2, "NORMAL (1) syncs only at checkpoints: an acknowledged hit could be lost with the power")
        #expect(try buffer.writer.read { db in try String.fetchOne(db, sql: "PRAGMA journal_mode") } == "wal")
    }

    @Test("A write that fails part-way stores none of its hits, and the next write goes through")
    func failedWriteStoresNothing() throws {
        let directory = try TemporaryDirectory()
        let buffer = try HitBuffer.open(path: directory.file("buffer.sqlite"))
        // SQLite refuses the third hit of the write, after two were inserted in its transaction.
        try buffer.writer.write { db in
            try db.execute(sql: """
                CREATE TRIGGER refuse BEFORE INSERT ON hits WHEN (SELECT count(*) FROM hits) >= 2
                BEGIN SELECT RAISE(ABORT, 'refused'); END
                """)
        }
        #expect(throws: DatabaseError.self) { try buffer.append([Self.hit(1), Self.hit(2), Self.hit(3)], drops: [.bot: 1]) }
        #expect(try buffer.writer.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM hits") } == 0)
        #expect(try buffer.writer.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM drop_counts") } == 0)
        #expect(buffer.storedCount == 0)
        try buffer.append([Self.hit(4), Self.hit(5)], drops: [.bot: 1])
        #expect(try buffer.oldest(limit: 10).map(\.hit.url) == ["https://example.com/4", "https://example.com/5"])
        #expect(buffer.storedCount == 2)
    }

    /// Waits for `semaphore` on a thread of its own, so no thread of Swift's or Dispatch's pools is
    /// blocked. (The bound only keeps a broken committer from hanging the run.)
    static func wait(for semaphore: DispatchSemaphore) async -> Bool {
        await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: semaphore.wait(timeout: .now() + 60) == .success) }.start()
        }
    }

    /// Answers counted as they come; `all` is signalled when the expected number has arrived.
    final class Answers: Sendable {
        let results = Mutex<[Int: (Result<Void, any Error>, onLoop: Int?)]>([:])
        let all = DispatchSemaphore(value: 0)
        let expected: Int
        init(expected: Int) { self.expected = expected }

        func record(_ n: Int, _ result: Result<Void, any Error>, loops: [any EventLoop] = []) {
            let onLoop = loops.firstIndex { $0.inEventLoop }
            let count = results.withLock { results in
                #expect(results[n] == nil, "hit \(n) is answered once")
                results[n] = (result, onLoop)
                return results.count
            }
            if count == expected { all.signal() }
        }

        var succeeded: [Int] { results.withLock { $0.filter { if case .success = $0.value.0 { true } else { false } }.keys.sorted() } }
    }

    @Test("Durable: a hit is in the buffer file when its submitter hears back; hits handed over while a transaction is written share the next one")
    func groupCommit() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("buffer.sqlite")
        let buffer = try HitBuffer.open(path: path)
        let sink = CountingSink(buffer: buffer, holdFirst: true)
        let committer = GroupCommitter(sink: sink, maxBytes: 1 << 30, ack: .durable, logger: Logger(label: "test"))
        let answers = Answers(expected: 50)

        committer.submit([try Self.hit(0)]) { result in
            // Read through a separate connection: the hit is committed before the answer.
            let stored = (try? HitBuffer.open(path: path).oldest(limit: 100).map(\.hit.url)) ?? []
            #expect(stored.contains("https://example.com/0"))
            answers.record(0, result)
        }
        // The writer holds the first transaction; meanwhile 49 more arrive from other threads and queue.
        #expect(await Self.wait(for: sink.firstStarted))
        DispatchQueue.concurrentPerform(iterations: 49) { index in
            committer.submit([try! Self.hit(index + 1)]) { answers.record(index + 1, $0) }
        }
        #expect(answers.succeeded.isEmpty, "nobody is answered before their transaction commits")
        sink.holdFirst?.signal()
        #expect(await Self.wait(for: answers.all))

        #expect(answers.succeeded == Array(0..<50), "every submitter is answered, once")
        let counts = sink.counts.withLock { $0 }
        #expect(counts.transactions == 2, "the 49 queued hits share one transaction")
        #expect(!counts.overlapped, "transactions never overlap")
        let urls = try buffer.oldest(limit: 100).map(\.hit.url)
        #expect(Set(urls).count == 50 && urls.count == 50)
    }

    @Test("Durable, from the listener's event loops: no loop waits for the disk, the hits both loops hand over during a transaction share the next one, each is answered on its own loop, and the space limit counts every loop's pending hits")
    func loopsNeverWaitForTheDisk() async throws {
        let directory = try TemporaryDirectory()
        let buffer = try HitBuffer.open(path: directory.file("buffer.sqlite"))
        let sink = CountingSink(buffer: buffer, holdFirst: true)
        let one = try Self.hit(0)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let loops = Array(group.makeIterator())
        let committer = GroupCommitter(
            sink: sink, maxBytes: one.payload.count * 6, ack: .durable, loops: loops, logger: Logger(label: "test"))
        let answers = Answers(expected: 7)
        // Hands a hit over on a loop, as the edge's handler does, and reports when the loop is done with it:
        // a loop that waited for the disk would not be, while the first transaction is held.
        func submit(_ n: Int, on loop: Int) async -> Bool {
            let handedOver = DispatchSemaphore(value: 0)
            loops[loop].execute {
                committer.submit([try! Self.hit(n)]) { answers.record(n, $0, loops: loops) }
                handedOver.signal()
            }
            return await Self.wait(for: handedOver)
        }

        #expect(await submit(0, on: 0))
        #expect(await Self.wait(for: sink.firstStarted))
        // The first transaction is held in the sink: both loops go on taking requests.
        #expect(await submit(1, on: 0), "the loop whose hit is being written goes on")
        #expect(await submit(2, on: 0))
        #expect(await submit(3, on: 1))
        #expect(await submit(4, on: 1))
        #expect(await submit(5, on: 1))
        // Six hits are written or waiting; the limit is six, so the next is refused, whichever loop reads it.
        #expect(await submit(6, on: 0))
        #expect(answers.succeeded.isEmpty, "nobody is answered before their transaction commits")
        let refused = answers.results.withLock { $0[6]?.0 }
        #expect(refused.map { if case .failure(GroupCommitter.Failure.bufferFull) = $0 { true } else { false } } == true,
                "the hits pending on the other loop count against the space limit")

        sink.holdFirst?.signal()
        #expect(await Self.wait(for: answers.all))
        #expect(answers.succeeded == Array(0...5))
        #expect(sink.counts.withLock { $0.transactions } == 2, "what both loops handed over during the first transaction shares the second")
        let onLoop = answers.results.withLock { $0.mapValues(\.onLoop) }
        #expect(onLoop == [0: 0, 1: 0, 2: 0, 3: 1, 4: 1, 5: 1, 6: 0], "every answer is given on the loop that read the request")
        #expect(buffer.storedCount == 6)
        try await group.shutdownGracefully()
    }

    @Test("With a commit delay the writer, once woken, waits it out, and the hits handed over meanwhile share its transaction")
    func commitDelayGathersHits() async throws {
        let directory = try TemporaryDirectory()
        let buffer = try HitBuffer.open(path: directory.file("buffer.sqlite"))
        let sink = CountingSink(buffer: buffer)
        // The writer's pause is held here, so the test decides when the delay is over.
        let (paused, resume) = (DispatchSemaphore(value: 0), DispatchSemaphore(value: 0))
        let delays = Mutex<[Duration]>([])
        let committer = GroupCommitter(
            sink: sink, maxBytes: 1 << 30, ack: .durable, commitDelay: .milliseconds(2), logger: Logger(label: "test"),
            pause: { delay in
                delays.withLock { $0.append(delay) }
                paused.signal()
                resume.wait()
            })
        let answers = Answers(expected: 3)
        committer.submit([try Self.hit(0)]) { answers.record(0, $0) }
        #expect(await Self.wait(for: paused))
        committer.submit([try Self.hit(1)]) { answers.record(1, $0) }
        committer.submit([try Self.hit(2)]) { answers.record(2, $0) }
        #expect(answers.succeeded.isEmpty, "nothing is committed before the delay is over")
        resume.signal()
        #expect(await Self.wait(for: answers.all))
        #expect(answers.succeeded == [0, 1, 2])
        #expect(sink.counts.withLock { $0.transactions } == 1, "three hits, one transaction")
        #expect(delays.withLock { $0 } == [.milliseconds(2)])
        #expect(try buffer.oldest(limit: 100).count == 3)
    }

    @Test("A drop count rides along with the next transaction of hits: it is in the buffer when that hit's submitter hears back")
    func dropsRideAlong() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("buffer.sqlite")
        let sink = CountingSink(buffer: try HitBuffer.open(path: path))
        let committer = GroupCommitter(
            sink: sink, maxBytes: 1 << 30, ack: .durable, logger: Logger(label: "test"), dropFlushInterval: .seconds(86_400))
        committer.countDrop(.bot)
        committer.countDrop(.optOut)
        try await committer.submit([try Self.hit(1)])
        #expect(try BufferStatus.read(bufferAt: path, now: Date()).drops == [.bot: 1, .optOut: 1])
        #expect(sink.counts.withLock { $0.transactions } == 1, "the counts took no transaction of their own")
    }

    @Test("A failed write answers its submitters with the error and is reported until a write succeeds; hits that do not fit are refused whole")
    func failuresAndSpace() async throws {
        let directory = try TemporaryDirectory()
        let buffer = try HitBuffer.open(path: directory.file("buffer.sqlite"))
        let sink = CountingSink(buffer: buffer)
        let one = try Self.hit(1)
        let committer = GroupCommitter(sink: sink, maxBytes: one.payload.count * 3, ack: .durable, logger: Logger(label: "test"))

        sink.counts.withLock { $0.failNext = true }
        await #expect(throws: CocoaError.self) { try await committer.submit([one]) }
        #expect(committer.writeFailure != nil)
        try await committer.submit([one])
        #expect(committer.writeFailure == nil)
        #expect(buffer.storedCount == 1)

        await #expect(throws: GroupCommitter.Failure.bufferFull) { try await committer.submit([one, one, one]) }
        #expect(committer.isRefusing)
        #expect(buffer.storedCount == 1, "nothing of a refused submission is stored")
        try await committer.submit([one])
        #expect(!committer.isRefusing && buffer.storedCount == 2)
    }

    @Test("Drop counts with no hit after them are committed by the writer on its own")
    func lonelyDropsAreFlushed() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("buffer.sqlite")
        let sink = CountingSink(buffer: try HitBuffer.open(path: path))
        let committer = GroupCommitter(
            sink: sink, maxBytes: 1 << 30, ack: .durable, logger: Logger(label: "test"), dropFlushInterval: .milliseconds(10))
        committer.countDrop(.bot)
        committer.countDrop(.doNotTrack)
        #expect(await Self.wait(for: sink.wrote))
        #expect(try BufferStatus.read(bufferAt: path, now: Date()).drops == [.bot: 1, .doNotTrack: 1])
        #expect(try HitBuffer.open(path: path).storedCount == 0)
    }

    @Test("Fast-acknowledged hits and drop counts pending at shutdown are committed before the committer returns; afterwards hits are refused")
    func shutdownCommitsWhatIsPending() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("buffer.sqlite")
        let buffer = try HitBuffer.open(path: path)
        let committer = GroupCommitter(
            sink: buffer, maxBytes: 1 << 30, ack: .fast, logger: Logger(label: "test"), dropFlushInterval: .seconds(86_400))
        let group = ServiceGroup(configuration: .init(services: [committer], logger: Logger(label: "test")))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            for n in 0..<20 { try await committer.submit([try Self.hit(n)]) }
            committer.countDrop(.bot)
            committer.countDrop(.bot)
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        #expect(try HitBuffer.open(path: path).oldest(limit: 100).count == 20)
        #expect(try BufferStatus.read(bufferAt: path, now: Date()).drops[.bot] == 2)
        await #expect(throws: GroupCommitter.Failure.closed) { try await committer.submit([try Self.hit(21)]) }
    }
}
