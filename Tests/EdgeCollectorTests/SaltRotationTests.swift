import EdgeCollector
import Foundation
import Testing

@Suite("Salt rotation")
struct SaltRotationTests {
    static func date(_ text: String) -> Date { ISO8601DateFormatter().date(from: text)! }

    /// The salts in the state file, as base64 keys by period start.
    static func saltsOnDisk(_ path: String) throws -> [String] {
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
        return (json["salts"] as! [[String: Any]]).map { $0["key"] as! String }
    }

    @Test("Same visitor, same id within the day; a different id after rotation; the old salt deleted on time")
    func daily() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("salts.json")
        let clock = FrozenClock(Self.date("2026-11-23T10:00:00Z"))
        var store = try SaltStore(path: path, now: clock.now())
        var hasher = VisitorHasher(salts: store)
        let ip = IPAddress("203.0.113.77")!
        func id() throws -> String {
            try hasher.visitorID(siteID: 1, address: ip, userAgent: Fixtures.chrome, rotation: .daily, at: clock.now())
        }

        let morning = try id()
        clock.set(Self.date("2026-11-23T23:59:59Z"))
        #expect(try id() == morning)
        #expect(try hasher.visitorID(siteID: 2, address: ip, userAgent: Fixtures.chrome, rotation: .daily, at: clock.now()) != morning)
        #expect(try hasher.visitorID(siteID: 1, address: IPAddress("203.0.113.78")!, userAgent: Fixtures.chrome, rotation: .daily, at: clock.now()) != morning)
        let firstSalt = try #require(try Self.saltsOnDisk(path).first)

        clock.set(Self.date("2026-11-24T00:00:01Z"))
        let nextDay = try id()
        #expect(nextDay != morning)

        // A restart keeps the day's salt: the id stays.
        store = try SaltStore(path: path, now: clock.now())
        hasher = VisitorHasher(salts: store)
        #expect(try id() == nextDay)

        // Kept through the next rotation plus one day, then gone from memory and from the file's bytes.
        clock.set(Self.date("2026-11-24T23:59:00Z"))
        try store.prune(now: clock.now())
        #expect(try Self.saltsOnDisk(path).contains(firstSalt))
        clock.set(Self.date("2026-11-25T00:00:01Z"))
        try store.prune(now: clock.now())
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(bytes.range(of: Data(firstSalt.utf8)) == nil)
        #expect(bytes.range(of: Data(base64Encoded: firstSalt)!) == nil)
        #expect(store.snapshot.count == 1)

        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
    }

    @Test("Weekly salts hold from Monday to Sunday (UTC)")
    func weekly() throws {
        let store = try SaltStore(path: nil, now: Self.date("2026-11-23T00:00:00Z"))
        let hasher = VisitorHasher(salts: store)
        let ip = IPAddress("2001:db8::1")!
        func id(_ at: String) throws -> String {
            try hasher.visitorID(siteID: 1, address: ip, userAgent: "UA", rotation: .weekly, at: Self.date(at))
        }
        let monday = try id("2026-11-23T00:00:00Z")
        #expect(try id("2026-11-29T23:59:59Z") == monday)
        #expect(try id("2026-11-30T00:00:00Z") != monday)
    }

    @Test("A group- or world-readable salt file is refused")
    func permissions() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("salts.json")
        _ = try SaltStore(path: path, now: Date()).key(for: .daily, at: Date())
        chmod(path, 0o644)
        #expect(throws: EdgeError.self) { try SaltStore(path: path, now: Date()) }
    }
}
