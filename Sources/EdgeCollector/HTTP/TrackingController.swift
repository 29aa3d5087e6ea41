import TrackingInput
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import TallyCore

/// The collection endpoints: Matomo's `/matomo.php` and `/piwik.php` (single and bulk), and Tally's JSON
/// beacon `/api/event`. Every request is bounded (URL, body, parameters, UTF-8) before it is parsed.
struct TrackingController: Sendable {
    let ingest: TrackingIngest
    let limits: RequestLimits
    let resolver: ClientAddressResolver
    let clock: any TallyClock
    let sites: [SiteConfig]

    /// Matomo's 1×1 transparent GIF, byte for byte (core/Tracker/Response.php, `$trans_gif_64`).
    static let transparentGIF: [UInt8] = Array(Data(base64Encoded: "R0lGODlhAQABAIAAAAAAAAAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==") ?? Data())
    static let transparentGIFBuffer = ByteBuffer(bytes: transparentGIF)
    /// Without an `Origin` the CORS answer is `*`; with one, `addCORS` echoes it.
    static let noContentHeaders: HTTPFields = [.cacheControl: "no-store", .accessControlAllowOrigin: "*"]
    static let imageHeaders: HTTPFields = [.contentType: "image/gif", .cacheControl: "no-store", .accessControlAllowOrigin: "*"]

    func addRoutes(to router: Router<EdgeRequestContext>) {
        for path in ["/matomo.php", "/piwik.php"] {
            router.get(RouterPath(path), use: matomo)
            router.post(RouterPath(path), use: matomo)
            router.on(RouterPath(path), method: .options, use: preflight)
        }
        router.post("/api/event", use: event)
        router.on("/api/event", method: .options, use: preflight)
    }

    /// The frame every collection endpoint shares: latency measured, URL length and peer checked, and a
    /// rejection turned into its one-line answer (and counted).
    private func handle(
        _ request: Request, _ context: EdgeRequestContext, _ body: (IPAddress) async throws -> Response
    ) async throws -> Response {
        let started = ContinuousClock.now
        defer { ingest.metrics.requestDuration.record(ContinuousClock.now - started) }
        do {
            let length = request.uri.string.utf8.count
            if length > limits.maxURLBytes {
                throw RequestRejection(status: 414, "The request URL is \(length) bytes, more than \(limits.maxURLBytes); send the hit with POST.")
            }
            guard let peer = context.peerAddress else { throw RequestRejection("The client address is unknown.") }
            return try await body(peer)
        } catch let rejection as RequestRejection {
            ingest.countRejection(rejection.dropReason)
            return text(rejection.reason, status: rejection.status, request: request)
        }
    }

