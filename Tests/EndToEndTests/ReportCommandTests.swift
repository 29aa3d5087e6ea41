import Foundation
import Testing

@Suite("tally-central report on the command line")
struct ReportCommandTests {
    static let central = EdgeProcess.binary("tally-central")

    func sandbox() throws -> (String, String) {
        let path = NSTemporaryDirectory() + "tally-report-cli-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let config = path + "/central.toml"
        try """
            data_dir = "\(path)/data"
            [ingest]
            certificate_file = "unused"
            key_file = "unused"
            edge_ca_file = "unused"
            [[sites]]
            id = 1
            name = "Example"
            time_zone = "Europe/Berlin"
            """.write(toFile: config, atomically: true, encoding: .utf8)
        return (path, config)
    }

    @Test("Bad input: one clear line and exit status 2", arguments: [
        (["--report", "visitors_log"], "report visitors_log is not known"),
        (["--site", "7"], "site 7 is not configured"),
        (["--date", "2026-02-30"], "date 2026-02-30 is not a date"),
        (["--period", "range", "--date", "2026-11-20,2026-11-01"], "date 2026-11-20,2026-11-01 starts after it ends"),
        (["--period", "fortnight"], "period fortnight is not known"),
        (["--format", "pdf"], "--format pdf is not known"),
        (["--date", "last0"], "date last0 is not lastN"),
    ])
    func badInput(_ extra: [String], _ message: String) async throws {
        let (path, config) = try sandbox()
        defer { try? FileManager.default.removeItem(atPath: path) }
        var arguments = ["report", "-c", config, "--site", "1", "--report", "pages", "--period", "day", "--date", "2026-11-16"]
        for index in stride(from: 0, to: extra.count, by: 2) {
            if let existing = arguments.firstIndex(of: extra[index]) {
                arguments[existing + 1] = extra[index + 1]
            } else {
                arguments += [extra[index], extra[index + 1]]
            }
        }
        let result = try await EdgeProcess.command(arguments, executable: Self.central)
        #expect(result.status == 2, "\(result.output)")
        #expect(result.output.hasPrefix("tally-central: ") && result.output.contains(message), "\(result.output)")
        #expect(result.output.split(separator: "\n").count == 1)
    }

    @Test("Several reports at once: text to standard output, CSV files into a directory")
    func severalReports() async throws {
        let (path, config) = try sandbox()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let text = try await EdgeProcess.command(["report", "-c", config, "--site", "1", "--report", "summary,countries", "--period", "week", "--date", "2026-11-16"], executable: Self.central)
        #expect(text.status == 0, "\(text.output)")
        #expect(text.output.contains("Summary — Example (site 1)") && text.output.contains("Countries — Example (site 1)"))
        #expect(text.output.contains("Period: week 2026-11-16 to 2026-11-22 (Europe/Berlin)"))
        let csv = try await EdgeProcess.command(["report", "-c", config, "--site", "1", "--report", "summary,pages", "--format", "csv", "--output", path + "/out"], executable: Self.central)
        #expect(csv.status == 0, "\(csv.output)")
        #expect(FileManager.default.fileExists(atPath: path + "/out/summary.csv") && FileManager.default.fileExists(atPath: path + "/out/pages.csv"))
        let refused = try await EdgeProcess.command(["report", "-c", config, "--site", "1", "--report", "summary,pages", "--format", "csv"], executable: Self.central)
        #expect(refused.status == 2 && refused.output.contains("--output DIRECTORY"))
    }

    @Test("aggregate rebuilds a range of days on demand")
    func aggregateRange() async throws {
        let (path, config) = try sandbox()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let result = try await EdgeProcess.command(["aggregate", "-c", config, "--site", "1", "--from", "2026-10-24", "--to", "2026-10-26"], executable: Self.central)
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output == "Aggregated 3 site-day(s).\n")
        let reversed = try await EdgeProcess.command(["aggregate", "-c", config, "--from", "2026-10-26", "--to", "2026-10-24"], executable: Self.central)
        #expect(reversed.status == 2 && reversed.output.contains("is after --to"))
    }
}
