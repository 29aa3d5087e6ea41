import EdgeCollector
import Foundation
import Testing

@Suite("Nothing personal at rest")
struct PrivacyAtRestTests {
    static let clients: [(ip: String, userAgent: String)] = [
        ("203.0.113.77", Fixtures.chrome),
        ("198.51.100.23", Fixtures.iphone),
        ("2001:db8:1:2::77", Fixtures.firefoxLinux),
        ("192.0.2.201", "Mozilla/5.0 (X11; Linux x86_64) TallyPrivacyMarker/9.9 (unique-agent-7f3a)"),
    ]

    /// Every byte of the buffer, its WAL and shared memory, the salt and key files' neighbours, and the logs.
    static func bytesAtRest(_ edge: LiveEdge) throws -> [(String, Data)] {
        var files: [(String, Data)] = []
        for suffix in ["", "-wal", "-shm"] {
            let path = edge.config.bufferPath + suffix
            if let data = FileManager.default.contents(atPath: path) { files.append((path, data)) }
        }
        files.append(("logs", Data(edge.logs.text.utf8)))
        return files
    }

    @Test("After a run, the buffer, its WAL and the logs hold no test IP, user agent or salt byte")
    func grep() async throws {
        let edge = try LiveEdge(privacy: "bots = \"count_separately\"\ndnt = \"count_only\"", extra: "log_level = \"trace\"")
        let clients = Self.clients
        var duringRun: [(String, Data)] = []
        try await edge.run { client in
            for (index, c) in clients.enumerated() {
                for page in 0..<5 {
                    let dnt = page == 4 ? ["DNT": "1"] : [:]
                    _ = try await client.track(
                        "/matomo.php?idsite=1&rec=1&uid=user\(index)&url=https%3A%2F%2Fexample.com%2F\(page)&urlref=https%3A%2F%2Fblog.org%2F",
                        ip: c.ip, userAgent: c.userAgent, headers: dnt)
                }
                _ = try await client.track("/matomo.php?idsite=99&rec=1", ip: c.ip, userAgent: c.userAgent)
            }
        }
        duringRun = try Self.bytesAtRest(edge)
        let salts = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: edge.config.saltStatePath))) as! [String: Any]
        let saltKeys = (salts["salts"] as! [[String: Any]]).map { $0["key"] as! String }
        #expect(!saltKeys.isEmpty)

        #expect(try edge.bufferedHits().count == Self.clients.count * 5)
        for (name, data) in duringRun {
            for c in Self.clients {
                #expect(data.range(of: Data(c.ip.utf8)) == nil, "\(c.ip) found in \(name)")
                #expect(data.range(of: Data(c.userAgent.utf8)) == nil, "user agent found in \(name)")
            }
            #expect(data.range(of: Data("unique-agent-7f3a".utf8)) == nil, "user-agent fragment found in \(name)")
            for key in saltKeys {
                #expect(data.range(of: Data(key.utf8)) == nil, "salt (base64) found in \(name)")
                #expect(data.range(of: Data(base64Encoded: key)!) == nil, "salt bytes found in \(name)")
            }
        }
        #expect(edge.logs.text.contains("tally-edge listening"), "the logs were captured")
        // The user ids were hashed, not kept.
        #expect(duringRun.allSatisfy { $0.1.range(of: Data("\"user_id\":\"user".utf8)) == nil })
    }
}
