import EdgeCollector
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import TallyCore
import TrackingInput
import Testing

@Suite("HTTP ingest against a live edge")
struct HTTPIngestTests {
    static let gif: [UInt8] = [
        0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00,
        0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b,
    ]

    @Test("GET and POST on /matomo.php and /piwik.php answer Matomo's GIF, 204 with send_image=0, and store the hit")
    func matomoResponses() async throws {
        let edge = try LiveEdge()
        try await edge.run { client in
            let get = try await client.track("/matomo.php?idsite=1&rec=1&url=https%3A%2F%2Fexample.com%2Fa")
            #expect(get.status == .ok)
            #expect(get.headers[.contentType] == "image/gif")
            #expect(get.headers[.cacheControl] == "no-store")
            #expect(Array(get.body.readableBytesView) == Self.gif)

            let post = try await client.track(
                "/piwik.php", method: .post, headers: ["Content-Type": "application/x-www-form-urlencoded", "Origin": "https://example.com"],
                body: "idsite=1&rec=1&url=https%3A%2F%2Fexample.com%2Fb&send_image=0")
            #expect(post.status == .noContent)
            #expect(post.headers[.accessControlAllowOrigin] == "https://example.com")
            #expect(post.headers[.accessControlAllowCredentials] == "true")

            let preflight = try await client.executeRequest(
                uri: "/matomo.php", method: .options, headers: [.origin: "https://example.com"], body: nil)
            #expect(preflight.status == .noContent)
            #expect(preflight.headers[.accessControlAllowMethods] == "GET, POST, OPTIONS")
        }
        let urls = try edge.bufferedHits().map(\.url)
        #expect(urls == ["https://example.com/a", "https://example.com/b"])
    }

    @Test("Malformed escapes, bytes that are not UTF-8 and over-long values are repaired, the hit kept and each repair counted; the query wins over the body")
    func tolerantInput() async throws {
        let edge = try LiveEdge()
        let longURL = "https%3A%2F%2Fexample.com%2Fapp%23" + String(repeating: "x", count: 6000)
        try await edge.run { client in
            let get = try await client.track("/matomo.php?idsite=1&rec=1&url=\(longURL)&action_name=caf%C3%28%ZZ")
            #expect(get.status == .ok)
            let post = try await client.track(
                "/matomo.php?idsite=1&rec=1&url=https%3A%2F%2Fexample.com%2Fquery", method: .post,
                headers: ["Content-Type": "application/x-www-form-urlencoded"], body: "url=https%3A%2F%2Fexample.com%2Fbody&action_name=From+body")
            #expect(post.status == .ok)
            for kind in ["malformed_escape", "invalid_utf8", "truncated"] {
                #expect(try await client.metric(#"tally_edge_input_repairs_total{kind="\#(kind)"}"#) == 1, "\(kind)")
            }
        }
        let hits = try edge.bufferedHits()
        #expect(hits.count == 2)
        #expect(hits.first?.title == "caf\u{FFFD}(%ZZ")
        // The fragment is dropped by scrubbing; what is kept of the URL fits the limit.
        #expect(hits.first?.url == "https://example.com/app")
        #expect(hits.last?.url == "https://example.com/query" && hits.last?.title == "From body")
    }

