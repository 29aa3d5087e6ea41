import EdgeCollector
import Foundation
import TallyCore
import TrackingInput
import Testing

@Suite("Addresses, parameters, user agents, URLs")
struct ComponentTests {
    @Test("Masking follows Matomo: IPv4 by bytes, IPv6 by bits", arguments: [
        ("203.0.113.77", 16, "203.0.0.0"),
        ("203.0.113.77", 8, "203.0.113.0"),
        ("203.0.113.77", 24, "203.0.0.0"),
        ("203.0.113.77", 20, "203.0.0.0"),
        ("203.0.113.77", 12, "203.0.112.0"),
        ("203.0.113.77", 0, "203.0.113.77"),
        ("2001:db8:1:2:3:4:5:6", 80, "2001:db8:1::"),
        ("2001:db8:1:2:3:4:5:6", 64, "2001:db8:1:2::"),
        ("::ffff:198.51.100.9", 16, "198.51.0.0"),
    ])
    func masking(_ input: String, _ bits: Int, _ expected: String) {
        #expect(IPAddress(input)!.zeroingLast(bits: bits).description == expected)
    }

    @Test("CIDR ranges match v4 and v6")
    func cidr() {
        #expect(CIDRRange("10.0.0.0/8")!.contains(IPAddress("10.200.1.1")!))
        #expect(!CIDRRange("10.0.0.0/8")!.contains(IPAddress("11.0.0.1")!))
        #expect(CIDRRange("2001:db8::/32")!.contains(IPAddress("2001:db8:ffff::1")!))
        #expect(!CIDRRange("2001:db8::/32")!.contains(IPAddress("10.0.0.1")!))
        #expect(CIDRRange("192.0.2.1")!.contains(IPAddress("192.0.2.1")!))
        #expect(CIDRRange("192.0.2.1/40") == nil)
        #expect(IPAddress("300.1.1.1") == nil)
    }

    @Test("Addresses parse with brackets and zones, and header values lose HTTP's blanks (spaces and tabs) at both ends only")
    func addressesAndBlanks() {
        #expect(IPAddress("[2001:db8::1]") == IPAddress("2001:db8::1"))
        #expect(IPAddress("fe80::1%eth0") == IPAddress("fe80::1"))
        #expect(IPAddress("::ffff:192.0.2.7") == IPAddress("192.0.2.7"))
        #expect(IPAddress("[192.0.2.7") == nil && IPAddress("") == nil)
        let samples = ["", " ", "\t \t", "203.0.113.5", " \t203.0.113.5 \t", "a b", "\u{00A0}x\u{00A0}", " é\u{301} ", "日本 ", "\t\u{3000}\t"]
        for text in samples {
            // Reference: the bytes between the first and the last byte that is neither a space nor a tab.
            let bytes = Array(text.utf8)
            let kept = bytes.firstIndex { $0 != 0x20 && $0 != 0x09 }.map { first in bytes[first...(bytes.lastIndex { $0 != 0x20 && $0 != 0x09 }!)] } ?? []
            #expect(Array(text.trimmingBlanks().utf8) == Array(kept), "\(text.unicodeScalars.map { String($0.value, radix: 16) })")
            #expect(Array(text[...].trimmingBlanks().utf8) == Array(kept))
        }
    }

    @Test("Query parameters: + and escapes decode, repeated names keep the last value")
    func query() throws {
        let p = try QueryParameters.parse(Array("a=1+2&b=%C3%A9t%C3%A9&a=3&flag".utf8), limits: RequestLimits())
        #expect(p["a"] == "3")
        #expect(p["b"] == "été")
        #expect(p["flag"] == "")
    }

    @Test("Every byte sequence decodes as the standard library decodes UTF-8 (U+FFFD for invalid bytes), without control characters")
    func utf8Validation() throws {
        // Every one- and two-byte value, and three- and four-byte values around each lead byte's limits,
        // against the standard library's validation.
        var values: [[UInt8]] = (0...255).map { [UInt8($0)] }
        for a in 0...255 { for b in 0...255 { values.append([UInt8(a), UInt8(b)]) } }
        let edges: [UInt8] = [0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xFF]
        for lead in 0xE0...0xF4 {
            for b in 0...255 {
                for c in edges { values.append([UInt8(lead), UInt8(b), c]) }
                values.append([UInt8(lead), UInt8(b), 0x80, 0x80])
                values.append([UInt8(lead), UInt8(b), 0xBF, 0x41])
            }
        }
        var mismatches: [String] = []
        for bytes in values {
            let query = Array("v=".utf8) + bytes.flatMap { Array(String(format: "%%%02X", $0).utf8) }
            let parsed = try QueryParameters.parse(query, limits: RequestLimits())
            let valid = String(validating: bytes, as: UTF8.self) != nil
            let decoded = String(decoding: bytes, as: UTF8.self)
            // The value is the decoded text without its Cc characters; each repair is recorded.
            let expected = String(String.UnicodeScalarView(decoded.unicodeScalars.filter { !$0.properties.generalCategory.isControl }))
            let hex = bytes.map { String(format: "%02X", $0) }.joined(separator: " ")
            if parsed["v"] != expected { mismatches.append(hex) }
            if parsed.repairs.contains(.controlCharacters) != (decoded != expected) { mismatches.append("control repair " + hex) }
            if parsed.repairs.contains(.invalidUTF8) == valid { mismatches.append("UTF-8 repair " + hex) }
        }
        #expect(mismatches.isEmpty, "\(mismatches.prefix(10))")
        let decoded = try QueryParameters.parse(Array("v=caf%C3%A9+%F0%9F%98%80".utf8), limits: RequestLimits())
        #expect(decoded["v"] == "café 😀")
        #expect(decoded.repairs.isEmpty)
    }

