import Foundation

/// A value in a Matomo API answer.
enum MatomoValue: Sendable, Equatable {
    case int(Int)
    case number(Double)
    case text(String)
    /// Named values within a column (`metrics` in `API.getReportMetadata`).
    case object(MatomoRow)

    var sortKey: Double? {
        switch self {
        case let .int(n): Double(n)
        case let .number(x): x
        case let .text(s): Double(s.hasSuffix("%") ? String(s.dropLast()) : s)
        case .object: nil
        }
    }

    /// The value as text; an object's values joined with commas (where a format has only flat cells).
    var plain: String {
        switch self {
        case let .int(n): String(n)
        case let .number(x): x == x.rounded() && abs(x) < 1e15 ? String(Int(x)) : String(x)
        case let .text(s): s
        case let .object(row): row.columns.map { "\($0.name)=\($0.value.plain)" }.joined(separator: ",")
        }
    }
}

/// One row: ordered columns, as Matomo's DataTable rows keep them.
struct MatomoRow: Sendable, Equatable {
    var columns: [(name: String, value: MatomoValue)]

    subscript(name: String) -> MatomoValue? { columns.first { $0.name == name }?.value }

    static func == (a: MatomoRow, b: MatomoRow) -> Bool {
        a.columns.map(\.name) == b.columns.map(\.name) && a.columns.map(\.value) == b.columns.map(\.value)
    }
}

/// What a Matomo API method answers, in the shapes Matomo's renderers know: one value (`{"value":…}`),
/// one row (`VisitsSummary.get`), a list of rows (every report), a plain list (`getSitesIdWith…`), or
/// several of these keyed by date or site (`date=last7`, `idSite=all`).
indirect enum MatomoResult: Sendable {
    case value(MatomoValue)
    case row(MatomoRow)
    case table([MatomoRow])
    case list([MatomoValue])
    /// Keyed by `name`: `date` (several periods) or `idSite` (several sites).
    case keyed(name: String, entries: [(key: String, result: MatomoResult)])
    /// The answers of `API.getBulkRequest`, in order.
    case many([MatomoResult])
}

/// Matomo's output formats. `original` is JSON here (Matomo's PHP-serialised original is no use outside
/// PHP). CSV and TSV are UTF-16LE with a byte-order mark, as Matomo sends them, unless
/// `convertToUnicode=0` asks for UTF-8.
enum MatomoFormat: String, Sendable, CaseIterable {
    case json, original, xml, csv, tsv

    var contentType: String {
        switch self {
        case .json, .original: "application/json; charset=utf-8"
        case .xml: "text/xml; charset=utf-8"
        // Matomo sends both as a spreadsheet download, without a charset (the byte-order mark tells it).
        case .csv, .tsv: "application/vnd.ms-excel"
        }
    }
}

enum MatomoRenderer {
    static func render(_ result: MatomoResult, format: MatomoFormat, utf16: Bool) -> Data {
        switch format {
        case .json, .original: return Data(json(result).utf8)
        case .xml: return Data(("<?xml version=\"1.0\" encoding=\"utf-8\" ?>\n" + xml(result)).utf8)
        case .csv, .tsv:
            let text = separated(result, separator: format == .csv ? "," : "\t")
            guard utf16 else { return Data(text.utf8) }
            var data = Data([0xFF, 0xFE])
            for unit in text.utf16 { data.append(UInt8(unit & 0xFF)); data.append(UInt8(unit >> 8)) }
            return data
        }
    }

    /// Matomo's error object (`{"result":"error","message":"…"}`), in the requested format.
    static func error(_ message: String, format: MatomoFormat, utf16: Bool) -> Data {
        let oneLine = message.replacingOccurrences(of: "\r\n", with: " ").replacingOccurrences(of: "\n", with: " ")
        switch format {
        case .json, .original: return Data("{\"result\":\"error\",\"message\":\(JSONRenderer.quote(oneLine))}".utf8)
        case .xml:
            return Data("<?xml version=\"1.0\" encoding=\"utf-8\" ?>\n<result>\n\t<error message=\"\(escape(oneLine))\" />\n</result>".utf8)
        case .csv, .tsv:
            return render(.row(MatomoRow(columns: [("result", .text("error")), ("message", .text(oneLine))])), format: format, utf16: utf16)
        }
    }

    // MARK: JSON

    static func json(_ result: MatomoResult) -> String {
        switch result {
        case let .value(value): "{\"value\":\(json(value))}"
        case let .row(row): json(row)
        case let .table(rows): "[" + rows.map(json).joined(separator: ",") + "]"
        case let .list(values): "[" + values.map(json).joined(separator: ",") + "]"
        case let .many(results): "[" + results.map(json).joined(separator: ",") + "]"
        case let .keyed(_, entries):
            "{" + entries.map { entry in
                let inner: String = if case let .value(value) = entry.result { json(value) } else { json(entry.result) }
                return JSONRenderer.quote(entry.key) + ":" + inner
            }.joined(separator: ",") + "}"
        }
    }

