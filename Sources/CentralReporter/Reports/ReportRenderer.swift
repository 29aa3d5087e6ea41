import Foundation

/// Output formats of a report.
public enum ReportFormat: String, Sendable, CaseIterable {
    case text, csv, json

    public var contentType: String {
        switch self {
        case .text: "text/plain; charset=utf-8"
        case .csv: "text/csv; charset=utf-8"
        case .json: "application/json"
        }
    }

    public func render(_ table: ReportTable) -> String {
        switch self {
        case .text: TextRenderer.render(table)
        case .csv: CSVRenderer.render(table)
        case .json: JSONRenderer.render(table)
        }
    }
}

/// Numbers as they appear in CSV and JSON: integers without a decimal point, others with up to two
/// decimals — the same text in both formats, so both parse to the same values. Stored numbers are
/// finite and bounded (`Hit.numberRange`); a value that is not finite all the same (a sum over data
/// stored before that rule) is written as JSON's `null`, which CSV writes as an empty cell.
func plainNumber(_ value: Double) -> String {
    guard value.isFinite else { return "null" }
    if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
    var text = String(format: "%.2f", value)
    while text.hasSuffix("0") { text.removeLast() }
    return text
}

/// Fixed-width text: a header naming site, period and generation time, then an aligned table. Widths
/// count display columns, so Japanese text and emoji (two columns each) stay aligned.
enum TextRenderer {
    static func render(_ table: ReportTable) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        var out = "\(table.title) — \(table.site.name) (site \(table.site.id))\n"
        out += "Period: \(table.period) (\(table.site.timeZone.identifier)) · generated \(formatter.string(from: table.generatedAt))\n\n"
        let header = [table.dimension] + table.columns.map(\.title)
        let body = table.rows.map { row in [row.label] + zip(row.values, table.columns).map { format($0, $1.format) } }
        guard !body.isEmpty else { return out + "No data for this period.\n" }
        var widths = header.map(displayWidth)
        for cells in body {
            for (i, cell) in cells.enumerated() { widths[i] = max(widths[i], displayWidth(cell)) }
        }
        widths[0] = min(widths[0], 60)
        func line(_ cells: [String]) -> String {
            var parts: [String] = []
            for (i, cell) in cells.enumerated() {
                let text = i == 0 ? truncate(cell, to: widths[0]) : cell
                let pad = String(repeating: " ", count: max(0, widths[i] - displayWidth(text)))
                parts.append(i == 0 ? text + pad : pad + text)
            }
            return parts.joined(separator: "  ").replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression) + "\n"
        }
        out += line(header)
        out += widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ") + "\n"
        for cells in body { out += line(cells) }
        return out
    }

    static func format(_ value: Double, _ format: ReportColumn.Format) -> String {
        guard value.isFinite, abs(value) < 1e15 else { return value.isFinite ? String(format: "%.0f", value) : "-" }
        return switch format {
        case .integer: String(Int64(value))
        case .decimal: String(format: "%.2f", value)
        case .percent: String(format: "%.1f%%", value)
        case .duration:
            String(format: "%d:%02d:%02d", Int(value) / 3600, Int(value) / 60 % 60, Int(value) % 60)
        }
    }

    /// Columns a string takes in a terminal: East Asian wide and fullwidth characters and emoji take
    /// two, combining marks and joiners none (after Unicode UAX #11 and the wcwidth convention).
    static func displayWidth(_ text: String) -> Int {
        text.reduce(0) { $0 + width(of: $1) }
    }

    static func width(of character: Character) -> Int {
        let scalars = character.unicodeScalars
        if scalars.contains(where: { $0.properties.isEmojiPresentation }) || scalars.contains(where: { $0.value == 0xFE0F }) {
            return 2
        }
        guard let first = scalars.first else { return 0 }
        if first.properties.generalCategory == .nonspacingMark || first.properties.generalCategory == .enclosingMark || first.value == 0x200D {
            return 0
        }
        if first.value < 0x20 { return 0 }
        return isWide(first.value) ? 2 : 1
    }

    static func isWide(_ v: UInt32) -> Bool {
        (0x1100...0x115F).contains(v) || (0x2E80...0x303E).contains(v) || (0x3041...0x33FF).contains(v)
            || (0x3400...0x4DBF).contains(v) || (0x4E00...0x9FFF).contains(v) || (0xA000...0xA4CF).contains(v)
            || (0xAC00...0xD7A3).contains(v) || (0xF900...0xFAFF).contains(v) || (0xFE30...0xFE4F).contains(v)
            || (0xFF00...0xFF60).contains(v) || (0xFFE0...0xFFE6).contains(v) || (0x20000...0x3FFFD).contains(v)
    }

    /// Cuts a label to `width` display columns, marking the cut with "…".
    static func truncate(_ text: String, to width: Int) -> String {
        guard displayWidth(text) > width else { return text }
        var out = ""
        var used = 0
        for character in text {
            let w = self.width(of: character)
            if used + w > width - 1 { break }
            out.append(character)
            used += w
        }
        return out + "…"
    }
}

/// RFC 4180: a header row, CRLF line ends, fields quoted when they hold a comma, quote, CR or LF, with
/// quotes doubled. UTF-8 without a byte-order mark. Text cells are neutralised against formula
/// injection (OWASP's rule: https://owasp.org/www-community/attacks/CSV_Injection): a cell that
/// begins with `=`, `+`, `-`, `@`, tab or carriage return gets a leading `'`, so a spreadsheet shows
/// a tracked title such as `=HYPERLINK(…)` as text instead of running it. Number cells are Tally's own
/// digits and stay numbers.
enum CSVRenderer {
    static func render(_ table: ReportTable) -> String {
        var lines = [([table.report.rawValue == "evolution" ? "date" : "label"] + table.columns.map(\.id)).map(text).joined(separator: ",")]
        for row in table.rows {
            lines.append(([text(row.label)] + row.values.map { $0.isFinite ? plainNumber($0) : "" }).joined(separator: ","))
        }
        return lines.joined(separator: "\r\n") + "\r\n"
    }

    /// A text cell: neutralised, then quoted as RFC 4180 needs.
    static func text(_ value: String) -> String { field(neutralised(value)) }

    static func neutralised(_ value: String) -> String {
        guard let first = value.unicodeScalars.first, ["=", "+", "-", "@", "\t", "\r"].contains(first) else { return value }
        return "'" + value
    }

    static func field(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\r" || $0 == "\n" || $0 == "\r\n" }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}

/// JSON: site, report, period and generation time, the columns, and one object per row.
enum JSONRenderer {
    static func render(_ table: ReportTable) -> String {
        let formatter = ISO8601DateFormatter()
        var out = "{\"site\":\(table.site.id),\"report\":\(quote(table.report.rawValue)),"
        out += "\"period\":{\"from\":\(quote(table.period.from.description)),\"to\":\(quote(table.period.to.description)),\"time_zone\":\(quote(table.site.timeZone.identifier))},"
        out += "\"generated_at\":\(quote(formatter.string(from: table.generatedAt))),"
        out += "\"columns\":[\(table.columns.map { quote($0.id) }.joined(separator: ","))],\"rows\":["
        out += table.rows.map { row in
            "{\"label\":\(quote(row.label))," + zip(table.columns, row.values).map { "\(quote($0.id)):\(plainNumber($1))" }.joined(separator: ",") + "}"
        }.joined(separator: ",")
        return out + "]}\n"
    }

    static func quote(_ text: String) -> String {
        let data = (try? JSONEncoder().encode(text)) ?? Data("\"\"".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}
