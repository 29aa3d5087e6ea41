import Foundation
import DeviceDetection
import EdgeCollector
import TallyTestSupport

/// The detection databases `scripts/install-deps.sh` installs, loaded once per test process.
enum TestDatabases {
    static func userAgents() throws -> UserAgentParser {
        UserAgentParser(classifier: try DetectionDatabases.classifier(devices: DeviceDatabase.installedDirectory, crawlers: CrawlerPatterns.installedPath))
    }

    static func referrers() throws -> ReferrerDatabase {
        try DetectionDatabases.referrerDatabase(ReferrerDatabase.installedPath)
    }
}

/// Runs a helper program from the package root with `input` on stdin and returns its stdout.
enum ProcessRunner {
    static func run(_ arguments: [String], input: String) throws -> String {
        try runToCompletion("/usr/bin/env", arguments, input: Data(input.utf8), in: Fixtures.packageRoot, withErrors: false).text
    }
}