    @Test("Bulk entries as objects (the log importer's form), invalid_indices for a sender with the token, more than 1,000 entries, and a bare GET")
    func bulkProtocol() async throws {
        let edge = try LiveEdge()
        try await edge.run { client in
            let objects = """
                {"requests": [{"idsite": 1, "rec": 1, "url": "https://example.com/o1", "action_name": "Obj", "cdt": null, "bots": true},
                              {"idsite": "nope", "rec": 1},
                              {"idsite": "1", "rec": "1", "url": "https://example.com/o2", "e_c": "Video", "e_a": "Play", "e_v": 2.5}],
                 "token_auth": "\(Fixtures.trackingToken)"}
                """
            let answer = try await client.track("/matomo.php", method: .post, headers: ["Content-Type": "application/json"], body: objects)
            #expect(String(buffer: answer.body) == #"{"status":"success","tracked":2,"invalid":1,"invalid_indices":[1]}"#)
            let anonymous = try await client.track(
                "/matomo.php", method: .post, headers: ["Content-Type": "application/json"],
                body: #"{"requests": ["?idsite=1&rec=1&url=https%3A%2F%2Fexample.com%2Fa1", "?idsite=x&rec=1"]}"#)
            #expect(String(buffer: anonymous.body) == #"{"status":"success","tracked":1,"invalid":1}"#)
            let many = (0..<1500).map { #""?idsite=1&rec=1&url=https%3A%2F%2Fexample.com%2Fm\#($0)""# }.joined(separator: ",")
            let big = try await client.track("/matomo.php", method: .post, headers: ["Content-Type": "application/json"], body: #"{"requests": [\#(many)]}"#)
            #expect(String(buffer: big.body) == #"{"status":"success","tracked":1500,"invalid":0}"#)
            let quiet = try await client.track(
                "/matomo.php", method: .post, headers: ["Content-Type": "application/json"],
                body: #"{"requests": ["?idsite=1&rec=1&url=https%3A%2F%2Fexample.com%2Fq"], "send_image": 0}"#)
            #expect(quiet.status == .noContent && quiet.body.readableBytes == 0, "send_image 0: 204, as Matomo's BulkTracking")
            let bare = try await client.track("/matomo.php")
            #expect(bare.status == .ok && String(buffer: bare.body).hasPrefix("This is Tally's collector"))
            #expect(try await client.metric(#"tally_edge_hits_dropped_total{reason="invalid_request"}"#) == 2)
        }
        let hits = try edge.bufferedHits()
        #expect(hits.count == 1504)
        #expect(hits.prefix(3).map(\.url) == ["https://example.com/o1", "https://example.com/o2", "https://example.com/a1"])
        #expect(hits[0].title == "Obj" && hits[1].kind == .event && hits[1].eventValue == 2.5)
    }

    @Test("A bulk request with one invalid entry answers like Matomo and stores the valid ones")
    func bulk() async throws {
        let edge = try LiveEdge()
        try await edge.run { client in
            let body = """
                {"requests": ["?idsite=1&rec=1&url=https%3A%2F%2Fexample.com%2F1", "?idsite=1&rec=1&url=https%3A%2F%2Fexample.com%2F2&e_c=Video&e_a=Play",
                 "?idsite=abc&rec=1", "/matomo.php?idsite=1&rec=1&url=https%3A%2F%2Fexample.com%2F3&cip=198.51.100.7"],
                 "token_auth": "\(Fixtures.trackingToken)"}
                """
            let response = try await client.track("/matomo.php", method: .post, headers: ["Content-Type": "application/json"], body: body)
            #expect(response.status == .ok)
            #expect(String(buffer: response.body) == #"{"status":"success","tracked":3,"invalid":1,"invalid_indices":[2]}"#)
            #expect(try await client.metric(#"tally_edge_hits_dropped_total{reason="invalid_request"}"#) == 1)
        }
        let hits = try edge.bufferedHits()
        #expect(hits.map(\.url) == ["https://example.com/1", "https://example.com/2", "https://example.com/3"])
        #expect(hits.map(\.kind) == [.pageview, .event, .pageview])
        #expect(hits.map(\.city) == ["Paris", "Paris", "Tokyo"])
    }

    @Test("POST /api/event stores Tally's JSON beacon")
    func beacon() async throws {
        let edge = try LiveEdge()
        try await edge.run { client in
            let response = try await client.track(
                "/api/event", method: .post, headers: ["Content-Type": "application/json"],
                body: #"{"site":1,"url":"https://example.com/pricing","referrer":"https://news.ycombinator.com/item?id=1","kind":"event","category":"CTA","action":"click","title":"Pricing"}"#)
            #expect(response.status == .accepted)
        }
        let hit = try #require(try edge.bufferedHits().first)
        #expect(hit.kind == .event && hit.eventCategory == "CTA" && hit.title == "Pricing")
        #expect(hit.referrerType == .social && hit.referrerName == "Hacker News" && hit.referrerURL == "https://news.ycombinator.com/item")
    }

    struct SignalCase: Sendable, CustomTestStringConvertible {
        var name: String
        var headers: [String: String] = [:]
        var userAgent = Fixtures.chrome
        var privacy = ""
        var query = "/matomo.php?idsite=1&rec=1&url=https%3A%2F%2Fexample.com%2F"
        var sample: String
        var stored: Int
        var testDescription: String { name }
    }

    static let signalCases: [SignalCase] = [
        SignalCase(name: "DNT", headers: ["DNT": "1"], sample: #"tally_edge_hits_dropped_total{reason="do_not_track"}"#, stored: 0),
        SignalCase(name: "GPC", headers: ["Sec-GPC": "1"], sample: #"tally_edge_hits_dropped_total{reason="global_privacy_control"}"#, stored: 0),
        SignalCase(name: "opt-out", headers: ["Cookie": "a=b; tally_optout=1"], sample: #"tally_edge_hits_dropped_total{reason="opt_out"}"#, stored: 0),
        SignalCase(name: "no consent", privacy: #"consent = "required""#, sample: #"tally_edge_hits_dropped_total{reason="no_consent"}"#, stored: 0),
        SignalCase(name: "bot", userAgent: "Mozilla/5.0 (compatible; bingbot/2.0)", sample: #"tally_edge_hits_dropped_total{reason="bot"}"#, stored: 0),
        SignalCase(name: "DNT count_only", headers: ["DNT": "1"], privacy: #"dnt = "count_only""#, sample: "tally_edge_hits_aggregate_only_total", stored: 1),
        SignalCase(name: "bot counted separately", userAgent: "Wget/1.21", privacy: #"bots = "count_separately""#, sample: "tally_edge_hits_bot_total", stored: 1),
    ]

    @Test("DNT, GPC, opt-out, missing consent and bots: the configured outcome, and /metrics moves by exactly one", arguments: signalCases)
    func signals(_ c: SignalCase) async throws {
        let edge = try LiveEdge(privacy: c.privacy)
        try await edge.run { client in
            // One ordinary hit first, so "exactly one" is measured against a moving edge.
            _ = try await client.track("/matomo.php?idsite=1&rec=1&consent=1&url=https%3A%2F%2Fexample.com%2Fwarm")
            let before = try await client.metric(c.sample)
            let response = try await client.track(c.query, userAgent: c.userAgent, headers: c.headers)
            #expect(response.status == .ok)
            #expect(Array(response.body.readableBytesView) == Self.gif)
            #expect(try await client.metric(c.sample) - before == 1)
        }
        #expect(try edge.bufferedHits().count == 1 + c.stored)
        if c.stored == 0 {
            let reason = c.sample.split(separator: "\"")[1]
            #expect(try edge.drops()[DropReason(rawValue: String(reason))] == 1)
        }
    }

    @Test("The client IP comes from X-Forwarded-For only through a trusted proxy")
    func trustedProxies() async throws {
        let edge = try LiveEdge(extra: "")
        try await edge.run { client in
            _ = try await client.track("/matomo.php?idsite=1&rec=1&url=https%3A%2F%2Fexample.com%2F", ip: "198.51.100.20, 203.0.113.5")
            _ = try await client.track("/matomo.php?idsite=1&rec=1&url=https%3A%2F%2Fexample.com%2F", headers: ["Forwarded": "for=\"[2001:db8:1:2::9]:4711\""])
            // The same chain in two header lines reads as one list (RFC 9110 §5.3).
            var split: HTTPFields = [.userAgent: Fixtures.chrome]
            split.append(HTTPField(name: HTTPField.Name("X-Forwarded-For")!, value: "198.51.100.20"))
            split.append(HTTPField(name: HTTPField.Name("X-Forwarded-For")!, value: "203.0.113.5"))
            _ = try await client.executeRequest(uri: "/matomo.php?idsite=1&rec=1&url=https%3A%2F%2Fexample.com%2F", method: .get, headers: split, body: nil)
        }
        #expect(try edge.bufferedHits().map(\.city) == ["Paris", "Stockholm", "Paris"])

        let untrusting = try LiveEdge(extra: "")
        let config = Fixtures.configTOML(dataDir: untrusting.directory.file("d2"))
            .replacingOccurrences(of: #"trusted_proxies = ["127.0.0.1", "::1"]"#, with: "trusted_proxies = []")
        let components = try EdgeComponents(config: try EdgeConfig.parse(toml: config), logger: untrusting.logs.logger)
        try await EdgeTestClient.run(components: components, logger: untrusting.logs.logger) { client in
            _ = try await client.track("/matomo.php?idsite=1&rec=1&url=https%3A%2F%2Fexample.com%2F", ip: "203.0.113.77")
        }
        let hit = try #require(try components.buffer.oldest(limit: 1).first?.hit)
        #expect(hit.city == nil, "a forged X-Forwarded-For from an untrusted peer must not be believed")
    }

    struct BadInput: Sendable, CustomTestStringConvertible {
        var name: String
        var method: HTTPRequest.Method = .get
        var uri: String
        var contentType = "application/x-www-form-urlencoded"
        var body: String?
        var status: HTTPResponse.Status
        var message: String
        var testDescription: String { name }
    }

    static let badInputs: [BadInput] = [
        BadInput(name: "oversized URL", uri: "/matomo.php?idsite=1&rec=1&url=https%3A%2F%2Fexample.com%2F" + String(repeating: "a", count: 9000), status: .uriTooLong, message: "more than 8192"),
        BadInput(name: "oversized body", method: .post, uri: "/matomo.php", body: "idsite=1&rec=1&url=" + String(repeating: "a", count: 1_100_000), status: .contentTooLarge, message: "more than 1048576"),
        BadInput(name: "non-numeric idsite", uri: "/matomo.php?idsite=abc&rec=1", status: .badRequest, message: "idsite=abc is not a site id"),
        BadInput(name: "unknown site", uri: "/matomo.php?idsite=77&rec=1", status: .badRequest, message: "idsite=77 is not a site on this edge"),
        BadInput(name: "too many parameters", uri: "/matomo.php?idsite=1&rec=1&" + (0..<120).map { "p\($0)=1" }.joined(separator: "&"), status: .badRequest, message: "Too many parameters"),
        BadInput(name: "malformed bulk JSON", method: .post, uri: "/matomo.php", contentType: "application/json", body: #"{"requests": ["?idsite=1&rec=1"#, status: .badRequest, message: "bulk request is not JSON"),
        // Found by the bulk fuzz target: the body's shared token escaped the value bound every parameter has.
        BadInput(name: "oversized bulk token", method: .post, uri: "/matomo.php", contentType: "application/json", body: #"{"requests": ["?idsite=1&rec=1"], "token_auth": ""# + String(repeating: "f", count: 5000) + #""}"#, status: .badRequest, message: "token_auth is longer than 4096 bytes"),
        BadInput(name: "malformed beacon", method: .post, uri: "/api/event", contentType: "application/json", body: #"{"site":"one"}"#, status: .badRequest, message: "event body is not JSON"),
    ]

    @Test("Bad input: a clear 4xx, nothing stored, and the edge keeps serving", arguments: badInputs)
    func badInput(_ c: BadInput) async throws {
        let edge = try LiveEdge()
        try await edge.run { client in
            let response = try await client.track(c.uri, method: c.method, headers: ["Content-Type": c.contentType], body: c.body)
            #expect(response.status == c.status)
            let message = String(buffer: response.body)
            #expect(message.contains(c.message), "\(message)")
            #expect(message.split(separator: "\n").count == 1)
            let next = try await client.track("/matomo.php?idsite=1&rec=1&url=https%3A%2F%2Fexample.com%2Fafter")
            #expect(next.status == .ok)
        }
        #expect(try edge.bufferedHits().map(\.url) == ["https://example.com/after"])
    }

    @Test("A full buffer answers 503 with Retry-After, stores nothing and counts the refusal")
    func bufferFull() async throws {
        let edge = try LiveEdge(extra: "[buffer]\nmax_buffer_bytes = 1024\nretry_after_seconds = 17")
        try await edge.run { client in
            var statuses: [HTTPResponse.Status] = []
            for index in 0..<6 {
                let response = try await client.track("/matomo.php?idsite=1&rec=1&url=https%3A%2F%2Fexample.com%2F\(index)")
                statuses.append(response.status)
                if response.status == .serviceUnavailable {
                    #expect(response.headers[.retryAfter] == "17")
                }
            }
            #expect(statuses.first == .ok)
            #expect(statuses.last == .serviceUnavailable)
            let refused = statuses.filter { $0 == .serviceUnavailable }.count
            #expect(try await client.metric(#"tally_edge_hits_dropped_total{reason="buffer_full"}"#) == Double(refused))
            let health = try await client.executeRequest(uri: "/healthz", method: .get, headers: [:], body: nil)
            #expect(health.status == .serviceUnavailable)
            #expect(String(buffer: health.body).contains(#""status":"degraded","reasons":["buffer_full: hits are refused"#))
        }
        let hits = try edge.bufferedHits()
        #expect(hits.count > 0 && hits.count < 6)
        #expect(hits.reduce(0) { $0 + (try! $1.encodedJSON().count) } <= 1024)
    }
}
