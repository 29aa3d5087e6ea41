import Foundation
import NIOCore
import NIOHTTP1
import TallyCore
import TrackingInput

/// The collection endpoints: Matomo's `/matomo.php` and `/piwik.php` (single and bulk), and Tally's JSON
/// beacon `/api/event`. Every request is bounded (URL, body, parameters, UTF-8) before it is parsed.
/// A class: every request's closures capture it, and capturing a reference is one retain where a
/// copy of the value retained each of its parts.
final class TrackingController: Sendable {
    let ingest: TrackingIngest
    let limits: RequestLimits
    let resolver: ClientAddressResolver
    let clock: any TallyClock
    let sites: [SiteConfig]

    init(ingest: TrackingIngest, limits: RequestLimits, resolver: ClientAddressResolver, clock: any TallyClock, sites: [SiteConfig]) {
        self.ingest = ingest
        self.limits = limits
        self.resolver = resolver
        self.clock = clock
        self.sites = sites
    }

    /// Matomo's 1×1 transparent GIF, byte for byte (core/Tracker/Response.php, `$trans_gif_64`).
    static let transparentGIF: [UInt8] = Array(Data(base64Encoded: "R0lGODlhAQABAIAAAAAAAAAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==") ?? Data())
    static let transparentGIFBuffer = ByteBuffer(bytes: transparentGIF)
    /// Without an `Origin` the CORS answer is `*`; with one, `addCORS` echoes it.
    static let noContentHeaders: HTTPHeaders = ["Cache-Control": "no-store", "Access-Control-Allow-Origin": "*"]
    static let imageHeaders: HTTPHeaders = ["Content-Type": "image/gif", "Cache-Control": "no-store", "Access-Control-Allow-Origin": "*"]

    /// The frame every collection endpoint shares: latency measured, URL length and peer checked, and a
    /// rejection turned into its one-line answer (and counted).
    private func handle(
        _ request: EdgeRequest, _ respond: @escaping EdgeResponder,
        _ body: (IPAddress, @escaping EdgeResponder) throws(RequestRejection) -> Void
    ) {
        let started = ContinuousClock.now
        let metrics = ingest.metrics
        let timed: EdgeResponder = { response in
            metrics.requestDuration.record(ContinuousClock.now - started)
            respond(response)
        }
        do throws(RequestRejection) {
            let length = request.uri.utf8.count
            if length > limits.maxURLBytes {
                throw RequestRejection(status: 414, "The request URL is \(length) bytes, more than \(limits.maxURLBytes); send the hit with POST.")
            }
            guard let peer = request.peer else { throw RequestRejection("The client address is unknown.") }
            try body(peer, timed)
        } catch {
            ingest.countRejection(error.dropReason)
            timed(Self.text(error.reason, status: error.status, request: request))
        }
    }

