import EdgeCollector
import Logging
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import ServiceLifecycle
import TallyCore
import TrackingInput

/// A real edge application (real buffer file, real salts file, real GeoIP database) served on a loopback
/// port for one test, with its logs captured.
struct LiveEdge {
    let directory: TemporaryDirectory
    let config: EdgeConfig
    let components: EdgeComponents
    let logs = LogCapture()

    init(privacy: String = "", extra: String = "") throws {
        directory = try TemporaryDirectory()
        var config = try Fixtures.config(dataDir: directory.file("data"), privacy: privacy, extra: extra)
        // The test's client runs in this process: on a busy machine its next request may come long after
        // the last. The listener's deadlines are tested against real processes (EndToEndTests), not here.
        config.listener.headerTimeoutSeconds = 3600
        config.listener.bodyTimeoutSeconds = 3600
        config.listener.idleTimeoutSeconds = 3600
        self.config = config
        components = try EdgeComponents(config: config, logger: logs.logger)
    }

    func run(_ test: @escaping @Sendable (EdgeTestClient) async throws -> Void) async throws {
        try await EdgeTestClient.run(components: components, logger: logs.logger, test)
    }

    /// Hits in the buffer, read through a separate connection from the file itself.
    func bufferedHits() throws -> [Hit] {
        try HitBuffer.open(path: config.bufferPath).oldest(limit: 100_000).map(\.hit)
    }

    func drops() throws -> [DropReason: Int] {
        try BufferStatus.read(bufferAt: config.bufferPath, now: Date()).drops
    }
}

/// An HTTP client connected to an edge application started for one test on a loopback port; the edge is
/// shut down gracefully when the test returns.
struct EdgeTestClient: Sendable {
    let client: TestClient

    struct Response: Sendable {
        var status: HTTPResponse.Status
        var headers: HTTPFields
        var body: ByteBuffer
    }

    static func run(components: EdgeComponents, logger: Logger, _ test: @escaping @Sendable (EdgeTestClient) async throws -> Void) async throws {
        let (ports, port) = AsyncStream.makeStream(of: Int.self)
        let app = buildEdgeApplication(components: components, logger: logger) { port.yield($0) }
        let group = app.serviceGroup()
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var listening = ports.makeAsyncIterator()
            guard let port = await listening.next() else { return }
            let client = TestClient(host: "127.0.0.1", port: port, configuration: .init(timeout: .seconds(600)))  // a guard against a hung edge
            client.connect()
            do {
                try await test(EdgeTestClient(client: client))
            } catch {
                try? await client.shutdown()
                await group.triggerGracefulShutdown()
                throw error
            }
            try await client.shutdown()
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    func executeRequest(uri: String, method: HTTPRequest.Method, headers: HTTPFields, body: ByteBuffer?) async throws -> Response {
        var headers = headers
        headers[.connection] = "keep-alive"
        let response = try await client.execute(TestClient.Request(uri, method: method, authority: "localhost", headers: headers, body: body))
        return Response(status: response.head.status, headers: response.head.headerFields, body: response.body ?? ByteBuffer())
    }
}

extension EdgeTestClient {
    /// A tracking request from `ip` (sent as X-Forwarded-For from the trusted loopback proxy).
    func track(
        _ uri: String, method: HTTPRequest.Method = .get, ip: String = "203.0.113.77",
        userAgent: String = Fixtures.chrome, headers extra: [String: String] = [:], body: String? = nil
    ) async throws -> Response {
        var headers: HTTPFields = [.userAgent: userAgent, HTTPField.Name("X-Forwarded-For")!: ip]
        for (name, value) in extra { headers[HTTPField.Name(name)!] = value }
        return try await executeRequest(uri: uri, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) })
    }

    /// The value of one sample in `/metrics`, e.g. `tally_edge_hits_dropped_total{reason="bot"}`.
    func metric(_ sample: String) async throws -> Double {
        let response = try await executeRequest(uri: "/metrics", method: .get, headers: [:], body: nil)
        let text = String(buffer: response.body)
        for line in text.split(separator: "\n") where line.hasPrefix(sample + " ") {
            return Double(line.dropFirst(sample.count + 1)) ?? .nan
        }
        return 0
    }
}
