import Foundation
import GRDB
import Testing

/// Requests a real tracking client sent, captured once by a recording proxy (Fixtures/*/README.md), and
/// what the edge stored from them.
struct CapturedRequest: Decodable {
    var method: String
    var path: String
    var content_type: String?
    var user_agent: String?
    var origin: String?
    var body: String

    /// The requests of `Fixtures/<fixture>/requests.jsonl`, in the order they were sent.
    static func load(_ fixture: String) throws -> [CapturedRequest] {
        let file = EdgeProcess.packageRoot.appendingPathComponent("Tests/EndToEndTests/Fixtures/\(fixture)/requests.jsonl")
        return try String(contentsOf: file, encoding: .utf8).split(separator: "\n").map {
            try JSONDecoder().decode(CapturedRequest.self, from: Data($0.utf8))
        }
    }

    /// Sends the request, byte for byte, to an edge on `port`, with its captured headers (`userAgent`
    /// replaces the captured User-Agent where given).
    func send(to port: Int, userAgent: String? = nil) async -> (status: Int?, body: String) {
        var headers = ["Content-Type": content_type ?? ""]
        headers["User-Agent"] = userAgent ?? user_agent
        headers["Origin"] = origin
        return await RobustnessTests.http("http://127.0.0.1:\(port)\(path)", method: method, body: Data(body.utf8), headers: headers)
    }

    /// The records an edge buffer holds, in the order they were stored, as JSON objects.
    static func bufferedRecords(_ path: String) async throws -> [[String: Any]] {
        let payloads = try await DatabaseQueue(path: path).read { db in try Data.fetchAll(db, sql: "SELECT payload FROM hits ORDER BY rowid") }
        return try payloads.map { try JSONSerialization.jsonObject(with: $0) as? [String: Any] ?? [:] }
    }
}
