import DeviceDetection
import Foundation
import TallyCore
import Testing
import Yams

/// Matomo's own device-detector fixtures (shipped in the `device-detector` package next to the database)
/// run through Tally's detector: a seeded sample spread over every fixture file, bots included.
@Suite("device-detector conformance")
struct ConformanceTests {
    static let fixtures = FixtureSample.load()

    @Test("At least 99 % agreement on browser family, OS family and device type, and 99 % bot recall")
    func agreement() throws {
        let sample = try #require(Self.fixtures)
        let detector = try SharedDetector.detector()
        #expect(sample.cases.count >= 2_000)
        #expect(Set(sample.cases.map(\.file)).count == sample.fileCount, "every fixture file is sampled")

        var humans = 0, browserAgree = 0, osAgree = 0, deviceAgree = 0
        var bots = 0, botsFound = 0
        var disagreements: [String] = []
        for fixture in sample.cases {
            let detection = detector.detect(userAgent: fixture.userAgent, hints: fixture.hints)
            if fixture.isBot {
                bots += 1
                if detection.bot != nil { botsFound += 1 } else { disagreements.append("\(fixture.file): bot not detected: \(fixture.userAgent)") }
                continue
            }
            humans += 1
            let browser = detection.bot == nil ? (detection.browserFamily ?? "Unknown") : "bot \(detection.bot!.name)"
            let os = detection.bot == nil ? (detection.osFamily ?? "Unknown") : "bot"
            let device = detection.device?.rawValue ?? ""
            if browser == fixture.browserFamily { browserAgree += 1 } else {
                disagreements.append("\(fixture.file): browser family \(browser), expected \(fixture.browserFamily): \(fixture.userAgent)")
            }
            if os == fixture.osFamily { osAgree += 1 } else {
                disagreements.append("\(fixture.file): OS family \(os), expected \(fixture.osFamily): \(fixture.userAgent)")
            }
            if device == fixture.deviceType { deviceAgree += 1 } else {
                disagreements.append("\(fixture.file): device \(device.isEmpty ? "none" : device), expected \(fixture.deviceType.isEmpty ? "none" : fixture.deviceType): \(fixture.userAgent)")
            }
        }
        func rate(_ n: Int, _ d: Int) -> Double { d == 0 ? 0 : Double(n) / Double(d) }
        let summary = String(format: "%d fixtures (%d bots): browser family %.2f %%, OS family %.2f %%, device type %.2f %%, bot recall %.2f %%",
                             sample.cases.count, bots, 100 * rate(browserAgree, humans), 100 * rate(osAgree, humans),
                             100 * rate(deviceAgree, humans), 100 * rate(botsFound, bots))
        let ok = rate(browserAgree, humans) >= 0.99 && rate(osAgree, humans) >= 0.99 && rate(deviceAgree, humans) >= 0.99 && rate(botsFound, bots) >= 0.99
        #expect(ok, "\(summary)\n\(disagreements.joined(separator: "\n"))")
        print(summary)
        if ProcessInfo.processInfo.environment["TALLY_SHOW_DISAGREEMENTS"] != nil { print(disagreements.joined(separator: "\n")) }
    }
}

/// The detector over the installed database, loaded once per test process.
enum SharedDetector {
    static let loaded: Result<DeviceDetector, any Error> = Result {
        DeviceDetector(database: try DeviceDatabase(directory: DeviceDatabase.installedDirectory))
    }

    static func detector() throws -> DeviceDetector { try loaded.get() }

    static let loadedUnfiltered: Result<DeviceDetector, any Error> = Result {
        DeviceDetector(database: try DeviceDatabase(directory: DeviceDatabase.installedDirectory, literalFilters: false))
    }

    static func unfiltered() throws -> DeviceDetector { try loadedUnfiltered.get() }
}

struct Fixture {
    var file: String
    var userAgent: String
    var hints: DetectionHints?
    var isBot: Bool
    var browserFamily: String
    var osFamily: String
    var deviceType: String
}

struct FixtureSample {
    var cases: [Fixture]
    var fileCount: Int

    /// Fixtures per file, and more of the bot file (bot recall is measured on it): 2,350 in all.
    static let perFile = 30
    static let botFixtures = 250

    static func load() -> FixtureSample? {
        let directory = DeviceDatabase.installedFixturesDirectory
        guard let files = try? FileManager.default.contentsOfDirectory(atPath: directory).filter({ $0.hasSuffix(".yml") }).sorted() else { return nil }
        var generator = SeededGenerator(seed: 20261201)
        var cases: [Fixture] = []
        for file in files {
            guard let text = try? String(contentsOfFile: directory + "/" + file, encoding: .utf8),
                  let entries = (try? Yams.load(yaml: text)) as? [[String: Any]] else { continue }
            let count = file == "bots.yml" ? botFixtures : perFile
            for entry in entries.shuffled(using: &generator).prefix(count) {
                guard let userAgent = entry["user_agent"] as? String else { continue }
                var hints: DetectionHints?
                if let headers = entry["headers"] as? [String: Any] {
                    hints = DetectionHints(headers: headers.compactMapValues { $0 as? String ?? ($0 as? any CustomStringConvertible)?.description })
                }
                let device = (entry["device"] as? [String: Any])?["type"].map { "\($0)" } ?? ""
                cases.append(Fixture(
                    file: file, userAgent: userAgent, hints: hints, isBot: entry["bot"] != nil,
                    browserFamily: entry["browser_family"].map { "\($0)" } ?? "Unknown",
                    osFamily: entry["os_family"].map { "\($0)" } ?? "Unknown", deviceType: device))
            }
        }
        return FixtureSample(cases: cases, fileCount: files.count)
    }
}
