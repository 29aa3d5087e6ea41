import Crypto
import EdgeCollector
import Foundation
import Logging
import Synchronization
import TallyCore
import ServiceLifecycle
import Testing

/// A central stand-in: records every batch and answers with scripted statuses (then 200).
final class RecordingTransport: BatchTransport {
    let sent = Mutex<[Data]>([])
    let script = Mutex<[Int]>([])

    init(script: [Int] = []) { self.script.withLock { $0 = script } }

    func post(_ batch: Data) async throws -> (status: Int, body: String) {
        sent.withLock { $0.append(batch) }
        let status = script.withLock { $0.isEmpty ? 200 : $0.removeFirst() }
        if status == 0 { throw CancellationError() }
        return (status, status == 200 ? "{\"status\":\"stored\"}" : "refused")
    }
}

@Suite("Shipper")
struct ShipperTests {
    let directory: TemporaryDirectory
    let key = Curve25519.Signing.PrivateKey()

    init() throws {
        directory = try TemporaryDirectory()
        let keyText = Data((key.rawRepresentation.base64EncodedString() + "\n").utf8)
        _ = FileManager.default.createFile(atPath: directory.file("edge.key"), contents: keyText, attributes: [.posixPermissions: 0o600])
        for name in ["client.crt", "client.key", "ca.crt"] {
            _ = FileManager.default.createFile(atPath: directory.file(name), contents: Data("unused by the test transport".utf8), attributes: [.posixPermissions: 0o600])
        }
    }

    /// The shipper's clock: batches fall due when the test moves it, never by waiting.
    let clock = FrozenClock(Date(timeIntervalSince1970: 1_795_000_000))

    func components(_ transport: RecordingTransport, batchMaxHits: Int = 4, logs: LogCapture) throws -> EdgeComponents {
        let shipping = """
            [shipping]
            central_url = "https://localhost:1/v1/batches"
            batch_max_hits = \(batchMaxHits)
            batch_interval_seconds = 1
            signing_key_file = "\(directory.file("edge.key"))"
            client_certificate_file = "\(directory.file("client.crt"))"
            client_key_file = "\(directory.file("client.key"))"
            central_ca_file = "\(directory.file("ca.crt"))"
            """
        let config = try Fixtures.config(dataDir: directory.file("data"), extra: "log_level = \"trace\"\n" + shipping)
        return try EdgeComponents(config: config, clock: clock, transport: transport, logger: logs.logger)
    }

