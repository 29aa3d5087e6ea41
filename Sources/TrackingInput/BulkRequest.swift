import Foundation
import TallyCore

/// Matomo's bulk format: `{"requests": [entry, …], "token_auth": "…"}`, each entry either a query string
/// (`"?idsite=1&rec=1&…"`, what the JavaScript tracker sends) or an object of parameters
/// (`{"idsite": 1, "rec": 1, …}`, what the log importer sends).
///
/// Each entry is parsed on its own, under the rules of a single request: one malformed entry is counted
/// as invalid and the others are still tracked, as Matomo does. A `token_auth` on the body (or else on
/// the request's query string) applies to every entry that carries none of its own. The number of entries
/// is bounded by the body size; `max_bulk_requests` caps it further where an operator wants.
public struct BulkRequest: Sendable {
    /// One result per entry, in the order sent.
    public var entries: [Result<QueryParameters, RequestRejection>]
    /// The token the body or the query string carried for all entries.
    public var sharedToken: String?
    /// `"send_image": 0` in the body (the JavaScript tracker sends it): answer 204 without the JSON
    /// summary, as Matomo's BulkTracking does.
    public var wantsSummary = true

    /// Reads a body that starts with `{`; `query` is the request's own query string.
    public static func parse(_ body: [UInt8], query: QueryParameters, limits: RequestLimits) throws(RequestRejection) -> BulkRequest {
        struct Body: Decodable {
            var requests: [JSONValue]
            var token_auth: String?
            var send_image: JSONValue?
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
            do throws(RequestRejection) {
                var parameters = try QueryParameters.parse(entry.queryBytes(), limits: limits)
                if parameters["token_auth"] == nil, let sharedToken { parameters["token_auth"] = sharedToken }
                return .success(parameters)
            } catch {
                return .failure(error)
            }
        }
        let sendImage = decoded.send_image?.parameterText
        return BulkRequest(entries: entries, sharedToken: sharedToken, wantsSummary: sendImage != "0" && sendImage != "")
    }
}

/// Any JSON value, for bulk entries given as objects.
enum JSONValue: Decodable, Sendable {
    case string(String)
    case integer(Int64)
    case number(Double)
    case bool(Bool)
    case null
    case array([JSONValue])
    case object([(String, JSONValue)])

    private struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    init(from decoder: any Decoder) throws {
        if let object = try? decoder.container(keyedBy: Key.self) {
            self = .object(try object.allKeys.map { ($0.stringValue, try object.decode(JSONValue.self, forKey: $0)) })
            return
        }
        if var array = try? decoder.unkeyedContainer() {
            var elements: [JSONValue] = []
            while !array.isAtEnd { elements.append(try array.decode(JSONValue.self)) }
            self = .array(elements)
            return
        }
        let single = try decoder.singleValueContainer()
        if single.decodeNil() {
            self = .null
        } else if let value = try? single.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? single.decode(Int64.self) {
            self = .integer(value)
        } else if let value = try? single.decode(Double.self) {
            self = .number(value)
        } else {
            self = .string(try single.decode(String.self))
        }
    }

    /// The entry as the bytes of a query string: a string entry as written (after its `?`), an object's
    /// members form-encoded (numbers as written, booleans as 1 and 0, nested values as JSON text).
    func queryBytes() -> [UInt8] {
        switch self {
        case let .string(text):
            let query = text.firstIndex(of: "?").map { text[text.index(after: $0)...] } ?? text[...]
            return Array(query.utf8)
        case let .object(members):
            var out: [UInt8] = []
            for (name, value) in members {
                guard let text = value.parameterText else { continue }
                if !out.isEmpty { out.append(UInt8(ascii: "&")) }
                out += Self.formEncoded(name) + [UInt8(ascii: "=")] + Self.formEncoded(text)
            }
            return out
        default:
            // Not an entry Matomo knows: an empty query, which the pipeline refuses for lack of idsite.
            return []
        }
    }

    /// A member's value as a parameter; `nil` for `null` (the parameter is absent).
    var parameterText: String? {
        switch self {
        case let .string(text): text
        case let .integer(value): String(value)
        case let .number(value): value.isFinite && value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
        case let .bool(value): value ? "1" : "0"
        case .null: nil
        case .array, .object: jsonText
        }
    }

    var jsonText: String {
        switch self {
        case let .string(text): Self.quoted(text)
        case .null: "null"
        case let .array(elements): "[" + elements.map(\.jsonText).joined(separator: ",") + "]"
        case let .object(members): "{" + members.map { Self.quoted($0.0) + ":" + $0.1.jsonText }.joined(separator: ",") + "}"
        default: parameterText ?? "null"
        }
    }

    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    private static func formEncoded(_ text: String) -> [UInt8] {
        var out: [UInt8] = []
        for byte in text.utf8 {
            if ASCII.isAlphanumeric(byte) || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "~") {
                out.append(byte)
            } else {
                let hex = Array("0123456789ABCDEF".utf8)
                out += [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 0xF)]]
            }
        }
        return out
    }
}
