import ArgumentParser
import CentralReporter
import Foundation
import Logging
import TallyCore

/// Bad input to a reporting command: one line on standard error, exit status 2.
func usageError(_ message: String) -> Never {
    FileHandle.standardError.write(Data("tally-central: \(message)\n".utf8))
    exit(2)
}

struct Report: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print one or more reports for a site and period.",
        discussion: """
            Reports: summary, pages, entry_pages, exit_pages, page_titles, referrer_types, referrers, campaigns,
            countries, regions, cities, browsers, os, devices, resolutions, languages, events, site_search,
            outlinks, downloads, goals, hours, evolution.
            Example: tally-central report -c central.toml --site 1 --report pages,countries --period week --date 2026-11-16
            """)

    @OptionGroup var options: ConfigOptions
    @Option(help: "Site id.") var site: Int
    @Option(help: "Report id, or several separated by commas.") var report: String
    @Option(help: "day, week, month, year or range.") var period: String = "day"
    @Option(help: "YYYY-MM-DD, today, yesterday, lastN or FROM,TO (days in the site's time zone).") var date: String = "today"
    @Option(help: "text, csv or json.") var format: String = "text"
    @Option(help: "Rows before the rest is folded into an Others row.") var limit: Int = 100
    @Option(help: "Write to this file (or, for several CSV reports, this directory) instead of standard output.") var output: String?

    func run() async throws {
        let config = options.load()
        guard let format = ReportFormat(rawValue: format) else { usageError("--format \(format) is not known; use text, csv or json.") }
        guard limit >= 1 else { usageError("--limit \(limit) must be at least 1.") }
        guard let site = config.site(id: site) else {
            usageError("site \(site) is not configured; add it under [[sites]] in \(options.config).")
        }
        let ids = report.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        var definitions: [ReportDefinition] = []
        for id in ids {
            guard let definition = ReportDefinition.named(id) else {
                usageError("report \(id) is not known; use one of \(ReportDefinition.all.map(\.id.rawValue).joined(separator: ", ")).")
            }
            definitions.append(definition)
        }
        guard !definitions.isEmpty else { usageError("--report names no report.") }
        if format == .csv, definitions.count > 1, output == nil {
            usageError("several CSV reports need --output DIRECTORY (one file per report).")
        }
        let components = await openComponents(config)
        let reportPeriod: ReportPeriod
        do {
            reportPeriod = try ReportPeriod.parse(period: period, date: date, today: components.reports.today(site: site))
        } catch {
            usageError(error.description)
        }
        var rendered: [(String, String)] = []
        for definition in definitions {
            let table = try await components.reports.report(definition, site: site, period: reportPeriod, limit: limit)
            rendered.append((definition.id.rawValue, format.render(table)))
        }
        try write(rendered, format: format)
    }

    private func write(_ rendered: [(String, String)], format: ReportFormat) throws {
        if format == .csv, rendered.count > 1, let output {
            try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
            for (id, text) in rendered {
                try text.write(toFile: (output as NSString).appendingPathComponent("\(id).csv"), atomically: true, encoding: .utf8)
            }
            return
        }
        let text = switch format {
        case .json where rendered.count > 1: "[" + rendered.map { $0.1.trimmingCharacters(in: .newlines) }.joined(separator: ",") + "]\n"
        default: rendered.map(\.1).joined(separator: "\n")
        }
        if let output {
            try text.write(toFile: output, atomically: true, encoding: .utf8)
        } else {
            FileHandle.standardOutput.write(Data(text.utf8))
        }
    }
}

struct Aggregate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Recompute daily aggregates now (all dirty days, or a range).")

    @OptionGroup var options: ConfigOptions
    @Option(help: "Only this site.") var site: Int?
    @Option(help: "First day (YYYY-MM-DD) to rebuild.") var from: String?
    @Option(help: "Last day (YYYY-MM-DD) to rebuild.") var to: String?

    func run() async throws {
        let config = options.load()
        let components = await openComponents(config)
        if from != nil || to != nil {
            guard let fromText = from, let toText = to, let first = LocalDay(fromText), let last = LocalDay(toText) else {
                usageError("--from and --to must both be dates (YYYY-MM-DD).")
            }
            let supported = LocalDay.reportable
            guard supported.contains(first), supported.contains(last) else {
                usageError("--from \(fromText) --to \(toText) reaches outside the supported dates \(supported.lowerBound) to \(supported.upperBound); pick days in that range.")
            }
            guard first <= last else { usageError("--from \(fromText) is after --to \(toText); put the earlier date first.") }
            let sites: [Int] = if let site { [site] } else { try await components.store.siteIDs() }
            for site in sites { try await components.store.markDirty(site: site, from: first, to: last) }
        }
        let before = try await components.store.dirtyDays(limit: .max).filter { site == nil || $0.site == site }
        let gap = Double(config.aggregation.visitGapMinutes * 60)
        let written = try await components.store.recompute(before, gap: gap)
        print("Aggregated \(written) site-day(s).")
    }
}

struct Purge: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Delete raw hits older than raw_retention_days; aggregates stay.")

    @OptionGroup var options: ConfigOptions

    func run() async throws {
        let config = options.load()
        let components = await openComponents(config)
        for (site, deleted, before) in try await components.aggregation.purgeExpired() {
            print("Site \(site): \(deleted) raw hit(s) before \(before) deleted.")
        }
    }
}
