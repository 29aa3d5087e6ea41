import Foundation
import TallyCore

/// Realistic anonymised records as an edge ships them: visitors with one to three visits a day, each visit
/// a run of pageviews with events, searches, outlinks, downloads, goals and pings, arriving from a mix of
/// referrers, campaigns, countries, browsers and devices. Days are UTC days.
struct SyntheticHits {
    var random: SeededGenerator

    static let sections = ["blog", "docs", "pricing", "about", "products", "support", "news", "careers"]
    static let referrers: [(ReferrerType, String?)] = [
        (.direct, nil), (.direct, nil), (.direct, nil), (.searchEngine, "Google"), (.searchEngine, "Google"),
        (.searchEngine, "Bing"), (.searchEngine, "DuckDuckGo"), (.social, "Reddit"), (.social, "Mastodon"),
        (.website, "news.ycombinator.com"), (.website, "blog.example.org"), (.campaign, "spring-sale"), (.campaign, "newsletter"),
    ]
    static let countries: [(String, String, String)] = [
        ("DE", "BE", "Berlin"), ("DE", "BY", "Munich"), ("FR", "IDF", "Paris"), ("GB", "ENG", "London"),
        ("US", "CA", "San Francisco"), ("US", "NY", "New York"), ("JP", "13", "東京"), ("NL", "NH", "Amsterdam"),
        ("SE", "AB", "Stockholm"), ("ES", "MD", "Madrid"), ("IT", "RM", "Rome"), ("PL", "MZ", "Warsaw"),
        ("BR", "SP", "São Paulo"), ("IN", "MH", "Mumbai"), ("CA", "ON", "Toronto"), ("AU", "NSW", "Sydney"),
    ]
    static let agents: [(String, String, String, String?, DeviceType)] = [
        ("Chrome", "131", "Windows", "10", .desktop), ("Chrome", "130", "Windows", "10", .desktop), ("Edge", "131", "Windows", "10", .desktop),
        ("Firefox", "133", "Windows", "10", .desktop), ("Safari", "18", "Mac", "10.15", .desktop), ("Chrome", "131", "Mac", "10.15", .desktop),
        ("Firefox", "133", "Linux", nil, .desktop), ("Safari", "18", "iOS", "18", .smartphone), ("Safari", "17", "iOS", "17", .smartphone),
        ("Safari", "18", "iPadOS", "18", .tablet), ("Chrome", "131", "Android", "10", .smartphone), ("Samsung Internet", "26", "Android", "13", .smartphone),
    ]
    static let resolutions = ["1920x1080", "1366x768", "1536x864", "2560x1440", "390x844", "414x896", "360x800", "768x1024"]
    static let languages = ["en", "en-us", "de", "fr", "ja", "es", "nl", "pt-br"]

    init(seed: UInt64) { random = SeededGenerator(seed: seed) }

    mutating func pick<T>(_ values: [T]) -> T { values[Int.random(in: 0..<values.count, using: &random)] }

    /// About `count` hits for one site on the UTC day starting at `dayStart` (ms), sorted by time.
    mutating func day(site: Int, dayStart: Int64, count: Int) -> [Hit] {
        var hits: [Hit] = []
        hits.reserveCapacity(count + 64)
        while hits.count < count {
            let visitor = String(format: "%016llx", random.next())
            var start = dayStart + Int64.random(in: 0..<86_000_000, using: &random)
            for _ in 0..<Int.random(in: 1...3, using: &random) where start < dayStart + 86_000_000 {
                let end = visit(site: site, visitor: visitor, start: start, dayEnd: dayStart + 86_400_000, into: &hits)
                start = end + Int64.random(in: 1_900_000...20_000_000, using: &random)
            }
        }
        return hits.sorted { $0.timestamp < $1.timestamp }
    }

    /// Appends one visit's hits; returns the time of its last hit.
    private mutating func visit(site: Int, visitor: String, start: Int64, dayEnd: Int64, into hits: inout [Hit]) -> Int64 {
        var base = Hit(siteID: site, kind: .pageview, timestamp: start)
        base.visitorID = visitor
        let (referrerType, referrerName) = pick(Self.referrers)
        base.referrerType = referrerType
        base.referrerName = referrerName
        if referrerType == .campaign {
            base.campaignName = referrerName
            base.campaignSource = pick(["newsletter", "mastodon", "partner"])
            base.campaignMedium = pick(["email", "social", "cpc"])
        }
        let (country, region, city) = pick(Self.countries)
        (base.country, base.region, base.city) = (country, region, city)
        let agent = pick(Self.agents)
        (base.browser, base.browserVersion, base.os, base.osVersion, base.device) = agent
        base.resolution = pick(Self.resolutions)
        base.language = pick(Self.languages)

        var time = start
        for _ in 0..<Int.random(in: 1...8, using: &random) {
            guard time < dayEnd else { break }
            var hit = base
            hit.timestamp = time
            let section = pick(Self.sections)
            let page = Int.random(in: 1...40, using: &random)
            hit.url = "https://site\(site).example.com/\(section)/page-\(page)"
            hit.title = "\(section.capitalized) – page \(page)"
            hit.pageviewID = String(format: "%06x", Int.random(in: 0..<0xFF_FFFF, using: &random))
            hits.append(hit)
            var detail = hit
            detail.timestamp += Int64.random(in: 1_000...30_000, using: &random)
            detail.url = nil
            detail.title = nil
            switch Int.random(in: 0..<100, using: &random) {
            case 0..<15:
                detail.kind = .event
                detail.eventCategory = pick(["Video", "Form", "Newsletter"])
                detail.eventAction = pick(["Play", "Submit", "Subscribe"])
                detail.eventValue = Double(Int.random(in: 0...10, using: &random))
            case 15..<20:
                detail.kind = .siteSearch
                detail.searchKeyword = pick(["pricing", "api", "export csv", "gdpr", "login"])
                detail.searchCount = Int.random(in: 0...40, using: &random)
            case 20..<24:
                detail.kind = .outlink
                detail.linkURL = pick(["https://github.com/tally", "https://twitter.com/tally", "https://partner.example.net/"])
            case 24..<27:
                detail.kind = .download
                detail.linkURL = "https://site\(site).example.com/files/report-\(Int.random(in: 1...5, using: &random)).pdf"
            case 27..<29:
                detail.kind = .goal
                detail.goalID = Int.random(in: 1...3, using: &random)
                detail.revenue = Double(Int.random(in: 0...100, using: &random))
            case 29..<45:
                detail.kind = .ping
            default:
                detail.kind = .pageview
                detail.timestamp = -1
            }
            if detail.timestamp >= 0 && detail.timestamp < dayEnd { hits.append(detail) }
            time += Int64.random(in: 10_000...400_000, using: &random)
        }
        return time
    }
}
