import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import TallyCore

/// Matomo's Reporting API (`/index.php?module=API&method=Module.action&idSite=&period=&date=&format=
/// &token_auth=`) on central's API listener, answered from the same daily aggregates and with the same
/// tokens, scopes and failure limiter as `/api/v1`, so the tools Matomo users have (dashboards,
/// exporters, scripts) keep working. docs/matomo-reporting-api.md lists every method, parameter and
/// column.
struct MatomoAPIController: Sendable {
    let config: CentralConfig
    let reports: ReportEngine
    let store: any CentralStore
    let limiter: FailureLimiter
    let clock: any TallyClock

    /// The version Tally answers `API.getMatomoVersion` with: the Matomo API generation its answers follow.
    static let matomoVersion = "5.0.0"
    /// Bounds on what one request can ask for.
    static let maxFilterLimit = 10_000
    static let maxBulkRequests = 100
    static let maxPeriods = 366

    func addRoutes(to router: Router<APIRequestContext>) {
        for path in ["/", "/index.php", "/matomo/index.php", "/piwik/index.php"] {
            router.get(RouterPath(path), use: answer)
            router.post(RouterPath(path), use: answer)
        }
    }

    /// A failure answered in Matomo's error convention: status 200 (consumers look at the body) unless
    /// `status` says otherwise.
    struct Failure: Error {
        let message: String
        var status: HTTPResponse.Status = .ok
    }

    @Sendable func answer(_ request: Request, context: APIRequestContext) async throws -> Response {
        // PHP's reading of a query: names and values percent-decoded, + as a space.
        var parameters = Self.form(request.uri.query ?? "")
        if request.method == .post {
            let body = try await request.body.collect(upTo: 1 << 20)
            for (name, value) in Self.form(String(buffer: body)) where parameters[name] == nil { parameters[name] = value }
        }
        let format = MatomoFormat(rawValue: (parameters["format"] ?? "xml").lowercased()) ?? .xml
        let utf16 = parameters["convertToUnicode"] != "0"
        do {
            if parameters["format"].map({ MatomoFormat(rawValue: $0.lowercased()) == nil }) == true {
                throw Failure(message: "The format \(parameters["format"]!) is not supported; use json, xml, csv, tsv or original.")
            }
            let now = clock.now()
            if let seconds = limiter.coolingDown(context.client, now: now) {
                var response = respond(error: "Too many failed authentications; retry in \(seconds) seconds.", format: format, utf16: utf16, status: .tooManyRequests)
                response.headers[.retryAfter] = String(seconds)
                return response
            }
            guard parameters["module"] == "API" else {
                throw Failure(message: "The module \(parameters["module"] ?? "(none)") is not served; Tally answers module=API only.")
            }
            let token = try await authenticate(parameters["token_auth"], client: context.client, now: now)
            let result = try await call(parameters, token: token, depth: 0)
            var response = Response(
                status: .ok, headers: [.contentType: format.contentType, .cacheControl: "no-store"],
                body: .init(byteBuffer: ByteBuffer(data: MatomoRenderer.render(result, format: format, utf16: utf16))))
            if format == .csv || format == .tsv {
                let method = parameters["method"] ?? "export"
                response.headers[.contentDisposition] = "attachment; filename=\"\(method.filter { $0.isLetter || $0.isNumber || $0 == "." }).\(format.rawValue)\""
            }
            return response
        } catch let failure as Failure {
            return respond(error: failure.message, format: format, utf16: utf16, status: failure.status)
        } catch let invalid as ReportPeriod.Invalid {
            return respond(error: invalid.description, format: format, utf16: utf16, status: .ok)
        }
    }

    private func respond(error message: String, format: MatomoFormat, utf16: Bool, status: HTTPResponse.Status) -> Response {
        Response(
            status: status, headers: [.contentType: format.contentType, .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(data: MatomoRenderer.error(message, format: format, utf16: utf16))))
    }

    /// `token_auth` through the same check as the bearer token of `/api/v1`; every failure counts
    /// towards the client's cool-down and gets the same answer.
    private func authenticate(_ token: String?, client: String, now: Date) async throws -> APIToken {
        let rejected = Failure(message: "You can't access this resource as it requires 'view' access: token_auth is missing, unknown, revoked or expired.")
        guard let token, !token.isEmpty, case let .success(valid) = try await store.authenticate(token: token, now: now) else {
            limiter.recordFailure(client, now: now)
            throw rejected
        }
        return valid
    }

