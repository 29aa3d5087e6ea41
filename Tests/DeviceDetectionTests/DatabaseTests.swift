import DeviceDetection
import Foundation
import Testing

/// The database is read from a directory an operator may replace: what goes wrong there must be one clear
/// line, or, for a single bad pattern, a warning and the rest working.
@Suite("Device database loading")
struct DatabaseTests {
    /// A private copy of the installed database, to break.
    final class Copy {
        let path = NSTemporaryDirectory() + "tally-dd-" + UUID().uuidString
        init() throws { try FileManager.default.copyItem(atPath: DeviceDatabase.installedDirectory, toPath: path) }
        deinit { try? FileManager.default.removeItem(atPath: path) }

        func edit(_ file: String, _ change: (String) -> String) throws {
            let text = try String(contentsOfFile: path + "/" + file, encoding: .utf8)
            try change(text).write(toFile: path + "/" + file, atomically: true, encoding: .utf8)
        }
    }

    @Test("A missing file is named")
    func missingFile() throws {
        let copy = try Copy()
        try FileManager.default.removeItem(atPath: copy.path + "/client/pim.yml")
        #expect { try DeviceDatabase(directory: copy.path) } throws: { error in
            "\(error)" == "device database: \(copy.path)/client/pim.yml is missing or unreadable; reinstall the database or fix device_database in edge.toml"
        }
    }

    @Test("YAML that does not parse is named by file and line")
    func unparsable() throws {
        let copy = try Copy()
        try copy.edit("bots.yml") { text in
            var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            lines.insert("- regex: 'x'\n  name: [unclosed", at: 10)
            return lines.joined(separator: "\n")
        }
        #expect { try DeviceDatabase(directory: copy.path) } throws: { error in
            let text = "\(error)"
            return text.hasPrefix("device database: \(copy.path)/bots.yml:1") && text.contains("YAML does not parse") && !text.contains("\n")
        }
    }

    @Test("A pattern ICU cannot compile is reported by file and entry and skipped; detection goes on")
    func invalidPattern() throws {
        let copy = try Copy()
        try copy.edit("bots.yml") { "- regex: 'Zorglub(Agent'\n  name: 'Broken entry'\n\n" + $0 }
        let database = try DeviceDatabase(directory: copy.path)
        let problems = database.invalidPatterns()
        #expect(problems.count == 1)
        #expect(problems.first?.hasPrefix("\(copy.path)/bots.yml: entry Broken entry: pattern Zorglub(Agent does not compile") == true, "\(problems)")
        let detector = DeviceDetector(database: database)
        #expect(detector.detect(userAgent: "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)").bot?.name == "Googlebot")
        #expect(detector.detect(userAgent: "Zorglub(Agent/1.0").bot == nil)
        #expect(try DeviceDatabase(directory: DeviceDatabase.installedDirectory).invalidPatterns().isEmpty, "the pinned database compiles whole")
    }

    @Test("A crawler pattern ICU cannot compile is reported by entry and skipped; the list's other patterns still match")
    func invalidCrawlerPattern() throws {
        let path = NSTemporaryDirectory() + "tally-crawlers-" + UUID().uuidString + ".json"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try #"[{"pattern": "Zorglub(Agent"}, {"pattern": "Snarfle"}]"#.write(toFile: path, atomically: true, encoding: .utf8)
        let crawlers = try CrawlerPatterns(path: path)
        let problems = crawlers.invalidPatterns()
        #expect(problems.count == 1)
        #expect(problems.first?.hasPrefix("\(path): entry 0: pattern Zorglub(Agent does not compile (") == true, "\(problems)")
        #expect(problems.first?.hasSuffix("); it is skipped") == true)
        let classifier = UserAgentClassifier(detector: try SharedDetector.detector(), crawlers: crawlers)
        let bot = classifier.classify(userAgent: "Snarfle/2.0").bot
        #expect(bot?.name == "Snarfle")
        #expect(bot?.category == UserAgentClassifier.crawlerCategory)
        #expect(classifier.classify(userAgent: "Zorglub(Agent/1.0").bot == nil)
        let pinned = try CrawlerPatterns(path: CrawlerPatterns.installedPath)
        #expect(pinned.count > 500)
        #expect(pinned.invalidPatterns().isEmpty, "the pinned list compiles whole")
    }

    @Test("The literal filters never change an answer: sampled fixtures (every thirtieth) get the same result with them and without")
    func filtersAreExact() throws {
        let sample = try #require(ConformanceTests.fixtures)
        let detector = try SharedDetector.detector()
        let unfiltered = try SharedDetector.unfiltered()
        var differences: [String] = []
        for fixture in sample.cases.enumerated().filter({ $0.offset % 30 == 0 }).map(\.element) {
            let a = detector.detect(userAgent: fixture.userAgent, hints: fixture.hints)
            let b = unfiltered.detect(userAgent: fixture.userAgent, hints: fixture.hints)
            if a != b { differences.append("\(fixture.userAgent): \(a) vs \(b)") }
        }
        #expect(differences.isEmpty, "\(differences.joined(separator: "\n"))")
    }
}
