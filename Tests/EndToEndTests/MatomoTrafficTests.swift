import Crypto
import Foundation
import Testing

/// A day of mixed Matomo traffic through a real edge and a real central, in the requests Matomo's clients
/// send (piwik.js for pageviews, content and ecommerce; MatomoTracker.php's bulk of objects; a crash
/// report), with the reports compared to the counts Matomo's definitions give by hand.
@Suite("A day of mixed Matomo traffic, edge to central", .serialized)
struct MatomoTrafficTests {
    static let token = "traffic-test-token"

    /// The reports of `names` for `day`, by report, label and column.
    static func reports(_ sandbox: ShippingSandbox, _ names: [String], day: String) async throws -> [String: [String: [String: Double]]] {
        let result = try await RobustnessTests.central([
            "report", "-c", sandbox.centralConfig, "--site", "1", "--report", names.joined(separator: ","),
            "--period", "day", "--date", day, "--format", "json",
        ])
        #expect(result.status == 0, "\(result.output)")
        let parsed = try JSONSerialization.jsonObject(with: Data(result.output.utf8))
        let tables = (parsed as? [[String: Any]]) ?? [(parsed as? [String: Any]) ?? [:]]
        var out: [String: [String: [String: Double]]] = [:]
        for table in tables {
            guard let report = table["report"] as? String, let rows = table["rows"] as? [[String: Any]] else { continue }
            for row in rows {
                let label = row["label"] as? String ?? ""
                out[report, default: [:]][label] = row.compactMapValues { ($0 as? NSNumber)?.doubleValue }
            }
        }
        return out
    }

