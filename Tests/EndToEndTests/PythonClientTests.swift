import Crypto
import Foundation
import GRDB
import Testing

/// Server-side Python clients against a real edge: what flask-matomo2 and asgi-matomo sent for one page
/// request each (Fixtures/python-clients/README.md), replayed byte for byte.
@Suite("Python server-side clients, replayed against a real edge")
struct PythonClientTests {
    static let fixtures = EdgeProcess.packageRoot.appendingPathComponent("Tests/EndToEndTests/Fixtures/python-clients")

    struct Captured: Decodable {
        var method: String
        var path: String
        var content_type: String?
        var user_agent: String?
        var body: String
    }

    @Test("flask-matomo2 and asgi-matomo: the visitor's address, browser and referrer, not the client library's; bytes literals unwrapped")
    func replay() async throws {
        let tokenHash = SHA256.hash(data: Data("pyc-token".utf8)).map { String(format: "%02x", $0) }.joined()
        let sandbox = try EdgeSandbox()
        defer { sandbox.remove() }
        try (String(contentsOfFile: sandbox.configPath, encoding: .utf8) + "\ntracking_token_sha256 = \"\(tokenHash)\"\n")
            .write(toFile: sandbox.configPath, atomically: true, encoding: .utf8)
        let edge = try EdgeProcess.run(config: sandbox.configPath, logPath: sandbox.path + "/edge.log")
        for line in try String(contentsOf: Self.fixtures.appendingPathComponent("requests.jsonl"), encoding: .utf8).split(separator: "\n") {
            let captured = try JSONDecoder().decode(Captured.self, from: Data(line.utf8))
            let answer = await RobustnessTests.http(
                "http://127.0.0.1:\(edge.port)\(captured.path)", method: captured.method, body: Data(captured.body.utf8),
                headers: ["Content-Type": captured.content_type ?? "", "User-Agent": captured.user_agent ?? ""])
            #expect(answer.status == 204, "\(captured.path): \(answer.body)")
        }
        let metrics = await RobustnessTests.http("http://127.0.0.1:\(edge.port)/metrics")
        #expect(metrics.body.contains(#"tally_edge_input_repairs_total{kind="bytes_literal"} 1"#))
        RobustnessTests.stop(edge)

        let queue = try DatabaseQueue(path: sandbox.bufferPath)
        let payloads = try await queue.read { db in try Data.fetchAll(db, sql: "SELECT payload FROM hits ORDER BY rowid") }
        let records = try payloads.map { try JSONSerialization.jsonObject(with: $0) as? [String: Any] ?? [:] }
        #expect(records.count == 2)
        #expect(records.allSatisfy { $0["kind"] as? String == "pageview" && $0["browser"] as? String == "Chrome" && $0["os"] as? String == "Windows" })
        #expect(records.first?["ref_name"] as? String == "DuckDuckGo" && records.first?["language"] as? String == "de-de")
        #expect(records.last?["ref_name"] as? String == "Google" && records.last?["url"] as? String == "https://example.com/docs")
        #expect(Set(records.compactMap { $0["visitor_id"] as? String }).count == 2, "two visitors, by their own addresses")
        for file in [sandbox.bufferPath, sandbox.bufferPath + "-wal"] {
            guard let data = FileManager.default.contents(atPath: file) else { continue }
            #expect(data.range(of: Data("192.0.2.7".utf8)) == nil && data.range(of: Data("http_status_code".utf8)) == nil)
        }
    }
}
