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
