import CentralReporter
import Foundation
import TallyCore
import TallyTestSupport
import Testing

@Suite("Report formats")
struct RenderTests {
    static let script = """
        import csv, json, sys
        csv_path, json_path = sys.argv[1], sys.argv[2]
        raw = open(csv_path, 'rb').read()
        assert not raw.startswith(b'\\xef\\xbb\\xbf'), 'BOM'
        assert b'\\r\\n' in raw, 'CRLF line ends'
        rows = list(csv.reader(open(csv_path, newline='', encoding='utf-8')))
        doc = json.load(open(json_path, encoding='utf-8'))
        assert rows[0][1:] == doc['columns'], (rows[0], doc['columns'])
        assert len(rows) - 1 == len(doc['rows'])
        for line, obj in zip(rows[1:], doc['rows']):
            assert line[0] == obj['label'], (line[0], obj['label'])
            for column, cell in zip(doc['columns'], line[1:]):
                assert float(cell) == float(obj[column]), (column, cell, obj[column])
        print('same', len(rows) - 1)
        """

    static let alignment = """
        import sys
        from wcwidth import wcswidth
        lines = open(sys.argv[1], encoding='utf-8').read().split('\\n')
        table = [l for l in lines[3:] if l]
        rule = table[1]
        starts = [i for i, ch in enumerate(rule) if ch == '-' and (i == 0 or rule[i - 1] == ' ')]
        ends = [i for i, ch in enumerate(rule) if ch == '-' and (i + 1 == len(rule) or rule[i + 1] == ' ')]
        for line in table:
            # Every numeric cell must end exactly where its column's rule ends, counted in display columns.
            assert wcswidth(line) == len(rule), (line, wcswidth(line), len(rule))
        print('aligned', len(table))
        """

    func python(_ code: String, _ arguments: [String]) throws -> (Int32, String) {
        let run = try runToCompletion("/usr/bin/env", ["python3", "-c", code] + arguments)
        return (run.status, run.text)
    }

    @Test("CSV parses with Python's csv module into the same values as the JSON", arguments: ["summary", "pages", "page_titles", "countries", "campaigns", "events", "evolution", "goals"])
    func csvEqualsJSON(_ report: String) async throws {
        let directory = NSTemporaryDirectory() + "tally-render-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let c = try await ReportFixture.load(in: directory)
        let period = try ReportPeriod.parse(period: "range", date: "2026-10-24,2026-10-26", today: LocalDay("2026-11-02")!)
        let site = ReportSite(id: 1, name: "Example 例え", timeZone: ReportFixture.zone)
        let table = try await c.reports.report(ReportDefinition.named(report)!, site: site, period: period, limit: 100)
        try ReportFormat.csv.render(table).write(toFile: directory + "/r.csv", atomically: true, encoding: .utf8)
        try ReportFormat.json.render(table).write(toFile: directory + "/r.json", atomically: true, encoding: .utf8)
        let (status, output) = try python(Self.script, [directory + "/r.csv", directory + "/r.json"])
        #expect(status == 0, "\(output)")
        #expect(output.hasPrefix("same"))
    }

    @Test("CSV quotes commas, quotes and line breaks (RFC 4180)")
    func csvQuoting() {
        let table = ReportTable(
            report: .init(rawValue: "page_titles"), title: "Page titles", site: ReportSite(id: 1, name: "x", timeZone: .gmt),
            period: ReportPeriod(kind: .day, from: LocalDay("2026-10-24")!, to: LocalDay("2026-10-24")!),
            generatedAt: Date(timeIntervalSince1970: 0), dimension: "Title",
            columns: [.init(id: "pageviews", title: "Pageviews", format: .integer)],
            rows: [.init(label: "Say \"hi\", then\nleave", values: [3])])
        #expect(ReportFormat.csv.render(table) == "label,pageviews\r\n\"Say \"\"hi\"\", then\nleave\",3\r\n")
    }

    @Test("Text output stays aligned with Japanese and emoji labels (checked with Python's wcwidth)")
    func textAlignment() async throws {
        let directory = NSTemporaryDirectory() + "tally-render-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let c = try await ReportFixture.load(in: directory)
        let period = try ReportPeriod.parse(period: "range", date: "2026-10-24,2026-10-26", today: LocalDay("2026-11-02")!)
        let site = ReportSite(id: 1, name: "Example 例え", timeZone: ReportFixture.zone)
        for report in ["page_titles", "campaigns", "cities"] {
            let text = ReportFormat.text.render(try await c.reports.report(ReportDefinition.named(report)!, site: site, period: period, limit: 100))
            #expect(text.contains("Example 例え (site 1)"))
            #expect(text.contains("Period: 2026-10-24 to 2026-10-26 (Europe/Berlin) · generated 2026-11-02T12:00:00Z"))
            try text.write(toFile: directory + "/r.txt", atomically: true, encoding: .utf8)
            let (status, output) = try python(Self.alignment, [directory + "/r.txt"])
            #expect(status == 0, "\(report): \(output)\n\(text)")
        }
    }
}
