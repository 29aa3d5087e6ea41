import Foundation
import Testing

/// Matomo's JavaScript tracker against a real edge: the requests piwik.js sent from a browser for a shop
/// page (Fixtures/matomo-js-tracker/README.md), replayed byte for byte.
@Suite("Matomo's JavaScript tracker, replayed against a real edge")
struct MatomoJSTrackerTests {
    @Test("Pageview with product and dimension, content, event, cart, order, search, outlink and download: each stored once, as what it is")
    func replay() async throws {
        let sandbox = try await EdgeSandbox()
        defer { sandbox.remove() }
        try (String(contentsOfFile: sandbox.configPath, encoding: .utf8) + """

            [[sites.dimensions]]
            id = 1
            name = "Plan"
            scope = "visit"
            """).write(toFile: sandbox.configPath, atomically: true, encoding: .utf8)
        let edge = try await EdgeProcess.run(config: sandbox.configPath, logPath: sandbox.path + "/edge.log")
        for captured in try CapturedRequest.load("matomo-js-tracker") {
            let answer = await captured.send(to: edge.port, userAgent: captured.user_agent?.replacingOccurrences(of: "HeadlessChrome", with: "Chrome"))
            // Every request of the page says send_image=0 (the bulk in its body): 204 each, as Matomo answers.
            #expect(answer.status == 204, "\(captured.path): \(answer.body)")
        }
        await RobustnessTests.stop(edge)

        let records = try await CapturedRequest.bufferedRecords(sandbox.bufferPath)
        #expect(records.map { $0["kind"] as? String } == [
            "pageview", "event", "cart_update", "ecommerce_order", "site_search", "outlink", "download",
            "content_interaction", "content_impression",
        ])
        #expect(records[0]["pk_sku"] as? String == "SKU1" && records[0]["title"] as? String == "Shirt")
        #expect(records.dropFirst().allSatisfy { $0["pk_sku"] == nil }, "only the pageview is a product view")
        #expect(records.allSatisfy { $0["dims"] as? String == #"{"visit.1":"Pro"}"# })
        #expect(records[3]["ec_id"] as? String == "A-100" && (records[3]["ec_items"] as? String)?.contains("[email]") == true)
        #expect(records[4]["search"] as? String == "tents" && records[5]["link"] as? String == "https://other.org/x")
        #expect(records[7]["c_i"] as? String == "click" && records[8]["c_n"] as? String == "Banner")
        #expect(Set(records.compactMap { $0["visitor_id"] as? String }).count == 1)
        guard let buffer = FileManager.default.contents(atPath: sandbox.bufferPath + "-wal") ?? FileManager.default.contents(atPath: sandbox.bufferPath) else { return }
        #expect(buffer.range(of: Data("bob@example.org".utf8)) == nil)
    }
}
