import Crypto
import Foundation
import GRDB
import Testing

/// Matomo's log importer against a real edge: the requests `import_logs.py` sent while importing the
/// fixture logs (Fixtures/import-logs/README.md), replayed byte for byte.
@Suite("Matomo's log importer, replayed against a real edge")
struct ImportLogsTests {
    static let token = "import-token-123"

    @Test("The site lookup answers as Matomo's API does; every imported line is stored once, bots as bots; nothing personal is kept")
    func replay() async throws {
        let tokenHash = SHA256.hash(data: Data(Self.token.utf8)).map { String(format: "%02x", $0) }.joined()
        let sandbox = try await EdgeSandbox(privacy: "bots = \"count_separately\"")
        defer { sandbox.remove() }
        try (String(contentsOfFile: sandbox.configPath, encoding: .utf8) + "\nname = \"Imported\"\ntracking_token_sha256 = \"\(tokenHash)\"\n")
            .write(toFile: sandbox.configPath, atomically: true, encoding: .utf8)
        let edge = try await EdgeProcess.run(config: sandbox.configPath, logPath: sandbox.path + "/edge.log")

        var imported = 0
        for captured in try CapturedRequest.load("import-logs") {
            let answer = await captured.send(to: edge.port, userAgent: "Matomo/LogImport")
            #expect(answer.status == 200, "\(captured.path): \(answer.body)")
            if captured.path == "/" {
                let site = try #require(try JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any])
                #expect(site["idsite"] as? Int == 1 && site["main_url"] as? String == "https://example.com" && site["name"] as? String == "Imported")
            } else {
                let body = try #require(try JSONSerialization.jsonObject(with: Data(captured.body.utf8)) as? [String: Any])
                let count = (body["requests"] as? [Any])?.count ?? 0
                #expect(answer.body == #"{"status":"success","tracked":\#(count),"invalid":0,"invalid_indices":[]}"#)
                imported += count
            }
        }
        #expect(imported == 17)

        // Without the token the importer learns nothing, in Matomo's words and shape.
        let refused = await RobustnessTests.http(
            "http://127.0.0.1:\(edge.port)/?module=API&method=SitesManager.getSiteFromId&idSite=1&format=json&token_auth=wrong")
        #expect(refused.status == 200 && refused.body.contains(#""result":"error""#) && refused.body.contains("token_auth"))
        let unsupported = await RobustnessTests.http(
            "http://127.0.0.1:\(edge.port)/index.php?module=API&method=SitesManager.addSite&siteName=x&token_auth=\(Self.token)")
        #expect(unsupported.body.contains(#""result":"error""#) && unsupported.body.contains("edge.toml"))

        await RobustnessTests.stop(edge)
        let queue = try DatabaseQueue(path: sandbox.bufferPath)
        let (stored, bots) = try await queue.read { db in
            (try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM hits") ?? 0,
             try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM hits WHERE CAST(payload AS TEXT) LIKE '%\"bot\":true%'") ?? 0)
        }
        #expect(stored == imported, "every imported line is one stored hit")
        #expect(bots == 1, "the Googlebot line, imported with --enable-bots (bots=1), is a bot")
        for file in [sandbox.bufferPath, sandbox.bufferPath + "-wal", sandbox.path + "/edge.log"] {
            guard let data = FileManager.default.contents(atPath: file) else { continue }
            for secret in ["192.0.2.", "Mozilla/5.0 (Windows NT 10.0", "Googlebot/2.1", "Not-Bot"] {
                #expect(data.range(of: Data(secret.utf8)) == nil, "\(secret) in \(file)")
            }
        }
    }
}
