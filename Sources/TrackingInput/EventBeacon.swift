import Foundation

/// Tally's own JSON beacon for `POST /api/event`, translated into the Matomo parameters the pipeline
/// reads, so both endpoints share one set of rules.
public struct EventBeacon: Decodable, Sendable {
    var site: Int
    var url: String
    var referrer: String?
    var kind: String?
    var title: String?
    var category: String?
    var action: String?
    var name: String?
    var value: Double?
    var resolution: String?
    var language: String?
    var consent: Bool?

    /// Reads a request body: the beacon's parameters, or the rejection the client sees.
    public static func parameters(body: [UInt8], limits: RequestLimits) throws(RequestRejection) -> QueryParameters {
        let beacon: EventBeacon
        do {
            beacon = try JSONDecoder().decode(EventBeacon.self, from: Data(body))
        } catch {
            throw RequestRejection("The event body is not JSON of the form {\"site\":1,\"url\":\"https://…\",\"kind\":\"pageview\"}.")
        }
        return try beacon.parameters(limits: limits)
    }

    func parameters(limits: RequestLimits) throws(RequestRejection) -> QueryParameters {
        var p = QueryParameters(["idsite": String(site), "rec": "1", "url": url])
        p["urlref"] = referrer
        p["action_name"] = title
        p["res"] = resolution
        p["lang"] = language
        if consent == true { p["consent"] = "1" }
        switch kind ?? "pageview" {
        case "pageview":
            break
        case "event":
            guard let category, let action else {
                throw RequestRejection("An event needs \"category\" and \"action\".")
            }
            p["e_c"] = category
            p["e_a"] = action
            p["e_n"] = name
            p["e_v"] = value.map { String($0) }
        case let other:
            throw RequestRejection("kind \"\(other)\" is not known; use \"pageview\" or \"event\".")
        }
        p.truncateValues(toBytes: limits.maxValueBytes)
        return p
    }
}