    @Test("Malformed escapes stay as written, long values are cut at a character boundary, long names are left out")
    func tolerantParameters() throws {
        var limits = RequestLimits()
        limits.maxValueBytes = 10
        let p = try QueryParameters.parse(Array("a=100%&b=%zz%4&c=ab%C3%A9%C3%A9%C3%A9%C3%A9&\(String(repeating: "n", count: 129))=1&d=ok".utf8), limits: limits)
        #expect(p["a"] == "100%")
        #expect(p["b"] == "%zz%4")
        #expect(p["c"] == "abéééé")
        #expect(p["c"]!.utf8.count == 10)
        #expect(p["d"] == "ok" && p.dictionary.count == 4)
        #expect(Set(p.repairs) == [.malformedEscape, .truncated])
        let cut = try QueryParameters.parse(Array("c=abcdefghi%C3%A9".utf8), limits: limits)
        #expect(cut["c"] == "abcdefghi", "a character is never split")
        limits.maxParameters = 3
        #expect(throws: RequestRejection.self) { try QueryParameters.parse(Array("a=1&b=2&c=3&d=4".utf8), limits: limits) }
    }

    @Test("User agents reduce to Matomo's client and OS names, major versions, device types and brands", arguments: [
        (Fixtures.chrome, "Chrome", "120", "Windows", "10", DeviceType.desktop, nil),
        (Fixtures.iphone, "Mobile Safari", "17", "iOS", "17", .smartphone, "Apple"),
        (Fixtures.firefoxLinux, "Firefox", "121", "GNU/Linux", nil, .desktop, nil),
        ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91", "Microsoft Edge", "120", "Windows", "10", .desktop, nil),
        ("Mozilla/5.0 (Linux; Android 14; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/23.0 Chrome/115.0.0.0 Safari/537.36", "Samsung Browser", "23", "Android", "14", .tablet, "Samsung"),
        ("Mozilla/5.0 (Linux; Android 13; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Mobile Safari/537.36", "Chrome Mobile", "119", "Android", "13", .smartphone, "Google"),
        ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Safari/605.1.15", "Safari", "17", "Mac", "10", .desktop, "Apple"),
        ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", nil, nil, nil, nil, .bot, nil),
        // Phones whose model names contain "bot" or "spider" are phones (the old substring rules dropped them).
        ("Mozilla/5.0 (Linux; Android 9; CUBOT KING KONG 3) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/83.0.4103.106 Mobile Safari/537.36", "Chrome Mobile", "83", "Android", "9", .smartphone, "CUBOT"),
        ("Mozilla/5.0 (Linux; Android 13; Spider 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36", "Chrome", "124", "Android", "13", .tablet, "OSCAL"),
        ("Mozilla/5.0 (Linux; Android 6.0; HTC Ruby Build/MRA58K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/70.0.3538.80 Mobile Safari/537.36", "Chrome Mobile", "70", "Android", "6", .smartphone, "HTC"),
    ] as [(String, String?, String?, String?, String?, DeviceType, String?)])
    func userAgents(_ ua: String, _ browser: String?, _ version: String?, _ os: String?, _ osVersion: String?, _ device: DeviceType, _ brand: String?) throws {
        let s = try TestDatabases.userAgents().summarize(ua)
        #expect(s.browser == browser)
        #expect(s.browserVersion == version)
        #expect(s.os == os)
        #expect(s.osVersion == osVersion)
        #expect(s.device == device)
        #expect(s.brand == brand)
        #expect(s.isBot == (device == .bot))
    }

