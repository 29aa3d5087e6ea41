import Foundation

/// Matomo's bulk format: `{"requests": ["?idsite=1&rec=1&…", …], "token_auth": "…"}`.
///
/// Each entry is parsed on its own: one malformed entry is counted as invalid and the others are still
/// tracked, as Matomo does. A `token_auth` on the body (or else on the request's query string) applies to
/// every entry that carries none of its own.
public struct BulkRequest: Sendable {
    /// One result per entry, in the order sent.
    public var entries: [Result<QueryParameters, RequestRejection>]

    /// Reads a body that starts with `{`; `query` is the request's own query string.
    public static func parse(_ body: [UInt8], query: QueryParameters, limits: RequestLimits) throws(RequestRejection) -> BulkRequest {
        struct Body: Decodable {
            var requests: [String]
            var token_auth: String?
        }
        let decoded: Body
        do {
            decoded = try JSONDecoder().decode(Body.self, from: Data(body))
        } catch {
            throw RequestRejection("The bulk request is not JSON of the form {\"requests\": [\"?idsite=1&rec=1&…\"]}.")
        }
        guard decoded.requests.count <= limits.maxBulkRequests else {
            throw RequestRejection("The bulk request holds \(decoded.requests.count) requests, more than \(limits.maxBulkRequests); split it.")
        }
        let sharedToken = decoded.token_auth ?? query["token_auth"]
        if let sharedToken, sharedToken.utf8.count > limits.maxValueBytes {
            throw RequestRejection("The bulk request's token_auth is longer than \(limits.maxValueBytes) bytes; send the site's tracking token.")
        }
        let entries = decoded.requests.map { entry -> Result<QueryParameters, RequestRejection> in
            let entryQuery = entry.firstIndex(of: "?").map { entry[entry.index(after: $0)...] } ?? entry[...]
            do throws(RequestRejection) {
                var parameters = try QueryParameters.parse(Array(entryQuery.utf8), limits: limits)
                if parameters["token_auth"] == nil, let sharedToken { parameters["token_auth"] = sharedToken }
                return .success(parameters)
            } catch {
                return .failure(error)
            }
        }
        return BulkRequest(entries: entries)
    }
}
