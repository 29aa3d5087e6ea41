import NIOCore
import NIOHTTP1
import TrackingInput

/// One request as the edge's listener received it: the head, the whole body (collected up to
/// `max_body_bytes`) and the TCP peer.
struct EdgeRequest: Sendable {
    let head: HTTPRequestHead
    /// nil when the body was larger than the limit (`bodyTooLarge`): it was read and thrown away.
    let body: ByteBuffer?
    let bodyTooLarge: Bool
    /// The TCP peer (a proxy, when the edge sits behind nginx); `ClientAddressResolver` finds the client.
    let peer: IPAddress?

    var method: HTTPMethod { head.method }
    var uri: String { head.uri }

    /// The path of the request target, without its query. (`?` is found among the bytes: a search by
    /// `Character` would break the whole target into grapheme clusters on every request.)
    var path: Substring {
        let uri = head.uri
        return uri.utf8.firstIndex(of: UInt8(ascii: "?")).map { uri[..<$0] } ?? uri[...]
    }

    /// The bytes of the request target's query (after `?`), empty when there is none.
    var query: [UInt8] {
        var uri = head.uri
        return uri.withUTF8 { bytes in
            guard let mark = bytes.firstIndex(of: UInt8(ascii: "?")) else { return [] }
            return Array(bytes[(mark + 1)...])
        }
    }

    /// The value of a header, repeated fields joined as HTTP reads them (RFC 9110 §5.3).
    func header(_ name: String) -> String? {
        let values = head.headers[name]
        return values.isEmpty ? nil : values.joined(separator: ", ")
    }

    /// The body's bytes, or the 413 answer when it was over the limit.
    func collectedBody(limit: Int) throws(RequestRejection) -> [UInt8] {
        if bodyTooLarge {
            if let declared = header("content-length").flatMap(Int.init), declared > limit {
                throw RequestRejection(status: 413, "The request body is \(declared) bytes, more than \(limit); send fewer hits per request.")
            }
            throw RequestRejection(status: 413, "The request body is more than \(limit) bytes; send fewer hits per request.")
        }
        return body.map { Array($0.readableBytesView) } ?? []
    }
}

/// An answer: status, headers and body. `Content-Length` is added when it is written.
struct EdgeResponse: Sendable {
    var status: HTTPResponseStatus
    var headers: HTTPHeaders
    var body: ByteBuffer?

    init(status: HTTPResponseStatus, headers: HTTPHeaders = [:], body: ByteBuffer? = nil) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A plain-text answer of one line.
    static func text(_ message: String, status: HTTPResponseStatus) -> EdgeResponse {
        EdgeResponse(
            status: status, headers: ["Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store"],
            body: ByteBuffer(string: message + "\n"))
    }

    static func json(_ text: String, status: HTTPResponseStatus = .ok, headers extra: HTTPHeaders = [:]) -> EdgeResponse {
        var headers: HTTPHeaders = ["Content-Type": "application/json"]
        headers.add(contentsOf: extra)
        return EdgeResponse(status: status, headers: headers, body: ByteBuffer(string: text))
    }
}

/// Answers a request, once, from any thread: the listener writes the answer on the connection's event loop.
typealias EdgeResponder = @Sendable (EdgeResponse) -> Void

/// The edge's routes. The collection endpoints answer without leaving the event loop until their hits
/// are committed; the rare ones (health, metrics, the site information calls) run as tasks.
struct EdgeRoutes: Sendable {
    let tracking: TrackingController
    let siteInfo: SiteInfoController
    let operations: OperationsController

    func handle(_ request: EdgeRequest, respond: @escaping EdgeResponder) {
        let path = request.path
        switch (path, request.method) {
        case ("/matomo.php", .GET), ("/matomo.php", .POST), ("/piwik.php", .GET), ("/piwik.php", .POST):
            tracking.matomo(request, respond: respond)
        case ("/api/event", .POST):
            tracking.event(request, respond: respond)
        case ("/matomo.php", .OPTIONS), ("/piwik.php", .OPTIONS), ("/api/event", .OPTIONS):
            respond(tracking.preflight(request))
        case ("/", .GET), ("/", .POST), ("/index.php", .GET), ("/index.php", .POST):
            respond(siteInfo.api(request))
        case ("/healthz", .GET):
            Task { respond(await operations.health()) }
        case ("/metrics", .GET):
            Task { respond(await operations.prometheus()) }
        default:
            respond(Self.unrouted(request))
        }
    }

    /// 405 with the methods a known path takes, 404 for any other path.
    static func unrouted(_ request: EdgeRequest) -> EdgeResponse {
        let allowed: String? = switch request.path {
        case "/matomo.php", "/piwik.php": "GET, POST, OPTIONS"
        case "/api/event": "POST, OPTIONS"
        case "/", "/index.php": "GET, POST"
        case "/healthz", "/metrics": "GET"
        default: nil
        }
        guard let allowed else {
            return .text("Nothing is served at \(request.path.prefix(200)); hits go to /matomo.php.", status: .notFound)
        }
        var response = EdgeResponse.text("\(request.path) takes \(allowed), not \(request.method.rawValue).", status: .methodNotAllowed)
        response.headers.replaceOrAdd(name: "Allow", value: allowed)
        return response
    }
}