    /// The sites a token may read, in id order.
    private func visibleSites(_ token: APIToken) -> [ReportSite] {
        config.sites.filter { token.canRead(site: $0.id) }.sorted { $0.id < $1.id }
    }

    private func call(_ p: [String: String], token: APIToken, depth: Int) async throws -> MatomoResult {
        guard let method = p["method"], !method.isEmpty else {
            throw Failure(message: "Please specify a method, for example method=VisitsSummary.get.")
        }
        if let reason = Self.refused(method) { throw Failure(message: reason) }
        switch method {
        case "API.getMatomoVersion", "API.getPiwikVersion":
            return .value(.text(Self.matomoVersion))
        case "API.getReportMetadata":
            return .table(MatomoMethods.reportMetadata)
        case "API.getBulkRequest":
            guard depth == 0 else { throw Failure(message: "API.getBulkRequest cannot be nested.") }
            return try await bulk(p, token: token)
        case "SitesManager.getSitesWithAtLeastViewAccess", "SitesManager.getAllSites":
            return .table(visibleSites(token).map(describe))
        case "SitesManager.getSitesIdWithAtLeastViewAccess", "SitesManager.getAllSitesId":
            return .list(visibleSites(token).map { .int($0.id) })
        case "SitesManager.getSiteFromId":
            let site = try sites(p["idSite"], token: token, single: true)[0]
            return .row(describe(site))
        case "SegmentEditor.getAll":
            // Tally has no stored segments: reports are filtered by site and period only.
            return .list([])
        case "MultiSites.getAll":
            return try await multiSites(p, token: token)
        case "Goals.getGoals":
            return try await goalList(p, token: token)
        default:
            guard let handler = MatomoMethods.handlers[method] else {
                let module = method.split(separator: ".").first.map(String.init) ?? method
                throw Failure(message: "The method '\(method.split(separator: ".").dropFirst().joined(separator: "."))' does not exist or is not available in the module '\(module)'.")
            }
            let sites = try sites(p["idSite"], token: token, single: false)
            let periods = try periods(p, site: sites[0])
            var bySite: [(String, MatomoResult)] = []
            for site in sites {
                let sitePeriods = site.id == sites[0].id ? periods : try self.periods(p, site: site)
                var byPeriod: [(String, MatomoResult)] = []
                for (key, period) in sitePeriods.list {
                    byPeriod.append((key, try await handler.run(self, site: site, period: period, parameters: p)))
                }
                let result: MatomoResult = sitePeriods.keyed ? .keyed(name: "date", entries: byPeriod.map { (key: $0.0, result: $0.1) }) : byPeriod[0].1
                bySite.append((String(site.id), result))
            }
            return sites.count == 1 && !Self.isMultiSite(p["idSite"]) ? bySite[0].1 : .keyed(name: "idSite", entries: bySite.map { (key: $0.0, result: $0.1) })
        }
    }

    /// Methods Tally does not answer on purpose, with the reason.
    static func refused(_ method: String) -> String? {
        let module = method.split(separator: ".").first.map(String.init) ?? ""
        switch module {
        case "Live":
            return "\(method) is not served: Tally keeps no log of individual visits and no visitor profiles, by design; the aggregated reports (VisitsSummary, Actions, Referrers…) answer instead."
        case "UsersManager", "CoreAdminHome", "Installation", "Login", "TwoFactorAuth":
            return "\(method) is not served: Tally's users and tokens are managed with tally-central token on the server."
        default:
            return nil
        }
    }

    private static func isMultiSite(_ idSite: String?) -> Bool {
        guard let idSite else { return false }
        return idSite == "all" || idSite.contains(",")
    }

