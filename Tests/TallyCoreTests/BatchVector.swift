import Crypto
import Foundation
import TallyCore
import Testing

/// The documented test vector's inputs: a fixed key and two hits.
enum BatchVector {
    static var privateKey: Curve25519.Signing.PrivateKey {
        try! Curve25519.Signing.PrivateKey(rawRepresentation: Data((1...32).map { UInt8($0) }))
    }
    static let header = BatchHeader(
        edgeID: "edge-1", sequence: 42, createdAt: 1_795_478_400_000, hitCount: 2,
        policyDigest: "c34be9e62bc32f47e4817eabab7505d7a0ec94e01970c0f4623ba8a732f2b437", bodyBytes: 0)
    static var hits: [Hit] {
        var first = Hit(siteID: 1, kind: .pageview, timestamp: 1_795_478_399_000)
        first.url = "https://example.com/"
        first.visitorID = "427271e8f8a1658f"
        first.country = "FR"
        first.city = "Paris"
        var second = Hit(siteID: 1, kind: .event, timestamp: 1_795_478_399_500)
        second.url = "https://example.com/"
        second.visitorID = "427271e8f8a1658f"
        second.eventCategory = "Video"
        second.eventAction = "Play"
        return [first, second]
    }
}
