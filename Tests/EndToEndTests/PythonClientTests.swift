import Crypto
import Foundation
import Testing

/// Server-side Python clients against a real edge: what flask-matomo2 and asgi-matomo sent for one page
/// request each (Fixtures/python-clients/README.md), replayed byte for byte.
@Suite("Python server-side clients, replayed against a real edge")
struct PythonClientTests {
    @Test("flask-matomo2 and asgi-matomo: the visitor's address, browser and referrer, not the client library's; bytes literals unwrapped")
    func replay() async throws {
        let tokenHash = SHA256.hash(data: Data("pyc-token".utf8)).map { String(format: "%02x", $0) }.joined()
        let sandbox = try await EdgeSandbox()
        defer { sandbox.remove() }
        try (String(contentsOfFile: sandbox.configPath, encoding: .utf8) + "\ntracking_token_sha256 = \"\(tokenHash)\"\n")
            .write(toFile: sandbox.configPath, atomically: true, encoding: .utf8)
        let edge = try await EdgeProcess.run(config: sandbox.configPath, logPath: sandbox.path + "/edge.log")
        for captured in try CapturedRequest.load("python-clients") {
            let answer = await captured.send(to: edge.port)
            #expect(answer.status == 204, "\(captured.path): \(answer.body)")
        }
        let metrics = await RobustnessTests.http("http://127.0.0.1:\(edge.port)/metrics")
        #expect(metrics.body.contains(#"tally_edge_input_repairs_total{kind="bytes_literal"} 1"#))
        await RobustnessTests.stop(edge)

        let records = try await CapturedRequest.bufferedRecords(sandbox.bufferPath)
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