    /// `idSite`: one id, a comma-separated list or `all`. A site outside the token's scope is answered
    /// exactly like one that does not exist.
    func sites(_ idSite: String?, token: APIToken, single: Bool) throws -> [ReportSite] {
        guard let idSite, !idSite.isEmpty else { throw Failure(message: "The parameter idSite is required, for example idSite=1.") }
        if idSite == "all" {
            guard !single else { throw Failure(message: "idSite=all names several sites; this method takes one site id.") }
            let visible = visibleSites(token)
            guard !visible.isEmpty else { throw Failure(message: "You can't access this resource as it requires 'view' access for at least one website.") }
            return visible
        }
        let parts = idSite.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        guard !(single && parts.count > 1) else { throw Failure(message: "idSite=\(idSite) names several sites; this method takes one site id.") }
        return try parts.map { text in
            guard let id = Int(text), id > 0 else { throw Failure(message: "idSite=\(text) is not a site id; use a positive whole number, a list or all.") }
            guard let site = config.site(id: id), token.canRead(site: id) else {
                throw Failure(message: "You can't access this resource as it requires 'view' access for the website id = \(id).")
            }
            return site
        }
    }

    /// `period` and `date`: one period, or — for `lastN`, `previousN` or `FROM,TO` with a period other than
    /// `range` — one per day, week, month or year, keyed by Matomo's date labels.
    func periods(_ p: [String: String], site: ReportSite) throws -> (list: [(String, ReportPeriod)], keyed: Bool) {
        let periodText = p["period"] ?? ""
        let dateText = p["date"] ?? ""
        guard !periodText.isEmpty else { throw Failure(message: "The parameter period is required: day, week, month, year or range.") }
        guard !dateText.isEmpty else { throw Failure(message: "The parameter date is required: YYYY-MM-DD, today, yesterday, lastN, previousN or FROM,TO.") }
        guard let kind = ReportPeriod.Kind(rawValue: periodText) else {
            throw Failure(message: "The period '\(periodText)' is not supported. Try any of the following instead: day, week, month, year, range")
        }
        let today = reports.today(site: site)
        var date = dateText
        // Matomo 4.1's keywords: the same day a week, a month or a year ago (the month's last day where
        // the day does not exist in it).
        switch dateText {
        case "lastWeek": date = today.adding(days: -7).description
        case "lastMonth", "lastYear":
            let back = dateText == "lastMonth" ? 1 : 12
            let month = today.monthStart(monthsBack: back)
            date = (LocalDay(year: month.year, month: month.month, day: today.day) ?? month.monthEnd).description
        default: break
        }
        if date.hasPrefix("previous"), let n = Int(date.dropFirst("previous".count)), n > 0 {
            // previousN: the N periods before the current one.
            let current = ReportPeriod.enclosing(kind == .range ? .day : kind, today)
            let end = current.from.adding(days: -1)
            let start = try ReportPeriod.parse(period: kind == .range ? "day" : periodText, date: "last\(n)", today: end)
            date = "\(start.from),\(end)"
        }
        if kind == .range {
            if date.hasPrefix("last"), let n = Int(date.dropFirst(4)), n > 0 {
                return ([("", try ReportPeriod.parse(period: "day", date: "last\(n)", today: today))], false)
            }
            return ([("", try ReportPeriod.parse(period: "range", date: date, today: today))], false)
        }
        guard date.contains(",") || date.hasPrefix("last") else {
            return ([("", try ReportPeriod.parse(period: periodText, date: date, today: today))], false)
        }
        let span = try ReportPeriod.parse(period: periodText, date: date, today: today)
        var list: [(String, ReportPeriod)] = []
        var day = ReportPeriod.enclosing(kind, span.from).from
        while day <= span.to {
            let period = ReportPeriod.enclosing(kind, day)
            list.append((Self.label(period), period))
            guard list.count <= Self.maxPeriods else {
                throw Failure(message: "period=\(periodText)&date=\(dateText) asks for more than \(Self.maxPeriods) periods; ask for fewer.")
            }
            day = period.to.adding(days: 1)
        }
        return (list, true)
    }

    /// Matomo's key for a period in a date-keyed answer.
    static func label(_ period: ReportPeriod) -> String {
        switch period.kind {
        case .day: period.from.description
        case .week, .range: "\(period.from),\(period.to)"
        case .month: String(period.from.description.prefix(7))
        case .year: String(period.from.year)
        }
    }

    /// A site as SitesManager describes it.
    private func describe(_ site: ReportSite) -> MatomoRow {
        MatomoRow(columns: [
            ("idsite", .int(site.id)), ("name", .text(site.name)), ("main_url", .text("")),
            ("timezone", .text(site.timeZone.identifier)), ("currency", .text("USD")), ("type", .text("website")),
        ])
    }

