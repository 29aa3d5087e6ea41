import EdgeCollector
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
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
        config = try Fixtures.config(dataDir: directory.file("data"), privacy: privacy, extra: extra)
        components = try EdgeComponents(config: config, logger: logs.logger)
    }

    func run(_ test: @escaping @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        let app = buildEdgeApplication(components: components, logger: logs.logger)
        try await app.test(.live, test)
    }

    /// Hits in the buffer, read through a separate connection from the file itself.
    func bufferedHits() throws -> [Hit] {
        try HitBuffer.open(path: config.bufferPath).oldest(limit: 100_000).map(\.hit)
    }

    func drops() throws -> [DropReason: Int] {
        try BufferStatus.read(bufferAt: config.bufferPath, now: Date()).drops
    }
}

extension TestClientProtocol {
    /// A tracking request from `ip` (sent as X-Forwarded-For from the trusted loopback proxy).
    func track(
        _ uri: String, method: HTTPRequest.Method = .get, ip: String = "203.0.113.77",
        userAgent: String = Fixtures.chrome, headers extra: [String: String] = [:], body: String? = nil
    ) async throws -> TestResponse {
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