    func matomo(_ request: EdgeRequest, respond: @escaping EdgeResponder) {
        handle(request, respond) { peer, respond throws(RequestRejection) in
            var parameters = try QueryParameters.parse(request.query, limits: limits)
            if request.method == .POST {
                let body = try request.collectedBody(limit: limits.maxBodyBytes)
                if body.isEmpty, parameters.isEmpty { return respond(Self.introduction(request)) }
                let trimmed = body.drop { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\n") || $0 == UInt8(ascii: "\r") || $0 == UInt8(ascii: "\t") }
                if trimmed.first == UInt8(ascii: "{") {
                    return try bulk(Array(trimmed), query: parameters, request: request, peer: peer, respond: respond)
                }
                parameters.merge(under: try QueryParameters.parse(body, limits: limits))
            } else if parameters.isEmpty {
                return respond(Self.introduction(request))
            }
            let retryAfter = ingest.retryAfterSeconds
            ingest.track(incoming(request, peer: peer, parameters: parameters)) { outcome in
                respond(Self.answer(outcome, request: request, retryAfter: retryAfter))
            }
        }
    }

    /// Matomo's bulk format (`BulkRequest`): the valid entries are tracked, the others counted as invalid.
    /// As in Matomo, the answer names the invalid entries (`invalid_indices`) only to a sender with a
    /// valid token, since they tell which requests the edge accepted.
    private func bulk(
        _ body: [UInt8], query: QueryParameters, request: EdgeRequest, peer: IPAddress, respond: @escaping EdgeResponder
    ) throws(RequestRejection) {
        let decoded = try BulkRequest.parse(body, query: query, limits: limits)
        var incomingRequests: [IncomingRequest] = []
        var trackedIndices: [Int] = []
        var invalidIndices: [Int] = []
        // MatomoTracker.php sends the visitor's user agent with the first of its entries only; the
        // visitor's later entries (same _id) carry it on, so they hash to the same visitor.
        var userAgents: [String: String] = [:]
        for (index, entry) in decoded.entries.enumerated() {
            switch entry {
            case var .success(parameters):
                if let visitor = parameters["_id"] ?? parameters["cid"] {
                    if let ua = parameters["ua"] { userAgents[visitor] = ua } else if let ua = userAgents[visitor] { parameters["ua"] = ua }
                }
                incomingRequests.append(incoming(request, peer: peer, parameters: parameters))
                trackedIndices.append(index)
            case let .failure(rejection):
                ingest.countRejection(rejection.dropReason)
                invalidIndices.append(index)
            }
        }
        let showIndices = decoded.sharedToken.map { token in sites.contains { $0.accepts(token: token) } } ?? false
        let (entryCount, wantsSummary, retryAfter) = (decoded.entries.count, decoded.wantsSummary, ingest.retryAfterSeconds)
        ingest.trackBulk(incomingRequests) { [invalidIndices, trackedIndices] outcomes, failure in
            if let failure { return respond(Self.answer(failure, request: request, retryAfter: retryAfter)) }
            var invalid = invalidIndices
            for (index, outcome) in zip(trackedIndices, outcomes) {
                if case .rejected = outcome { invalid.append(index) }
            }
            invalid.sort()
            guard wantsSummary else {
                var response = EdgeResponse(status: .noContent, headers: Self.noContentHeaders)
                Self.addCORS(&response, request: request)
                return respond(response)
            }
            var json = "{\"status\":\"success\",\"tracked\":\(entryCount - invalid.count),\"invalid\":\(invalid.count)"
            if showIndices {
                json += ",\"invalid_indices\":[" + invalid.map(String.init).joined(separator: ",") + "]"
            }
            json += "}"
            var response = EdgeResponse.json(json)
            Self.addCORS(&response, request: request)
            respond(response)
        }
    }

    /// A request without any parameter is someone looking at the endpoint, not a hit: Matomo answers it
    /// with a line of text, and so does the edge (monitors and load balancers probe it this way).
    private static func introduction(_ request: EdgeRequest) -> EdgeResponse {
        var response = EdgeResponse(
            status: .ok, headers: ["Content-Type": "text/plain; charset=utf-8"],
            body: ByteBuffer(string: "This is Tally's collector for the Matomo tracking API. Send hits with idsite and rec=1.\n"))
        addCORS(&response, request: request)
        return response
    }

    /// Tally's own beacon: `{"site":1,"url":"…","referrer":"…","kind":"pageview"|"event",…}`.
    func event(_ request: EdgeRequest, respond: @escaping EdgeResponder) {
        handle(request, respond) { peer, respond throws(RequestRejection) in
            let body = try request.collectedBody(limit: limits.maxBodyBytes)
            let parameters = try EventBeacon.parameters(body: body, limits: limits)
            let retryAfter = ingest.retryAfterSeconds
            ingest.track(incoming(request, peer: peer, parameters: parameters)) { outcome in
                switch outcome {
                case .stored, .dropped:
                    var response = EdgeResponse(status: .accepted)
                    Self.addCORS(&response, request: request)
                    respond(response)
                default:
                    respond(Self.answer(outcome, request: request, retryAfter: retryAfter))
                }
            }
        }
    }

    func preflight(_ request: EdgeRequest) -> EdgeResponse {
        var response = EdgeResponse(status: .noContent)
        Self.addCORS(&response, request: request)
        response.headers.add(name: "Access-Control-Allow-Methods", value: "GET, POST, OPTIONS")
        response.headers.add(name: "Access-Control-Allow-Headers", value: "Content-Type")
        response.headers.add(name: "Access-Control-Max-Age", value: "86400")
        return response
    }

    private func incoming(_ request: EdgeRequest, peer: IPAddress, parameters: QueryParameters) -> IncomingRequest {
        let headers = RequestHeaders(request.head.headers)
        let client = resolver.resolve(peer: peer, forwardedFor: headers.forwardedFor, forwarded: headers.forwarded)
        return IncomingRequest(
            clientIP: client,
            userAgent: parameters["ua"].map { QueryParameters.unwrappingBytesLiteral($0) ?? $0 } ?? headers.userAgent ?? "",
            acceptLanguage: headers.acceptLanguage,
            headers: headers.signals,
            cookies: headers.cookie.map(IncomingRequest.parseCookies) ?? [:],
            parameters: parameters,
            receivedAt: clock.now())
    }

    /// The request headers the pipeline reads, gathered in one pass over the fields (a lookup by name
    /// compares every field's name each time).
    struct RequestHeaders {
        var userAgent: String?
        var acceptLanguage: String?
        var forwardedFor: String?
        var forwarded: String?
        var cookie: String?
        /// The privacy and prefetch signals, by lower-case name, trimmed.
        var signals: [String: String] = [:]

        init(_ fields: HTTPHeaders) {
            for (name, value) in fields {
                switch name.lowercased() {
                case "user-agent": Self.add(value, to: &userAgent, separator: ", ")
                case "accept-language": Self.add(value, to: &acceptLanguage, separator: ", ")
                case "x-forwarded-for": Self.add(value, to: &forwardedFor, separator: ", ")
                case "forwarded": Self.add(value, to: &forwarded, separator: ", ")
                case "cookie": Self.add(value, to: &cookie, separator: "; ")
                case let name where TrackingController.signalHeaders.contains(name) || name.hasPrefix("sec-ch-ua"):
                    var existing = signals[name]
                    Self.add(value, to: &existing, separator: ", ")
                    signals[name] = existing.map { String($0.trimmingBlanks()) }
                default: break
                }
            }
        }

        /// A repeated field's values joined, as HTTP reads them (RFC 9110 §5.3; cookies with "; ").
        private static func add(_ value: String, to existing: inout String?, separator: String) {
            existing = existing.map { $0 + separator + value } ?? value
        }
    }

    /// The privacy and prefetch signals the pipeline reads, by lower-case name (and the `Sec-CH-UA*`
    /// client hints, by prefix).
    static let signalHeaders: Set<String> = ["dnt", "x-do-not-track", "sec-gpc", "purpose", "sec-purpose", "x-purpose", "x-moz"]

    private static func answer(_ outcome: TrackingIngest.Outcome, request: EdgeRequest, retryAfter: Int) -> EdgeResponse {
        switch outcome {
        case let .stored(sendImage), let .dropped(_, sendImage):
            // The answer to almost every request: its headers and body are built once and shared.
            var response = sendImage
                ? EdgeResponse(status: .ok, headers: imageHeaders, body: transparentGIFBuffer)
                : EdgeResponse(status: .noContent, headers: noContentHeaders)
            if let origin = request.header("origin") { echo(origin: origin, into: &response) }
            return response
        case let .rejected(rejection):
            return text(rejection.reason, status: rejection.status, request: request)
        case .bufferFull:
            var response = text("The edge's buffer is full; retry later.", status: 503, request: request)
            response.headers.add(name: "Retry-After", value: String(retryAfter))
            return response
        case .unavailable:
            return text("The edge cannot store hits now; retry later.", status: 503, request: request)
        }
    }

    private static func text(_ message: String, status: Int, request: EdgeRequest) -> EdgeResponse {
        var response = EdgeResponse.text(message, status: HTTPResponseStatus(statusCode: status))
        addCORS(&response, request: request)
        return response
    }

    /// Browsers POST hits cross-origin with credentials (the opt-out and consent cookies), so the origin is
    /// echoed rather than `*`, which credentialed requests may not use (Fetch standard, CORS protocol).
    private static func addCORS(_ response: inout EdgeResponse, request: EdgeRequest) {
        if let origin = request.header("origin") {
            echo(origin: origin, into: &response)
        } else {
            response.headers.replaceOrAdd(name: "Access-Control-Allow-Origin", value: "*")
        }
    }

    private static func echo(origin: String, into response: inout EdgeResponse) {
        response.headers.replaceOrAdd(name: "Access-Control-Allow-Origin", value: origin)
        response.headers.add(name: "Access-Control-Allow-Credentials", value: "true")
        response.headers.add(name: "Vary", value: "Origin")
    }
}
