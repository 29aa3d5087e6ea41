import Crypto
import Foundation
import Testing

/// MatomoTracker.php against a real edge: the requests it sent for a shop visit
/// (Fixtures/matomo-php-tracker/README.md), replayed byte for byte.
@Suite("Matomo's PHP tracker, replayed against a real edge")
struct MatomoPHPTrackerTests {
    @Test("Product view, content, cart, order, crash report, site search, event with a dimension and a bulk: each stored as what it is")
    func replay() async throws {
        let tokenHash = SHA256.hash(data: Data("php-tracker-token".utf8)).map { String(format: "%02x", $0) }.joined()
        let sandbox = try await EdgeSandbox()
        defer { sandbox.remove() }
        try (String(contentsOfFile: sandbox.configPath, encoding: .utf8) + """

            tracking_token_sha256 = "\(tokenHash)"
            [[sites.dimensions]]
            id = 1
            name = "Plan"
            scope = "visit"
            """).write(toFile: sandbox.configPath, atomically: true, encoding: .utf8)
        let edge = try await EdgeProcess.run(config: sandbox.configPath, logPath: sandbox.path + "/edge.log")
        for captured in try CapturedRequest.load("matomo-php-tracker") {
            let answer = await captured.send(to: edge.port)
            #expect(answer.status == 200, "\(captured.path): \(answer.body)")
        }
        await RobustnessTests.stop(edge)

        let records = try await CapturedRequest.bufferedRecords(sandbox.bufferPath)
        #expect(records.map { $0["kind"] as? String } == [
            "pageview", "content_impression", "content_interaction", "cart_update", "ecommerce_order", "ecommerce_order",
            "custom_action", "site_search", "event", "pageview", "pageview",
        ])
        #expect(records[0]["pk_sku"] as? String == "SKU1" && records[0]["pk_cat"] as? String == "Clothes" && records[0]["pk_price"] as? Double == 25)
        #expect(records[2]["c_i"] as? String == "click" && records[2]["c_t"] as? String == "https://example.com/sale")
        #expect(records[4]["ec_id"] as? String == "A-100" && records[4]["revenue"] as? Double == 55)
        #expect((records[4]["ec_items"] as? String)?.contains(#""name":"Shirt for [email]""#) == true)
        #expect((records[4]["ec_items"] as? String)?.contains(#""categories":["Clothes","Sale"]"#) == true)
        #expect(records[7]["search"] as? String == "tents" && records[7]["search_count"] as? Int == 4)
        #expect(records[8]["e_v"] as? Double == 12.5 && records[8]["dims"] as? String == #"{"visit.1":"Pro"}"#)
        #expect(Set(records.prefix(9).compactMap { $0["visitor_id"] as? String }).count == 1)
        #expect(records[9]["visitor_id"] as? String == records[10]["visitor_id"] as? String, "the bulk's entries are one visitor")
        #expect(records[10]["browser"] as? String == "Chrome")
        for file in [sandbox.bufferPath, sandbox.bufferPath + "-wal", sandbox.path + "/edge.log"] {
            guard let data = FileManager.default.contents(atPath: file) else { continue }
            for secret in ["192.0.2.6", "Windows NT 10.0", "bob@example.org", "x is undefined", "app.js"] {
                #expect(data.range(of: Data(secret.utf8)) == nil, "\(secret) in \(file)")
            }
        }
    }
}
