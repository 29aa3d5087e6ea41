import Foundation
@testable import TallyCore
import Testing

@Suite("Hit record")
struct HitTests {
    @Test("Canonical JSON: sorted keys, absent fields left out, round trip")
    func canonical() throws {
        var hit = Hit(siteID: 3, kind: .event, timestamp: 1_795_478_622_158)
        hit.eventCategory = "Video"
        hit.eventValue = 2.5
        hit.device = .smartphone
        let json = String(decoding: try hit.encodedJSON(), as: UTF8.self)
        #expect(json == #"{"aggregate_only":false,"bot":false,"device":"smartphone","e_c":"Video","e_v":2.5,"kind":"event","new_visit":false,"site_id":3,"ts":1795478622158}"#)
        #expect(try Hit.decodeJSON(Data(json.utf8)) == hit)
    }

    @Test("The hand-written encoder writes exactly what JSONEncoder writes, escapes and numbers included")
    func encoderMatchesFoundation() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let samples = Self.samples()
        for hit in samples {
            let expected = try encoder.encode(hit)
            #expect(try hit.encodedJSON() == expected, "\(String(decoding: expected, as: UTF8.self))")
            #expect(try Hit.decodeJSON(hit.encodedJSON()) == hit)
        }
        var broken = samples[1]
        broken.eventValue = .nan
        #expect(throws: (any Error).self) { try broken.encodedJSON() }
    }

    @Test("The hand-written reader decodes what JSONDecoder decodes, in any shape, and refuses what it refuses")
    func readerMatchesFoundation() throws {
        let sortedEncoder = JSONEncoder()
        sortedEncoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let prettyEncoder = JSONEncoder()
        prettyEncoder.outputFormatting = [.prettyPrinted]
        var variants: [Data] = []
        for hit in Self.samples() {
            let canonical = try hit.encodedJSON()
            variants.append(canonical)
            variants.append(try JSONEncoder().encode(hit))  // other key order, escaped slashes
            variants.append(try prettyEncoder.encode(hit))  // whitespace and newlines
            variants.append(Self.escapingNonASCII(canonical))  // \uXXXX, surrogate pairs for emoji
            var unknown = Data(#"{"future":{"a":[1,-2.5e3,{"b":null}],"c":"\u00e9\""},"also":[],"#.utf8)
            unknown.append(canonical.dropFirst())
            variants.append(unknown)
        }
        variants.append(Data(#"{"site_id":1,"kind":"pageview","ts":1,"url":null,"bot":null,"e_v":null,"goal_id":null}"#.utf8))
        variants.append(Data(#" { "ts" : -7 , "kind" : "x" , "site_id" : 0 , "e_v" : 1E2, "revenue": -0.5e-1 } "#.utf8))
        for data in variants {
            let expected = try JSONDecoder().decode(Hit.self, from: data)
            #expect(try Hit.readJSON(data) == expected, "\(String(decoding: data, as: UTF8.self))")
        }

        let invalid = [
            "", "[]", "null", #"{"kind":"pageview","ts":1}"#, #"{"site_id":1,"ts":1}"#, #"{"site_id":1,"kind":"pageview"}"#,
            #"{"site_id":"1","kind":"pageview","ts":1}"#, #"{"site_id":1,"kind":"pageview","ts":null}"#,
            #"{"site_id":1,"kind":7,"ts":1}"#, #"{"site_id":1,"kind":"pageview","ts":1,"bot":"yes"}"#,
            #"{"site_id":1,"kind":"pageview","ts":1"#, #"{"site_id":1,"kind":"pageview","ts":1}x"#,
            #"{"site_id":1,"kind":"pag\xeview","ts":1}"#,
            #"{"site_id":1,"kind":"\ud800","ts":1}"#, #"{"site_id":1,"kind":"\udc00\ud800","ts":1}"#,
            "{\"site_id\":1,\"kind\":\"a\u{1}b\",\"ts\":1}", #"{"site_id":1,"kind":"pageview","ts":01}"#,
            #"{"site_id":1,"kind":"pageview","ts":1,"e_v":.5}"#, #"{"site_id":1,"kind":"pageview","ts":1,"x":[1,}"#,
            #"{"site_id":99999999999999999999,"kind":"pageview","ts":1}"#,
        ].map { Data($0.utf8) } + [Data(#"{"site_id":1,"kind":""#.utf8) + Data([0xFF, 0xFE]) + Data(#"","ts":1}"#.utf8)]
        for data in invalid {
            let text = String(decoding: data, as: UTF8.self)
            #expect(throws: (any Error).self, "JSONDecoder accepted \(text)") { try JSONDecoder().decode(Hit.self, from: data) }
            #expect(throws: HitJSONError.self, "the reader accepted \(text)") { try Hit.readJSON(data) }
        }
        // Stricter than JSONDecoder: integer fields take integer literals only (every writer of the format
        // sends them so), and a trailing comma, which RFC 8259 does not allow, is refused.
        #expect(throws: HitJSONError.self) { try Hit.readJSON(Data(#"{"site_id":1.0,"kind":"pageview","ts":1}"#.utf8)) }
        #expect(throws: HitJSONError.self) { try Hit.readJSON(Data(#"{"site_id":1,"kind":"pageview","ts":1,}"#.utf8)) }
    }

    /// The same JSON with every non-ASCII character written as a `\uXXXX` escape.
    static func escapingNonASCII(_ json: Data) -> Data {
        var out = ""
        for unit in String(decoding: json, as: UTF8.self).utf16 {
            if unit < 0x80 { out.unicodeScalars.append(Unicode.Scalar(UInt8(unit))) } else { out += String(format: "\\u%04x", unit) }
        }
        return Data(out.utf8)
    }

    @Test("Kinds, referrer types and devices from a newer writer decode instead of failing")
    func openEnums() throws {
        let hit = try Hit.decodeJSON(Data(#"{"site_id":1,"kind":"heatmap_click","ts":1,"ref_type":"ai_assistant","device":"car"}"#.utf8))
        #expect(hit.kind.rawValue == "heatmap_click")
        #expect(hit.referrerType?.rawValue == "ai_assistant")
        #expect(hit.device?.rawValue == "car")
    }

    /// Records with every field set, control characters, quotes, non-ASCII and awkward numbers.
    static func samples() -> [Hit] {
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
        full.contentName = "Banner"; full.contentPiece = "img.png"; full.contentTarget = "https://t.example/"; full.contentInteraction = "click"
        full.orderID = "A-1"; full.items = #"[{"categories":["c"],"name":"n","price":1.5,"quantity":2,"sku":"s"}]"#
        full.subtotal = 10; full.tax = 1.9; full.shipping = 4.5; full.discount = 0
        full.productSKU = "s"; full.productName = "n"; full.productCategory = "c"; full.productPrice = 9.99
        var samples = [Hit(siteID: 1, kind: .pageview, timestamp: 0), full]
        for (index, text) in texts.enumerated() {
            var hit = full
            hit.url = text; hit.title = text; hit.eventName = text; hit.city = text; hit.contentName = text; hit.items = text
            hit.tax = numbers[(index + 3) % numbers.count]
            hit.eventValue = numbers[index % numbers.count]
            hit.revenue = numbers[(index + 6) % numbers.count]
            samples.append(hit)
        }
        return samples
    }

    @Test("Repair takes control characters out of every text field of a record and drops amounts out of range")
    func repairEveryField() throws {
        // Kind, referrer type and device are named values, not free text.
        let named: Set<String> = ["kind", "ref_type", "device"]
        var textFields = 0
        for key in Hit.CodingKeys.allCases where !named.contains(key.stringValue) {
            // A C0 and a C1 control character, as JSON escapes (a raw one is refused by the reader).
            let json = #"{"site_id":1,"kind":"pageview","ts":1,"\#(key.stringValue)":"a\u0001b\u0085c"}"#
            guard var hit = try? Hit.readJSON(Data(json.utf8)) else { continue }  // not a text field
            textFields += 1
            #expect(hit.repair() == [.controlCharacters], "\(key.stringValue)")
            let repaired = String(decoding: try hit.encodedJSON(), as: UTF8.self)
            #expect(repaired.contains(#""\#(key.stringValue)":"abc""#), "\(key.stringValue): \(repaired)")
        }
        #expect(textFields == 42, "every text field of the record was tried")
        for key in ["e_v", "revenue", "ec_st", "ec_tx", "ec_sh", "ec_dt", "pk_price"] {
            var hit = try Hit.readJSON(Data(#"{"site_id":1,"kind":"pageview","ts":1,"\#(key)":1e300}"#.utf8))
            #expect(hit.repair() == [.numberOutOfRange], "\(key)")
            #expect(!String(decoding: try hit.encodedJSON(), as: UTF8.self).contains(key), "\(key)")
        }
        var clean = Hit(siteID: 1, kind: .pageview, timestamp: 1)
        clean.url = "https://example.com/ä?q=1"
        clean.revenue = 1e12
        #expect(clean.repair().isEmpty)
        #expect(clean.url == "https://example.com/ä?q=1" && clean.revenue == 1e12)
    }

    @Test("Spaces are trimmed as Foundation's whitespaces trims them")
    func trimmingSpaces() {
        let samples = [
            "", " ", "\t", "launch", " launch ", "\tlaunch\t", "\u{00A0}launch\u{3000}", "\u{2003}\u{2003}", "la unch",
            " ä ", "ä", "\u{200B}launch", "launch\u{205F}", "\u{1680}x\u{202F}", "\u{FEFF}x", "x\u{0085}", "\u{180E}x", "x\u{200A}", "\u{200C}x",
        ]
        for text in samples {
            #expect(TextCleaning.trimmingSpaces(text) == text.trimmingCharacters(in: .whitespaces), "\(text.unicodeScalars.map { String($0.value, radix: 16) })")
        }
    }

    @Test("A part is found in a text where the standard library finds it, for ASCII and multi-byte text")
    func containsText() {
        let texts = ["", "/", "/images/search?q=1", "/imgres", "/maps/place/Köln", "日本語のページ", "aaab", "/search/", "ab"]
        let parts = ["", "/", "/images", "/images/search", "ö", "Köln", "語の", "aab", "/search/", "abc", "b"]
        for text in texts {
            for part in parts {
                let expected = part.isEmpty || text.utf8.count >= part.utf8.count
                    && text.utf8.indices.contains { text.utf8[$0...].starts(with: part.utf8) }
                #expect(TextCleaning.contains(text, part) == expected, "\(text) contains \(part)")
            }
        }
        #expect(TextCleaning.contains("/imgres?imgurl=x", "/imgres"))
        #expect(!TextCleaning.contains("/img", "/imgres"))
    }

    @Test("The policy digest is SHA-256 of the canonical text")
    func digest() {
        // FIPS 180-2 test vector.
        #expect(PolicyDigest(canonicalText: "abc").hex == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(PolicyDigest(canonicalText: "abc").description.hasPrefix("sha256:"))
    }
}
