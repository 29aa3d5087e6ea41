import Foundation
import NIOCore
import TallyCore
import TrackingInput

/// The few calls of Matomo's Reporting API that tracking clients make before they track: Matomo's log
/// importer (`import_logs.py`) asks for the site it imports into (`SitesManager.getSiteFromId`), for all
/// sites when replaying tracking logs (`SitesManager.getAllSites`) and for the site of a host
/// (`SitesManager.getSitesIdFromSiteUrl`). The edge answers them from its configured sites, only to a
/// caller with a site's tracking token, in Matomo's JSON shapes and error convention
/// (`{"result":"error","message":…}` with status 200). Reports themselves are central's.
struct SiteInfoController: Sendable {
    let sites: [SiteConfig]
    let limits: RequestLimits

    func api(_ request: EdgeRequest) -> EdgeResponse {
        var parameters: QueryParameters
        do throws(RequestRejection) {
            parameters = try QueryParameters.parse(request.query, limits: limits)
            if request.method == .POST {
                parameters.merge(under: try QueryParameters.parse(try request.collectedBody(limit: limits.maxBodyBytes), limits: limits))
            }
        } catch {
            return Self.error(error.reason)
        }
        guard parameters["module"] == "API", let method = parameters["method"] else {
            return Self.error("This is Tally's collector; it answers module=API with a method, for tracking clients.")
        }
        let token = parameters["token_auth"] ?? ""
        let visible = sites.filter { $0.accepts(token: token) }
        guard !visible.isEmpty else {
            return Self.error("You can't access this resource as it requires 'view' access: send a site's tracking token as token_auth.")
        }
        switch method {
        case "SitesManager.getSiteFromId":
            guard let id = parameters["idSite"].flatMap({ Int($0) }), let site = visible.first(where: { $0.id == id }) else {
                return Self.error("The site id \(parameters["idSite"] ?? "(none)") is not a site this token can see on this edge.")
            }
            return Self.json(Self.describe(site))
        case "SitesManager.getAllSites", "SitesManager.getSitesWithAtLeastViewAccess":
            var object: [String: Any] = [:]
            for site in visible { object[String(site.id)] = Self.describe(site) }
            return Self.json(method == "SitesManager.getAllSites" ? object : visible.map(Self.describe))
        case "SitesManager.getSitesIdFromSiteUrl":
            let host = parameters["url"].map { url in
                (WebAddress(url) ?? WebAddress("http://" + url))?.host ?? url.lowercased()
            } ?? ""
            let matching = visible.filter { !$0.domains.isEmpty && $0.allows(host: host) }
            return Self.json(matching.map { ["idsite": $0.id] })
        case "API.getMatomoVersion", "API.getPiwikVersion":
            return Self.json(["value": "5.0.0"])
        default:
            return Self.error("The method \(method) is not answered by Tally's edge; sites are configured in edge.toml, and reports come from tally-central.")
        }
    }

    /// A site as Matomo's SitesManager describes it (the fields tracking clients read).
    static func describe(_ site: SiteConfig) -> [String: Any] {
        [
            "idsite": site.id, "name": site.name, "main_url": site.mainURL ?? "",
            "timezone": site.timeZone.identifier, "sitesearch": site.siteSearch.enabled ? 1 : 0,
            "sitesearch_keyword_parameters": site.siteSearch.keywordParameters.joined(separator: ","),
            "sitesearch_category_parameters": site.siteSearch.categoryParameters.joined(separator: ","),
            "exclude_unknown_urls": site.excludeUnknownURLs ? 1 : 0, "type": "website",
        ]
    }

    static func json(_ value: Any) -> EdgeResponse {
        let data = (try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        return EdgeResponse(status: .ok, headers: ["Content-Type": "application/json"], body: ByteBuffer(bytes: data))
    }

    /// Matomo's error convention: status 200 and a JSON object that says so.
    static func error(_ message: String) -> EdgeResponse {
        json(["result": "error", "message": message])
    }
}
