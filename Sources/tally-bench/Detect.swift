import ArgumentParser
import DeviceDetection
import EdgeCollector
import Foundation
import TallyCore
import Yams

/// The user-agent detection on its own: how long the databases take to load, and what one user agent
/// costs the first time it is seen (the cache is bypassed), over distinct user agents from device-detector's
/// fixtures. Also writes the benchmark's user-agent mix.
struct Detect: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Time database loading and uncached user-agent detection.")

    @Option(help: "device-detector's regex directory.") var deviceDatabase = DeviceDatabase.installedDirectory
    @Option(help: "The crawler-user-agents list.") var crawlerPatterns = CrawlerPatterns.installedPath
    @Option(help: "Distinct user agents to draw from the fixtures.") var count = 5_000
    @Option(help: "Write the drawn user agents here, one per line, most frequent first (for matomo-mix.lua).") var write: String?
    @Flag(help: "Only write the user agents; time nothing.") var writeOnly = false

    func run() async throws {
        let agents = try UserAgentMix.draw(count: count)
        if let write { try (agents.joined(separator: "\n") + "\n").write(toFile: write, atomically: true, encoding: .utf8) }
        if writeOnly { return }
        let clock = ContinuousClock()
        let started = clock.now
        let classifier = UserAgentClassifier(
            detector: DeviceDetector(database: try DeviceDatabase(directory: deviceDatabase)),
            crawlers: try CrawlerPatterns(path: crawlerPatterns))
        let loaded = clock.now - started
        var times: [Double] = []
        times.reserveCapacity(agents.count)
        var bots = 0
        for agent in agents {
            let start = clock.now
            let detection = classifier.classify(userAgent: agent)
            times.append(Double((clock.now - start).components.attoseconds) / 1e12 + Double((clock.now - start).components.seconds) * 1e6)
            if detection.bot != nil { bots += 1 }
        }
        var again: [Double] = []
        for agent in agents.prefix(500) {
            let start = clock.now
            _ = classifier.classify(userAgent: agent)
            let elapsed = clock.now - start
            again.append(Double(elapsed.components.attoseconds) / 1e12 + Double(elapsed.components.seconds) * 1e6)
        }
        func percentile(_ values: [Double], _ p: Double) -> Double {
            let sorted = values.sorted()
            return sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
        }
        print("databases loaded\t\(String(format: "%.0f", Double(loaded.components.attoseconds) / 1e15 + Double(loaded.components.seconds) * 1e3)) ms")
        print("user agents\t\(agents.count) (\(bots) bots)")
        print("first detection, mean\t\(String(format: "%.0f", times.reduce(0, +) / Double(times.count))) µs")
        print("first detection, p50 / p99\t\(String(format: "%.0f / %.0f", percentile(times, 0.5), percentile(times, 0.99))) µs")
        print("repeat detection (patterns compiled), mean\t\(String(format: "%.0f", again.reduce(0, +) / Double(again.count))) µs")
    }
}

/// Distinct user agents from device-detector's fixtures, drawn with a fixed seed across every fixture
/// file; ordered so that a Zipf weighting by rank gives a realistic mix (the order itself is seeded).
enum UserAgentMix {
    static func draw(count: Int, fixtures: String = DeviceDatabase.installedFixturesDirectory) throws -> [String] {
        let files = try FileManager.default.contentsOfDirectory(atPath: fixtures).filter { $0.hasSuffix(".yml") }.sorted()
        var all: [String] = []
        var seen: Set<String> = []
        for file in files {
            let text = try String(contentsOfFile: fixtures + "/" + file, encoding: .utf8)
            for entry in (try Yams.load(yaml: text) as? [[String: Any]]) ?? [] {
                if let agent = entry["user_agent"] as? String, !agent.isEmpty, agent.utf8.count < 1_000, seen.insert(agent).inserted { all.append(agent) }
            }
        }
        var random = SeededGenerator(seed: 5_000)
        all.shuffle(using: &random)
        return Array(all.prefix(count))
    }
}