    static func json(_ row: MatomoRow) -> String {
        "{" + row.columns.map { JSONRenderer.quote($0.name) + ":" + json($0.value) }.joined(separator: ",") + "}"
    }

    static func json(_ value: MatomoValue) -> String {
        switch value {
        case let .int(n): String(n)
        case let .number(x): x.isFinite ? value.plain : "0"
        case let .text(s): JSONRenderer.quote(s)
        case let .object(row): json(row)
        }
    }

    // MARK: XML (plugins/API/Renderer/Xml.php, core/DataTable/Renderer/Xml.php)

    static func xml(_ result: MatomoResult, attribute: String? = nil, depth: Int = 0) -> String {
        let open = attribute.map { "<result \($0)>" } ?? "<result>"
        let indent = String(repeating: "\t", count: depth)
        switch result {
        case let .value(value):
            return indent + open + escape(value.plain) + "</result>"
        case let .row(row):
            return indent + open + "\n" + xmlColumns(row, depth: depth + 1) + indent + "</result>"
        case let .table(rows):
            guard !rows.isEmpty else { return indent + (attribute.map { "<result \($0) />" } ?? "<result />") }
            return indent + open + "\n" + rows.map { row in
                "\(indent)\t<row>\n" + xmlColumns(row, depth: depth + 2) + "\(indent)\t</row>\n"
            }.joined() + indent + "</result>"
        case let .list(values):
            return indent + open + "\n" + values.map { "\(indent)\t<row>\(escape($0.plain))</row>\n" }.joined() + indent + "</result>"
        case let .many(results):
            return indent + "<results>\n" + results.map { xml($0, depth: depth + 1) + "\n" }.joined() + indent + "</results>"
        case let .keyed(name, entries):
            return indent + "<results>\n" + entries.map { entry in
                xml(entry.result, attribute: "\(name)=\"\(escape(entry.key))\"", depth: depth + 1) + "\n"
            }.joined() + indent + "</results>"
        }
    }

    private static func xmlColumns(_ row: MatomoRow, depth: Int) -> String {
        let indent = String(repeating: "\t", count: depth)
        return row.columns.map { column in
            guard case let .object(inner) = column.value else {
                return "\(indent)<\(column.name)>\(escape(column.value.plain))</\(column.name)>\n"
            }
            return "\(indent)<\(column.name)>\n" + xmlColumns(inner, depth: depth + 1) + "\(indent)</\(column.name)>\n"
        }.joined()
    }

    static func escape(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default:
                // XML 1.0 cannot carry most control characters, even escaped.
                if scalar.value < 0x20, scalar != "\t", scalar != "\n", scalar != "\r" { continue }
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    // MARK: CSV and TSV (core/DataTable/Renderer/Csv.php)

    static func separated(_ result: MatomoResult, separator: String) -> String {
        var header: [String] = []
        var lines: [[String: String]] = []
        func add(_ row: MatomoRow, prefix: [(String, String)]) {
            var line: [String: String] = [:]
            for (name, value) in prefix {
                if !header.contains(name) { header.append(name) }
                line[name] = value
            }
            // An object's values become columns of their own, named `column_name` (Matomo's flattening).
            let cells = row.columns.flatMap { column -> [(String, String)] in
                guard case let .object(inner) = column.value else { return [(column.name, column.value.plain)] }
                return inner.columns.map { ("\(column.name)_\($0.name)", $0.value.plain) }
            }
            for (name, value) in cells {
                if !header.contains(name) { header.append(name) }
                line[name] = value
            }
            lines.append(line)
        }
        func walk(_ result: MatomoResult, prefix: [(String, String)]) {
            switch result {
            case let .value(value): add(MatomoRow(columns: [("value", value)]), prefix: prefix)
            case let .row(row): add(row, prefix: prefix)
            case let .table(rows): for row in rows { add(row, prefix: prefix) }
            case let .list(values): for value in values { add(MatomoRow(columns: [("value", value)]), prefix: prefix) }
            case let .many(results): for result in results { walk(result, prefix: prefix) }
            case let .keyed(name, entries):
                for entry in entries {
                    walk(entry.result, prefix: prefix + [(name, entry.key)])
                }
            }
        }
        walk(result, prefix: [])
        func cell(_ text: String) -> String {
            // Quoted where the separator, a quote or a line break would break the line; a leading
            // =, +, - or @ is prefixed with ' so spreadsheets do not run it as a formula.
            var text = text
            if let first = text.first, "=+-@".contains(first), Double(text) == nil { text = "'" + text }
            guard text.contains(separator) || text.contains("\"") || text.contains("\n") || text.contains("\r") else { return text }
            return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        }
        guard !header.isEmpty else { return "" }
        return ([header.map(cell).joined(separator: separator)]
            + lines.map { line in header.map { cell(line[$0] ?? "") }.joined(separator: separator) })
            .joined(separator: "\n")
    }
}
