import Foundation
import DeviceDetection
import EdgeCollector

/// The detection databases `scripts/install-deps.sh` installs, loaded once per test process.
enum TestDatabases {
    static func userAgents() throws -> UserAgentParser {
        UserAgentParser(classifier: try DetectionDatabases.classifier(devices: DeviceDatabase.installedDirectory, crawlers: CrawlerPatterns.installedPath))
    }

    static func referrers() throws -> ReferrerDatabase {
        try DetectionDatabases.referrerDatabase(ReferrerDatabase.installedPath)
    }
}

/// Runs a helper program from the package root with `input` on stdin (through a file, so a large
/// answer cannot block on a full pipe while the input is still being written) and returns its stdout.
enum ProcessRunner {
    static func run(_ arguments: [String], input: String) throws -> String {
        let inputFile = NSTemporaryDirectory() + "tally-runner-\(UUID().uuidString)"
        try input.write(toFile: inputFile, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: inputFile) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.currentDirectoryURL = Fixtures.packageRoot
        process.standardInput = try FileHandle(forReadingFrom: URL(fileURLWithPath: inputFile))
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }
}