    @Sendable func matomo(_ request: Request, context: EdgeRequestContext) async throws -> Response {
        try await handle(request, context) { peer in
            var parameters = try QueryParameters.parse(Array((request.uri.query ?? "").utf8), limits: limits)
            if request.method == .post {
                let body = try await collectBody(request)
                if body.isEmpty, parameters.isEmpty { return introduction(request) }
                let trimmed = body.drop { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\n") || $0 == UInt8(ascii: "\r") || $0 == UInt8(ascii: "\t") }
                if trimmed.first == UInt8(ascii: "{") {
                    return try await bulk(Array(trimmed), query: parameters, request: request, peer: peer)
                }
                parameters.merge(under: try QueryParameters.parse(body, limits: limits))
            } else if parameters.isEmpty {
                return introduction(request)
            }
            let outcome = await ingest.track(incoming(request, peer: peer, parameters: parameters))
            return respond(outcome, request: request)
        }
    }

    /// Matomo's bulk format (`BulkRequest`): the valid entries are tracked, the others counted as invalid.
    /// As in Matomo, the answer names the invalid entries (`invalid_indices`) only to a sender with a
    /// valid token, since they tell which requests the edge accepted.
    private func bulk(_ body: [UInt8], query: QueryParameters, request: Request, peer: IPAddress) async throws -> Response {
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
        let (outcomes, failure) = await ingest.trackBulk(incomingRequests)
        if let failure { return respond(failure, request: request) }
        for (index, outcome) in zip(trackedIndices, outcomes) {
            if case .rejected = outcome { invalidIndices.append(index) }
        }
        invalidIndices.sort()
        guard decoded.wantsSummary else {
            var response = Response(status: .noContent, headers: Self.noContentHeaders)
            addCORS(&response, request: request)
            return response
        }
        let tracked = decoded.entries.count - invalidIndices.count
        var json = "{\"status\":\"success\",\"tracked\":\(tracked),\"invalid\":\(invalidIndices.count)"
        if let token = decoded.sharedToken, sites.contains(where: { $0.accepts(token: token) }) {
            json += ",\"invalid_indices\":[" + invalidIndices.map(String.init).joined(separator: ",") + "]"
        }
        json += "}"
        var response = Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: json)))
        addCORS(&response, request: request)
        return response
    }

    /// A request without any parameter is someone looking at the endpoint, not a hit: Matomo answers it
    /// with a line of text, and so does the edge (monitors and load balancers probe it this way).
    private func introduction(_ request: Request) -> Response {
        let text = "This is Tally's collector for the Matomo tracking API. Send hits with idsite and rec=1.\n"
        var response = Response(status: .ok, headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: text)))
        addCORS(&response, request: request)
        return response
    }

    /// Tally's own beacon: `{"site":1,"url":"…","referrer":"…","kind":"pageview"|"event",…}`.
    @Sendable func event(_ request: Request, context: EdgeRequestContext) async throws -> Response {
        try await handle(request, context) { peer in
            let body = try await collectBody(request)
            let parameters = try EventBeacon.parameters(body: body, limits: limits)
            let outcome = await ingest.track(incoming(request, peer: peer, parameters: parameters))
            switch outcome {
            case .stored, .dropped:
                var response = Response(status: .accepted)
                addCORS(&response, request: request)
                return response
            default:
                return respond(outcome, request: request)
            }
        }
    }

    @Sendable func preflight(_ request: Request, context: EdgeRequestContext) async throws -> Response {
        var response = Response(status: .noContent)
        addCORS(&response, request: request)
        response.headers[.accessControlAllowMethods] = "GET, POST, OPTIONS"
        response.headers[.accessControlAllowHeaders] = "Content-Type"
        response.headers[.accessControlMaxAge] = "86400"
        return response
    }

    private func collectBody(_ request: Request) async throws -> [UInt8] {
        if let declared = request.headers[.contentLength].flatMap(Int.init), declared > limits.maxBodyBytes {
            throw RequestRejection(status: 413, "The request body is \(declared) bytes, more than \(limits.maxBodyBytes); send fewer hits per request.")
        }
        do {
            let buffer = try await request.body.collect(upTo: limits.maxBodyBytes)
            return Array(buffer.readableBytesView)
        } catch is NIOTooManyBytesError {
            throw RequestRejection(status: 413, "The request body is more than \(limits.maxBodyBytes) bytes; send fewer hits per request.")
        }
    }

    private func incoming(_ request: Request, peer: IPAddress, parameters: QueryParameters) -> IncomingRequest {
        let headers = RequestHeaders(request.headers)
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

    /// The request headers the pipeline reads, gathered in one pass over the fields. (Looking each one up
    /// by name scans the fields every time and joins the values of each into a new string.)
    struct RequestHeaders {
        var userAgent: String?
        var acceptLanguage: String?
        var forwardedFor: String?
        var forwarded: String?
        var cookie: String?
        /// The privacy and prefetch signals, by lower-case name, trimmed.
        var signals: [String: String] = [:]

        init(_ fields: HTTPFields) {
            for field in fields {
                switch field.name.canonicalName {
                case "user-agent": Self.add(field.value, to: &userAgent, separator: ", ")
                case "accept-language": Self.add(field.value, to: &acceptLanguage, separator: ", ")
                case "x-forwarded-for": Self.add(field.value, to: &forwardedFor, separator: ", ")
                case "forwarded": Self.add(field.value, to: &forwarded, separator: ", ")
                case "cookie": Self.add(field.value, to: &cookie, separator: "; ")
                case let name where TrackingController.signalHeaders.contains(name) || name.hasPrefix("sec-ch-ua"):
                    var value = signals[name]
                    Self.add(field.value, to: &value, separator: ", ")
                    signals[name] = value.map { String($0.trimmingBlanks()) }
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

    private func respond(_ outcome: TrackingIngest.Outcome, request: Request) -> Response {
        switch outcome {
        case let .stored(sendImage), let .dropped(_, sendImage):
            // The answer to almost every request: its headers and body are built once and shared.
            var response = sendImage
                ? Response(status: .ok, headers: Self.imageHeaders, body: .init(byteBuffer: Self.transparentGIFBuffer))
                : Response(status: .noContent, headers: Self.noContentHeaders)
            if let origin = request.headers[.origin] { Self.echo(origin: origin, into: &response) }
            return response
        case let .rejected(rejection):
            return text(rejection.reason, status: rejection.status, request: request)
        case .bufferFull:
            var response = text("The edge's buffer is full; retry later.", status: 503, request: request)
            response.headers[.retryAfter] = String(ingest.retryAfterSeconds)
            return response
        case .unavailable:
            return text("The edge cannot store hits now; retry later.", status: 503, request: request)
        }
    }

    private func text(_ message: String, status: Int, request: Request) -> Response {
        var response = Response(
            status: .init(code: status), headers: [.contentType: "text/plain; charset=utf-8", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(string: message + "\n")))
        addCORS(&response, request: request)
        return response
    }

    /// Browsers POST hits cross-origin with credentials (the opt-out and consent cookies), so the origin is
    /// echoed rather than `*`, which credentialed requests may not use (Fetch standard, CORS protocol).
    private func addCORS(_ response: inout Response, request: Request) {
        if let origin = request.headers[.origin] {
            Self.echo(origin: origin, into: &response)
        } else {
            response.headers[.accessControlAllowOrigin] = "*"
        }
    }

    private static func echo(origin: String, into response: inout Response) {
        response.headers[.accessControlAllowOrigin] = origin
        response.headers[.accessControlAllowCredentials] = "true"
        response.headers[.vary] = "Origin"
    }
}