    @Test("Crawlers, AI crawlers, headless browsers and HTTP libraries are bots, with a name and category", arguments: [
        ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "Googlebot"),
        ("Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)", "GPTBot"),
        ("Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; ClaudeBot/1.0; +claudebot@anthropic.com)", "ClaudeBot"),
        ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.6099.71 Safari/537.36", "HeadlessChrome"),
        ("curl/8.5.0", "curl"),
        ("python-requests/2.31.0", "python-requests"),
    ])
    func bots(_ ua: String, _ nameFragment: String) throws {
        let s = try TestDatabases.userAgents().summarize(ua)
        #expect(s.isBot)
        #expect(s.device == .bot)
        #expect(s.botName?.localizedCaseInsensitiveContains(nameFragment) == true, "\(s.botName ?? "no name") for \(ua)")
        #expect(s.botCategory != nil)
    }

    @Test("A user agent of any size or content gets an answer", arguments: [
        String(repeating: "A", count: 100_000),
        String(repeating: "Mozilla/5.0 (", count: 8_000),
        "Mozilla/5.0 \u{0}\u{1}\u{7F} (Linux; Android 13)\r\n",
        String(decoding: [0x4D, 0xFF, 0xFE, 0xC3, 0x28, 0x41], as: UTF8.self),
        "",
        "%%%%",
    ])
    func strangeUserAgents(_ ua: String) throws {
        let s = try TestDatabases.userAgents().summarize(ua)
        #expect(s.browser == nil || !s.browser!.isEmpty)
    }

    @Test("Scrubbed URLs keep the tracker's encoding, lose credentials, fragments and denied parameters", arguments: [
        ("HTTPS://Example.COM:8443/P%41th/a%2Fb?q=a%2Bb+c&gclid=1#frag", "https://example.com:8443/P%41th/a%2Fb?q=a%2Bb+c"),
        ("https://user:secret@example.com/", "https://example.com/"),
        ("https://example.com/a b/café?x=é y", "https://example.com/a%20b/caf%C3%A9?x=%C3%A9%20y"),
        ("http://[2001:DB8::1]:8080/x?", "http://[2001:db8::1]:8080/x"),
        ("https://example.com:/x?#top", "https://example.com/x"),
        ("https://münchen.de/straße", "https://xn--mnchen-3ya.de/stra%C3%9Fe"),
        ("https://example.com/u/bob%40example.org?to=ann%40example.com&q=1&&sessionid=9", "https://example.com/u/%5Bemail%5D?to=%5Bemail%5D&q=1"),
        ("https://example.com/%zz?a", "https://example.com/%25zz?a"),
        ("https://example.com", "https://example.com"),
    ])
    func scrubbedURL(_ input: String, _ expected: String) throws {
        #expect(try URLScrubber(policy: PrivacyPolicy()).scrub(url: input)?.url == expected)
    }

    @Test("Only absolute http(s) URLs with a host are URLs", arguments: [
        "ftp://example.com/", "https:/example.com/x", "https:///x", "example.com/x", "https://exa mple.com/", "https://ex%20ample.com/",
        "https://[2001:db8::1/x", "https://example.com:80a/", "mailto:a@example.com", "",
    ])
    func notURL(_ input: String) throws {
        #expect(try URLScrubber(policy: PrivacyPolicy()).scrub(url: input) == nil)
    }

    @Test("Campaign parameters leave the URL for the campaign, decoded and lower-cased")
    func campaignParameters() throws {
        let scrubbed = try URLScrubber(policy: PrivacyPolicy()).scrub(url: "https://example.com/?utm_source=News%20Letter&UTM_MEDIUM=Email&page=2&mtm_campaign=")
        #expect(scrubbed?.url == "https://example.com/?page=2")
        #expect(scrubbed?.campaign.source == "news letter")
        #expect(scrubbed?.campaign.medium == "email")
        #expect(scrubbed?.campaign.name == nil)
        #expect(scrubbed?.removed == 3)
    }

    @Test("Allow-list mode keeps only the listed parameters")
    func allowlist() throws {
        var policy = PrivacyPolicy()
        policy.queryMode = .allowlist
        policy.allowedQueryParams = ["page"]
        let scrubbed = try URLScrubber(policy: policy).scrub(url: "https://Example.com/list?page=2&sort=asc&utm_source=x#top")
        #expect(scrubbed?.url == "https://example.com/list?page=2")
        #expect(scrubbed?.campaign.source == "x")
        #expect(scrubbed?.removed == 2)
    }

    @Test("Redaction patterns and e-mail addresses are replaced", arguments: [
        ("write to jane.doe+news@mail.example.co.uk today", "write to [email] today"),
        ("not@an address", "not@an address"),
        ("a@b.c", "a@b.c"),
        ("x@example.org.", "[email]."),
        ("order 12345678 for jane@example.org", "order [redacted] for [email]"),
        // An address inside an id ends at its top-level domain (found by the mixed-traffic test).
        ("alice@example.org-100", "[email]-100"),
        ("id=bob@mail.example.com_7", "id=[email]_7"),
        ("a@b.orgx", "[email]"),
        ("a@b.c-1", "a@b.c-1"),
    ])
    func redaction(_ input: String, _ expected: String) throws {
        var policy = PrivacyPolicy()
        policy.redactPatterns = ["\\b\\d{8}\\b"]
        #expect(try URLScrubber(policy: policy).redact(input) == expected)
    }
}

extension Unicode.GeneralCategory {
    /// Unicode's Cc: the category the control-character rule removes.
    var isControl: Bool { self == .control }
}