    @Test("Pageviews, content, ecommerce, a crash report, a search URL and a bulk of objects: counted as Matomo counts them; no personal data at rest")
    func mixedDay() async throws {
        let sandbox = try await ShippingSandbox()
        defer { sandbox.remove() }
        // The site's tracking token lets the test place hits on a fixed day (cdt older than 24 hours).
        let tokenHash = SHA256.hash(data: Data(Self.token.utf8)).map { String(format: "%02x", $0) }.joined()
        try (String(contentsOfFile: sandbox.edgeConfig, encoding: .utf8) + "\ntracking_token_sha256 = \"\(tokenHash)\"\n")
            .write(toFile: sandbox.edgeConfig, atomically: true, encoding: .utf8)
        let central = try await sandbox.startCentral("central")
        let edge = try await sandbox.startEdge("edge")

        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let dayStart = calendar.startOfDay(for: Date()).addingTimeInterval(-3 * 86_400)
        let day = ISO8601DateFormatter.string(from: dayStart, timeZone: calendar.timeZone, formatOptions: [.withFullDate])
        func at(_ minutes: Int) -> String { String(Int(dayStart.timeIntervalSince1970) + 36_000 + minutes * 60) }
        let base = "http://127.0.0.1:\(edge.port)/matomo.php?idsite=1&rec=1&token_auth=\(Self.token)&"
        func track(_ visitor: Int, _ minutes: Int, _ query: String) async {
            let response = await RobustnessTests.http(base + "cdt=\(at(minutes))&" + query, headers: ["X-Forwarded-For": "198.51.100.\(visitor)"])
            #expect(response.status == 200, "\(query): \(response.body)")
        }
        let shirtItems = #"[["SKU1","Shirt for bob@example.org","Clothes",25,2]]"#
        let orderItems = #"[["SKU1","Shirt for bob@example.org","Clothes",25,2],["SKU2","Socks",["Clothes","Sale"],"5",1]]"#
        func encoded(_ text: String) -> String { text.addingPercentEncoding(withAllowedCharacters: .alphanumerics)! }

        // Visitor 1: a product page, a banner seen and clicked, a cart, an order whose id carries an e-mail.
        await track(1, 0, "url=https%3A%2F%2Fexample.com%2Fshirt&action_name=Shirt&_pks=SKU1&_pkn=Shirt&_pkc=Clothes&_pkp=25")
        await track(1, 1, "url=https%3A%2F%2Fexample.com%2Fshirt&c_n=Banner&c_p=spring.png&c_t=https%3A%2F%2Fexample.com%2Fsale")
        await track(1, 2, "url=https%3A%2F%2Fexample.com%2Fshirt&c_n=Banner&c_p=spring.png&c_i=click")
        await track(1, 3, "url=https%3A%2F%2Fexample.com%2Fcart&idgoal=0&revenue=50&ec_items=" + encoded(shirtItems))
        await track(1, 5, "url=https%3A%2F%2Fexample.com%2Fthanks&idgoal=0&ec_id=alice%40example.org-100&revenue=55&ec_st=55&ec_items=" + encoded(orderItems))
        // Visitor 2: a search results page (the keyword is in the URL), a crash report, an abandoned cart.
        await track(2, 60, "url=https%3A%2F%2Fexample.com%2Ffind%3Fq%3Dtents%26page%3D1&action_name=Search")
        await track(2, 61, "url=https%3A%2F%2Fexample.com%2Ffind&ca=1&cra=TypeError%3A%20x%20is%20undefined&cra_st=at%20f%20(app.js%3A1%3A2)")
        await track(2, 62, "url=https%3A%2F%2Fexample.com%2Fcart&idgoal=0&revenue=5&ec_items=" + encoded(#"[["SKU2","Socks","Sale",5,1]]"#))
        // Visitor 3: MatomoTracker.php's bulk of objects, with a retry of visitor 1's order, which counts once.
        let bulk = """
            {"requests": [
              {"idsite": 1, "rec": 1, "url": "https://example.com/", "action_name": "Home", "cdt": \(at(120))},
              {"idsite": 1, "rec": 1, "url": "https://example.com/about", "action_name": "About", "cdt": \(at(123))},
              {"idsite": 1, "rec": 1, "url": "https://example.com/thanks", "idgoal": 0, "ec_id": "alice@example.org-100", "revenue": 55, "cdt": \(at(125))}
            ], "token_auth": "\(Self.token)"}
            """
        let answer = await RobustnessTests.http(
            "http://127.0.0.1:\(edge.port)/matomo.php", method: "POST", body: Data(bulk.utf8),
            headers: ["Content-Type": "application/json", "X-Forwarded-For": "198.51.100.3"])
        #expect(answer.body == #"{"status":"success","tracked":3,"invalid":0,"invalid_indices":[]}"#)

        try await sandbox.waitForDrain(count: 11)
        let reports = try await Self.reports(sandbox, ["summary", "ecommerce", "product_names", "contents", "site_search"], day: day)
        let summary = try #require(reports["summary"]?.values.first)
        #expect(summary["visits"] == 3 && summary["pageviews"] == 3, "\(summary)")
        // Actions: visitor 1 a pageview and a content interaction, visitor 2 a site search, visitor 3 two
        // pageviews; the impression, carts, order and crash report are not actions. Visitor 2 bounced.
        #expect(summary["actions"] == 5 && summary["bounce_rate"] == 33.3, "\(summary)")
        #expect(reports["ecommerce"]?.values.first == [
            "orders": 1, "revenue": 55, "avg_order_value": 55, "items": 3, "conversion_rate": 33.3, "abandoned_carts": 1,
        ])
        #expect(reports["product_names"]?["Shirt for [email]"]?["quantity"] == 2)
        #expect(reports["product_names"]?["Shirt"]?["product_views"] == 1)
        #expect(reports["contents"]?["Banner / spring.png"] == ["impressions": 1, "interactions": 1, "interaction_rate": 100, "visits": 1])
        #expect(reports["site_search"]?["tents"]?["searches"] == 1)

        await RobustnessTests.stop(edge, central)
        // At rest: no address, user agent, e-mail address or stack trace in the buffer, the store or the logs.
        var files = [sandbox.edgeBuffer, sandbox.centralStore, sandbox.path + "/edge.log", sandbox.path + "/central.log"]
        files += files.prefix(2).flatMap { [$0 + "-wal"] }
        for file in files {
            guard let data = FileManager.default.contents(atPath: file) else { continue }
            for secret in ["198.51.100.1", "198.51.100.2", "198.51.100.3", "ShipMarker", "bob@example.org", "alice@example.org", "app.js"] {
                #expect(data.range(of: Data(secret.utf8)) == nil, "\(secret) in \(file)")
            }
        }
    }
}
