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

        init(buffer: HitBuffer, holdFirst: Bool = false) {
            self.buffer = buffer
            self.holdFirst = holdFirst ? DispatchSemaphore(value: 0) : nil
        }

        var storedBytes: Int { buffer.storedBytes }

        func append(_ hits: [BufferedHit], drops: [DropReason: Int]) throws { try write(hits, drops: drops) }

        func append(_ hits: [BufferedHit], drops: [DropReason: Int]) async throws { try write(hits, drops: drops) }

        private func write(_ hits: [BufferedHit], drops: [DropReason: Int]) throws {
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

    @Test("Durable: a hit is in the buffer file when its submitter hears back; hits sent during a transaction share the next one")
    func groupCommit() async throws {
        let directory = try TemporaryDirectory()
        let buffer = try HitBuffer.open(path: directory.file("buffer.sqlite"))
        let sink = CountingSink(buffer: buffer, holdFirst: true)
        let committer = GroupCommitter(sink: sink, maxBytes: 1 << 30, ack: .durable, logger: Logger(label: "test"))
        let path = directory.file("buffer.sqlite")
        let answered = Mutex<[Int: Int]>([:])
        let firstReturned = DispatchSemaphore(value: 0)

        // The first submitter writes the transaction itself and is held inside it (on its own thread).
        let first = Thread {
            committer.submit([try! Self.hit(0)]) { result in
                #expect((try? result.get()) != nil)
                // Read through a separate connection: the hit is committed before the answer.
                let stored = (try? HitBuffer.open(path: path).oldest(limit: 100).map(\.hit.url)) ?? []
                #expect(stored.contains("https://example.com/0"))
                answered.withLock { $0[0, default: 0] += 1 }
            }
            firstReturned.signal()
        }
        first.start()
        sink.firstStarted.wait()
        // Meanwhile 49 more arrive from other threads; none of them writes, they queue.
        DispatchQueue.concurrentPerform(iterations: 49) { index in
            let n = index + 1
            committer.submit([try! Self.hit(n)]) { result in
                #expect((try? result.get()) != nil)
                answered.withLock { $0[n, default: 0] += 1 }
            }
        }
        #expect(answered.withLock { $0.isEmpty }, "nobody is answered before the transactions commit")
        sink.holdFirst?.signal()
        // The first submitter's thread commits the 49 in its next round, answering them before its own
        // submit returns. (The bound only keeps a broken committer from hanging the run.)
        #expect(firstReturned.wait(timeout: .now() + 60) == .success)

        #expect(answered.withLock { $0.values.allSatisfy { $0 == 1 } }, "every submitter is answered exactly once")
        let counts = sink.counts.withLock { $0 }
        #expect(counts.transactions == 2, "the 49 queued hits share one transaction")
        #expect(!counts.overlapped, "transactions never overlap")
        let urls = try buffer.oldest(limit: 100).map(\.hit.url)
        #expect(Set(urls).count == 50 && urls.count == 50)
    }

    @Test("Durable, on an event loop: the hits of requests read in one pass of the loop share one transaction, committed after the pass")
    func oneTransactionPerLoopPass() async throws {
        let directory = try TemporaryDirectory()
        let buffer = try HitBuffer.open(path: directory.file("buffer.sqlite"))
        let sink = CountingSink(buffer: buffer)
        let committer = GroupCommitter(sink: sink, maxBytes: 1 << 30, ack: .durable, logger: Logger(label: "test"))
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let answers = try await loop.submit { () -> EventLoopFuture<[Int]> in
            // As the edge's handler does for each request of a pass: submit, answer when committed.
            let answered = NIOLoopBoundBox([Int](), eventLoop: loop)
            let all = loop.makePromise(of: [Int].self)
            for n in 0..<10 {
                committer.submit([try! Self.hit(n)]) { result in
                    #expect((try? result.get()) != nil)
                    #expect(loop.inEventLoop, "answered on the request's own loop")
                    answered.value.append(n)
                    if answered.value.count == 10 { all.succeed(answered.value) }
                }
                #expect(answered.value.isEmpty, "nothing is committed while the pass is still reading requests")
            }
            return all.futureResult
        }.flatMap { $0 }.get()
        #expect(answers == Array(0..<10))
        #expect(sink.counts.withLock { $0.transactions } == 1, "ten requests of one pass, one transaction")
        #expect(try buffer.oldest(limit: 100).count == 10)
    }

    @Test("Durable, on an event loop, with a commit delay: requests of later passes join the waiting transaction")
    func commitDelayGathersPasses() async throws {
        let directory = try TemporaryDirectory()
        let buffer = try HitBuffer.open(path: directory.file("buffer.sqlite"))
        let sink = CountingSink(buffer: buffer)
        // The delayed commits are held here, so the test decides when the delay is over.
        let held = Mutex<[@Sendable () -> Void]>([])
        let committer = GroupCommitter(
            sink: sink, maxBytes: 1 << 30, ack: .durable, commitDelay: .milliseconds(2), logger: Logger(label: "test"),
            schedule: { _, delay, commit in
                #expect(delay == .milliseconds(2))
                held.withLock { $0.append(commit) }
            })
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let answered = Mutex<[Int]>([])
        let all = loop.makePromise(of: [Int].self)
        let submit: @Sendable (Int) -> Void = { n in
            committer.submit([try! Self.hit(n)]) { result in
                #expect((try? result.get()) != nil)
                let sofar = answered.withLock { $0.append(n); return $0 }
                if sofar.count == 3 { all.succeed(sofar) }
            }
        }
        // Three passes of the loop: the first starts the transaction, which then waits out the delay.
        try await loop.submit { submit(0) }.get()
        try await loop.submit { submit(1) }.get()
        try await loop.submit { submit(2) }.get()
        #expect(answered.withLock { $0 }.isEmpty, "nothing is committed before the delay is over")
        #expect(held.withLock { $0.count } == 1, "one commit waits")
        guard let commit = held.withLock({ $0.popLast() }) else { return }
        loop.execute(commit)
        #expect(try await all.futureResult.get() == [0, 1, 2])
        #expect(sink.counts.withLock { $0.transactions } == 1, "three passes, one transaction")
        #expect(try buffer.oldest(limit: 100).count == 3)
    }

    @Test("A drop count rides along with the next transaction of hits: it is in the buffer when that hit's submitter hears back")
    func dropsRideAlong() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("buffer.sqlite")
        let sink = CountingSink(buffer: try HitBuffer.open(path: path))
        let committer = GroupCommitter(sink: sink, maxBytes: 1 << 30, ack: .durable, logger: Logger(label: "test"))
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

    @Test("Drop counts and fast-acknowledged hits are committed by the writer loop, and what is pending at shutdown is committed")
    func writerLoopAndShutdown() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("buffer.sqlite")
        let buffer = try HitBuffer.open(path: path)
        let committer = GroupCommitter(sink: buffer, maxBytes: 1 << 30, ack: .fast, logger: Logger(label: "test"))
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
    }

    @Test("Each event loop commits the requests it read in a transaction of its own and answers them itself; the space limit counts every loop's pending hits")
    func oneLanePerLoop() async throws {
        let directory = try TemporaryDirectory()
        let buffer = try HitBuffer.open(path: directory.file("buffer.sqlite"))
        let sink = CountingSink(buffer: buffer)
        let one = try Self.hit(0)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let loops = Array(group.makeIterator())
        // The delayed commits are held here, with the loop each was scheduled on.
        let held = Mutex<[(loop: ObjectIdentifier, commit: @Sendable () -> Void)]>([])
        let committer = GroupCommitter(
            sink: sink, maxBytes: one.payload.count * 5, ack: .durable, commitDelay: .milliseconds(2), loops: loops,
            logger: Logger(label: "test"),
            schedule: { loop, _, commit in held.withLock { $0.append((ObjectIdentifier(loop), commit)) } })
        let answered = Mutex<[(hit: Int, onItsLoop: Bool)]>([])
        let results = Mutex<[Int: Result<Void, any Error>]>([:])
        func submit(_ n: Int, on loop: any EventLoop) async throws {
            try await loop.submit {
                committer.submit([try! Self.hit(n)]) { result in
                    results.withLock { $0[n] = result }
                    if case .success = result { answered.withLock { $0.append((n, loop.inEventLoop)) } }
                }
            }.get()
        }
        try await submit(0, on: loops[0])
        try await submit(1, on: loops[0])
        try await submit(2, on: loops[1])
        try await submit(3, on: loops[1])
        // Four hits wait (two per loop); the limit is five, so of two more only one is admitted, whichever
        // loop reads it.
        try await submit(4, on: loops[1])
        try await submit(5, on: loops[0])
        #expect(results.withLock { $0[5].map { if case .failure(GroupCommitter.Failure.bufferFull) = $0 { true } else { false } } } == true,
                "the hits pending on the other loop count against the space limit")
        #expect(held.withLock { $0.map(\.loop) } == [ObjectIdentifier(loops[0]), ObjectIdentifier(loops[1])],
                "each loop schedules its own commit")

        let first = try #require(held.withLock { $0.first?.commit })
        try await loops[0].submit(first).get()
        #expect(answered.withLock { $0.map(\.hit) } == [0, 1], "the first loop's commit holds only its own requests")
        #expect(sink.counts.withLock { $0.transactions } == 1)

        let second = try #require(held.withLock { $0.last?.commit })
        try await loops[1].submit(second).get()
        #expect(answered.withLock { $0.map(\.hit) } == [0, 1, 2, 3, 4])
        #expect(answered.withLock { $0.allSatisfy(\.onItsLoop) }, "every answer is given on the loop that read the request")
        #expect(sink.counts.withLock { $0.transactions } == 2)
        #expect(buffer.storedCount == 5)
        try await group.shutdownGracefully()
    }
}
