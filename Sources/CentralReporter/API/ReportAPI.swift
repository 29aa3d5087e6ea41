import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import TallyCore

/// Request context of the reporting API: the client's address, and — once the middleware has checked
/// the bearer token — the token it authenticated with.
public struct APIRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    let client: String
    var token: APIToken?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        client = source.channel.remoteAddress?.ipAddress ?? "unknown"
    }
}

/// `Authorization: Bearer <token>` on every API request. Every failure gets the same 401, so a client
/// learns nothing about which tokens exist; too many failures from one client get 429 for a cool-down.
struct TokenAuthentication: RouterMiddleware {
    typealias Context = APIRequestContext
    let store: any CentralStore
    let limiter: FailureLimiter
    let clock: any TallyClock

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let now = clock.now()
        if let seconds = limiter.coolingDown(context.client, now: now) {
            var response = plain("Too many failed authentications; retry later.", .tooManyRequests)
            response.headers[.retryAfter] = String(seconds)
            return response
        }
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer ") else { return fail(context, now) }
        guard case let .success(token) = try await store.authenticate(token: String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces), now: now) else {
            return fail(context, now)
        }
        var context = context
        context.token = token
        return try await next(request, context)
    }

    private func fail(_ context: Context, _ now: Date) -> Response {
        limiter.recordFailure(context.client, now: now)
        var response = plain("Authentication required.", .unauthorized)
        response.headers[.wwwAuthenticate] = "Bearer"
        return response
    }
}

func plain(_ message: String, _ status: HTTPResponse.Status) -> Response {
    Response(status: status, headers: [.contentType: "text/plain; charset=utf-8", .cacheControl: "no-store"],
             body: .init(byteBuffer: ByteBuffer(string: message + "\n")))
}

/// `GET /api/v1/sites` and `GET /api/v1/reports/{report}?site=&period=&date=&format=&limit=`.
struct ReportAPIController: Sendable {
    let config: CentralConfig
    let reports: ReportEngine

    func addRoutes(to group: RouterGroup<APIRequestContext>) {
        group.get("sites", use: sites)
        group.get("reports/:report", use: report)
    }

    @Sendable func sites(_ request: Request, context: APIRequestContext) async throws -> Response {
        let visible = config.sites.filter { context.token?.canRead(site: $0.id) == true }
        let json = "[" + visible.map { site in
            "{\"id\":\(site.id),\"name\":\(JSONRenderer.quote(site.name)),\"time_zone\":\(JSONRenderer.quote(site.timeZone.identifier))}"
        }.joined(separator: ",") + "]\n"
        return Response(status: .ok, headers: [.contentType: "application/json", .cacheControl: "no-store"], body: .init(byteBuffer: ByteBuffer(string: json)))
    }

    @Sendable func report(_ request: Request, context: APIRequestContext) async throws -> Response {
        let query = request.uri.queryParameters
        let reportID = context.parameters.get("report") ?? ""
        guard let definition = ReportDefinition.named(reportID) else {
            return plain("Report \(reportID) does not exist; see GET /api/v1/reports/… in docs/api.md.", .notFound)
        }
        guard let siteText = query["site"].map(String.init), let siteID = Int(siteText) else {
            return plain("site is required: add ?site=<site id>.", .badRequest)
        }
        // A site outside the token's scope is answered exactly like a site that does not exist.
        guard let site = config.site(id: siteID), context.token?.canRead(site: siteID) == true else {
            return plain("Site \(siteID) not found.", .notFound)
        }
        let formatText = query["format"].map(String.init) ?? "json"
        guard let format = ReportFormat(rawValue: formatText) else {
            return plain("format \(formatText) is not known; use text, csv or json.", .badRequest)
        }
        let limitText = query["limit"].map(String.init) ?? "100"
        guard let limit = Int(limitText), (1...10_000).contains(limit) else {
            return plain("limit \(limitText) is not a number from 1 to 10000.", .badRequest)
        }
        let period: ReportPeriod
        do {
            period = try ReportPeriod.parse(
                period: query["period"].map(String.init) ?? "day", date: query["date"].map(String.init) ?? "today",
                today: reports.today(site: site))
        } catch {
            return plain(error.description, .badRequest)
        }
        let table = try await reports.report(definition, site: site, period: period, limit: limit)
        var response = Response(status: .ok, headers: [.contentType: format.contentType, .cacheControl: "no-store"],
                                body: .init(byteBuffer: ByteBuffer(string: format.render(table))))
        if format == .csv {
            response.headers[.contentDisposition] = "attachment; filename=\"\(definition.id.rawValue)-\(site.id)-\(period.from)-\(period.to).csv\""
        }
        return response
    }
}
