import Foundation
import TallyCore
import Testing

@Suite("Hit record")
struct HitTests {
    @Test("Canonical JSON: sorted keys, absent fields left out, round trip")
    func canonical() throws {
        var hit = Hit(siteID: 3, kind: .event, timestamp: 1_795_478_622_158)
        hit.eventCategory = "Video"
        hit.eventValue = 2.5
        hit.device = .mobile
        let json = String(decoding: try hit.encodedJSON(), as: UTF8.self)
        #expect(json == #"{"aggregate_only":false,"bot":false,"device":"mobile","e_c":"Video","e_v":2.5,"kind":"event","new_visit":false,"site_id":3,"ts":1795478622158}"#)
        #expect(try Hit.decodeJSON(Data(json.utf8)) == hit)
    }

    @Test("The hand-written encoder writes exactly what JSONEncoder writes, escapes and numbers included")
    func encoderMatchesFoundation() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var controls = ""
        for value in 0..<0x20 { controls.unicodeScalars.append(Unicode.Scalar(UInt8(value))) }
        let texts = ["", "plain", controls, #"quote " backslash \ slash /"#, "\u{7f}\u{2028} 日本語 🎉 é", "https://example.com/a?b=c&d=e#f"]
        let numbers = [0, 0.1, 2.5, 3, 19.99, -0.0, 1e20, 1e-7, 1e15, 1e16, 123_456_789.125, -42]
        var full = Hit(siteID: 9, kind: HitKind(rawValue: "future"), timestamp: -5)
        full.aggregateOnly = true; full.isBot = true; full.newVisit = true
        full.visitorID = "0123456789abcdef"; full.userID = "u"; full.pageviewID = "Ab12Cd"
        full.referrerType = .social; full.referrerName = "n"; full.referrerURL = "https://r.example/"
        full.campaignName = "c"; full.campaignSource = "s"; full.campaignMedium = "m"; full.campaignKeyword = "k"; full.campaignContent = "x"
        full.country = "JP"; full.region = "13"; full.city = "東京"; full.maskedIP = "203.0.0.0"
        full.browser = "Firefox"; full.browserVersion = "133"; full.os = "Linux"; full.osVersion = "6"; full.device = .tablet
        full.resolution = "1x1"; full.language = "ja"; full.localTime = "00:00:00"
        full.eventCategory = "a"; full.eventAction = "b"; full.eventName = "c"; full.searchKeyword = "q"; full.searchCategory = "all"
        full.searchCount = 0; full.linkURL = "https://l.example/"; full.goalID = 3
        var samples = [Hit(siteID: 1, kind: .pageview, timestamp: 0), full]
        for (index, text) in texts.enumerated() {
            var hit = full
            hit.url = text; hit.title = text; hit.eventName = text; hit.city = text
            hit.eventValue = numbers[index % numbers.count]
            hit.revenue = numbers[(index + 6) % numbers.count]
            samples.append(hit)
        }
        for hit in samples {
            let expected = try encoder.encode(hit)
            #expect(try hit.encodedJSON() == expected, "\(String(decoding: expected, as: UTF8.self))")
            #expect(try Hit.decodeJSON(hit.encodedJSON()) == hit)
        }
        var broken = full
        broken.eventValue = .nan
        #expect(throws: (any Error).self) { try broken.encodedJSON() }
    }

    @Test("Kinds, referrer types and devices from a newer writer decode instead of failing")
    func openEnums() throws {
        let hit = try Hit.decodeJSON(Data(#"{"site_id":1,"kind":"heatmap_click","ts":1,"ref_type":"ai_assistant","device":"car"}"#.utf8))
        #expect(hit.kind.rawValue == "heatmap_click")
        #expect(hit.referrerType?.rawValue == "ai_assistant")
        #expect(hit.device?.rawValue == "car")
    }

    @Test("The policy digest is SHA-256 of the canonical text")
    func digest() {
        // FIPS 180-2 test vector.
        #expect(PolicyDigest(canonicalText: "abc").hex == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(PolicyDigest(canonicalText: "abc").description.hasPrefix("sha256:"))
    }
}