    /// Stores hits through the ingest with only the group committer running, so the shipper is driven
    /// by the test alone.
    func store(_ edge: EdgeComponents, _ requests: [IncomingRequest]) async throws {
        let group = ServiceGroup(configuration: .init(services: [edge.committer], logger: Logger(label: "test")))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            for request in requests {
                let outcome = await edge.ingest.track(request)
                #expect(outcome == .stored(sendImage: true))
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    func pages(_ count: Int) throws -> [IncomingRequest] {
        try (0..<count).map { try request("idsite=1&rec=1&url=https%3A%2F%2Fexample.com%2F\($0)") }
    }

    @Test("Batches are signed, hold the hits, and the hits leave the buffer only when acknowledged")
    func shipsAndDeletes() async throws {
        let transport = RecordingTransport(script: [503, 0])
        let logs = LogCapture()
        let edge = try components(transport, logs: logs)
        let shipper = try #require(edge.shipper)
        try await store(edge, try pages(6))
        // First batch: 4 hits. A 503, then no answer at all: kept both times.
        #expect(try await shipper.shipOnce())
        #expect(try edge.buffer.pendingBatch()?.hitCount == 4)
        await #expect(throws: (any Error).self) { try await shipper.shipOnce() }
        await #expect(throws: (any Error).self) { try await shipper.shipOnce() }
        #expect(try edge.buffer.shippingStatus().failures == 2)
        #expect(edge.buffer.storedCount == 6)
        // Then acknowledged: deleted.
        #expect(try await shipper.shipOnce())
        #expect(edge.buffer.storedCount == 2)
        // What /healthz and /metrics report (running totals) is what the file holds (counted).
        let reported = try edge.buffer.status(now: clock.now())
        let counted = try BufferStatus.read(bufferAt: edge.config.bufferPath, now: clock.now())
        #expect(reported == counted)
        #expect(reported.depth == 2 && reported.payloadBytes > 0)

        let batches = transport.sent.withLock { $0 }
        #expect(batches.count == 3)
        #expect(Set(batches).count == 1, "a resend is byte for byte the same batch")
        let received = try ReceivedBatch(bytes: batches[0])
        try received.verify(publicKey: key.publicKey)
        #expect(received.header.edgeID == "test-edge")
        #expect(received.header.sequence == 1)
        #expect(try received.hits().map(\.url) == (0..<4).map { "https://example.com/\($0)" })
        #expect(received.header.policyDigest == edge.config.site(id: 1)!.policy.digest.hex)

        // The last two wait for the interval (or a full batch), then ship as sequence 2.
        #expect(try await shipper.shipOnce() == false)
        clock.advance(by: 0.9)
        #expect(try await shipper.shipOnce() == false, "not yet due")
        clock.advance(by: 0.1)
        #expect(try await shipper.shipOnce())
        #expect(try await shipper.shipOnce())
        #expect(edge.buffer.storedCount == 0)
        let status = try edge.buffer.shippingStatus()
        #expect(status.shippedHits == 6 && status.shippedBatches == 2 && status.lastAcknowledgedSequence == 2)
    }

    @Test("A batch central refuses for good is quarantined with its hits, and shipping goes on")
    func quarantine() async throws {
        let transport = RecordingTransport(script: [403])
        let logs = LogCapture()
        let edge = try components(transport, logs: logs)
        let shipper = try #require(edge.shipper)
        try await store(edge, try pages(8))
        #expect(try await shipper.shipOnce())  // form 1
        #expect(try await shipper.shipOnce())  // 403: quarantined
        #expect(try await shipper.shipOnce())  // form 2
        #expect(try await shipper.shipOnce())  // 200
        let status = try edge.buffer.shippingStatus()
        #expect(status.quarantinedBatches == 1)
        #expect(status.shippedHits == 4)
        #expect(edge.buffer.storedCount == 4, "the quarantined batch's hits are kept")
        #expect(logs.text.contains("quarantined"))
        #expect(transport.sent.withLock { $0.count } == 2)
        let metrics = edge.metrics.registry.emitToString()
        #expect(metrics.contains("tally_edge_batches_quarantined_total 1"))
        #expect(metrics.contains("tally_edge_batches_shipped_total 1"))
    }

    @Test("Batch bytes, inflated or not, hold no test IP or user agent")
    func privacyOfBatches() async throws {
        let transport = RecordingTransport()
        let logs = LogCapture()
        let edge = try components(transport, batchMaxHits: 100, logs: logs)
        let clients = [("203.0.113.77", Fixtures.chrome), ("2001:db8:1:2::77", Fixtures.iphone)]
        try await store(edge, try clients.map { try request("idsite=1&rec=1&url=https%3A%2F%2Fexample.com%2F", ip: $0.0, userAgent: $0.1) })
        clock.advance(by: 1)
        #expect(try await edge.shipper!.shipOnce())
        #expect(try await edge.shipper!.shipOnce())
        let batch = try #require(transport.sent.withLock { $0.first })
        let inflated = try ReceivedBatch(bytes: batch).hits().map { try $0.encodedJSON() }.reduce(Data(), +)
        for data in [batch, inflated] {
            for (ip, ua) in clients {
                #expect(data.range(of: Data(ip.utf8)) == nil)
                #expect(data.range(of: Data(ua.utf8)) == nil)
            }
        }
        #expect(inflated.range(of: Data("Paris".utf8)) != nil, "the inflated hits were read")
    }

    @Test("Backoff grows exponentially to its cap, with jitter")
    func backoff() {
        for attempt in 1...12 {
            let delay = Shipper.backoff(attempt: attempt, max: 60)
            let ceiling = min(60, 0.5 * pow(2, Double(attempt - 1)))
            #expect(delay >= ceiling / 2 && delay <= ceiling)
        }
    }
}