    /// `API.getBulkRequest&urls[0]=…&urls[1]=…`: each entry a URL-encoded query string of its own.
    private func bulk(_ p: [String: String], token: APIToken) async throws -> MatomoResult {
        var entries: [(Int, String)] = []
        for (name, value) in p where name.hasPrefix("urls[") && name.hasSuffix("]") {
            guard let index = Int(name.dropFirst(5).dropLast()) else { continue }
            entries.append((index, value))
        }
        guard !entries.isEmpty else { throw Failure(message: "API.getBulkRequest needs urls[0], urls[1]…, each a URL-encoded query string.") }
        guard entries.count <= Self.maxBulkRequests else {
            throw Failure(message: "API.getBulkRequest takes at most \(Self.maxBulkRequests) requests; this one has \(entries.count).")
        }
        var results: [MatomoResult] = []
        for (_, query) in entries.sorted(by: { $0.0 < $1.0 }) {
            var inner = Self.form(query.hasPrefix("?") ? String(query.dropFirst()) : query)
            inner["module"] = inner["module"] ?? "API"
            do {
                results.append(try await call(inner, token: token, depth: 1))
            } catch let failure as Failure {
                results.append(.row(MatomoRow(columns: [("result", .text("error")), ("message", .text(failure.message))])))
            } catch let invalid as ReportPeriod.Invalid {
                results.append(.row(MatomoRow(columns: [("result", .text("error")), ("message", .text(invalid.description))])))
            }
        }
        return .many(results)
    }

    /// `MultiSites.getAll`: one row per readable site with its visits and actions for the period.
    private func multiSites(_ p: [String: String], token: APIToken) async throws -> MatomoResult {
        let sites = visibleSites(token)
        guard let first = sites.first else { throw Failure(message: "You can't access this resource as it requires 'view' access for at least one website.") }
        let periods = try periods(p, site: first)
        guard !periods.keyed, let period = periods.list.first?.1 else {
            throw Failure(message: "MultiSites.getAll takes one period; use a single date or period=range.")
        }
        var rows: [MatomoRow] = []
        for site in sites {
            let (total, _) = try await MatomoMethods.summaryMetrics(self, site: site, period: period)
            rows.append(MatomoRow(columns: [
                ("label", .text(site.name)), ("nb_visits", .int(total.visits)), ("nb_actions", .int(total.actions)),
                ("nb_pageviews", .int(total.pageviews)), ("idsite", .int(site.id)),
            ]))
        }
        return .table(try MatomoMethods.filtered(rows, p, defaultSort: "nb_visits"))
    }

    /// `Goals.getGoals`: the goals a site has conversions of. Tally's goals are the ids trackers send
    /// (`idgoal`, Matomo's manually triggered goals); there is no goal configuration to name them.
    private func goalList(_ p: [String: String], token: APIToken) async throws -> MatomoResult {
        let site = try sites(p["idSite"], token: token, single: true)[0]
        let always = ReportPeriod(kind: .range, from: LocalDay(year: 1970, month: 1, day: 1)!, to: LocalDay(year: 2199, month: 12, day: 31)!)
        try await reports.refresh(site: site, period: always)
        let ids = try await store.periodRows(site: site.id, report: "goals", from: always.from, to: always.to)
            .compactMap { label, _ in label.hasPrefix("goal ") ? Int(label.dropFirst(5)) : nil }.sorted()
        return .table(ids.map { id in
            MatomoRow(columns: [
                ("idsite", .int(site.id)), ("idgoal", .int(id)), ("name", .text("Goal \(id)")), ("description", .text("")),
                ("match_attribute", .text("manually")), ("pattern", .text("")), ("pattern_type", .text("")),
                ("case_sensitive", .int(0)), ("allow_multiple", .int(1)), ("revenue", .int(0)), ("deleted", .int(0)),
                ("event_value_as_revenue", .int(0)),
            ])
        })
    }

    /// `application/x-www-form-urlencoded` pairs (also the query strings inside a bulk request).
    static func form(_ text: String) -> [String: String] {
        var pairs: [String: String] = [:]
        for part in text.split(separator: "&") where !part.isEmpty {
            let kv = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ s: Substring) -> String { (String(s).replacingOccurrences(of: "+", with: " ").removingPercentEncoding) ?? String(s) }
            pairs[decode(kv[0])] = kv.count > 1 ? decode(kv[1]) : ""
        }
        return pairs
    }
}
