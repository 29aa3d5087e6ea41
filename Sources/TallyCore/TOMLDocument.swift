/// A parsed TOML 1.0 value (https://toml.io/en/v1.0.0).
///
/// Tally reads its configuration with its own parser rather than a C++ one: a configuration file is input
/// too, and a typo in it must come back as one sentence naming the line and column, never as an
/// assertion failure or undefined behaviour in a parser's internals. The parser is checked against
/// Python's `tomllib` on the same documents (TOMLDocumentTests) and fuzzed (scripts/fuzz.sh).
public enum TOMLValue: Equatable, Sendable {
    case string(String)
    case integer(Int)
    case float(Double)
    case boolean(Bool)
    /// An offset or local date-time, local date or local time, as written (validated, not interpreted).
    case dateTime(String)
    case array([TOMLValue])
    case table(TOMLTable)

    public var string: String? { if case let .string(v) = self { v } else { nil } }
    public var int: Int? { if case let .integer(v) = self { v } else { nil } }
    public var bool: Bool? { if case let .boolean(v) = self { v } else { nil } }
    public var array: [TOMLValue]? { if case let .array(v) = self { v } else { nil } }
    public var table: TOMLTable? { if case let .table(v) = self { v } else { nil } }

    /// The value written back as TOML, for error messages (`42`, `"text"`, `[1, 2]`, `{ a = 1 }`).
    public var rendered: String {
        switch self {
        case let .string(v): TOMLValue.quoted(v)
        case let .integer(v): String(v)
        case let .float(v): v.isNaN ? "nan" : v.isInfinite ? (v < 0 ? "-inf" : "inf") : String(v)
        case let .boolean(v): String(v)
        case let .dateTime(v): v
        case let .array(v): "[" + v.map(\.rendered).joined(separator: ", ") + "]"
        case let .table(t): t.isEmpty ? "{}" : "{ " + t.pairs.map { "\(TOMLValue.renderedKey($0.key)) = \($0.value.rendered)" }.joined(separator: ", ") + " }"
        }
    }

    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    let hex = String(scalar.value, radix: 16, uppercase: true)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    static func renderedKey(_ key: String) -> String {
        !key.isEmpty && key.utf8.allSatisfy(TOMLParser.isBareKeyByte) ? key : quoted(key)
    }
}

/// A TOML table: keys in the order they were written.
public struct TOMLTable: Equatable, Sendable {
    public private(set) var keys: [String] = []
    private var values: [String: TOMLValue] = [:]

    public init() {}

    public subscript(key: String) -> TOMLValue? { values[key] }

    public var isEmpty: Bool { keys.isEmpty }

    /// Keys and values in the order they were written.
    public var pairs: [(key: String, value: TOMLValue)] { keys.compactMap { key in values[key].map { (key, $0) } } }

    mutating func insert(_ value: TOMLValue, for key: String) {
        if values.updateValue(value, forKey: key) == nil { keys.append(key) }
    }

    /// Parses a whole document; a syntax error carries its 1-based line and column.
    public init(parsing text: String) throws(TOMLSyntaxError) {
        var parser = TOMLParser(Array(text.utf8))
        self = try parser.parseDocument()
    }
}

/// Where and why a document is not valid TOML.
public struct TOMLSyntaxError: Error, Equatable, CustomStringConvertible {
    public var line: Int
    public var column: Int
    public var reason: String
    public var description: String { "line \(line), column \(column): \(reason)" }
}

/// A recursive-descent parser over the document's UTF-8 bytes.
struct TOMLParser {
    private let bytes: [UInt8]
    private var index = 0
    /// Arrays and inline tables nest at most this deep, and a dotted key has at most this many parts, so
    /// no document can exhaust the stack.
    private static let maxDepth = 64

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    // MARK: Tables under construction

    /// A table while the document is read, with how it came to exist: TOML forbids defining a table
    /// twice and adding keys to a table from outside the section that defined it.
    private final class Node {
        enum Origin { case implicit, header, dotted }
        var origin: Origin
        var keys: [String] = []
        var entries: [String: Entry] = [:]

        init(_ origin: Origin) { self.origin = origin }

        func insert(_ entry: Entry, for key: String) {
            if entries.updateValue(entry, forKey: key) == nil { keys.append(key) }
        }

        func frozen() -> TOMLTable {
            var table = TOMLTable()
            for key in keys {
                switch entries[key] {
                case nil: continue
                case let .value(value): table.insert(value, for: key)
                case let .table(node): table.insert(.table(node.frozen()), for: key)
                case let .tableArray(nodes): table.insert(.array(nodes.map { .table($0.frozen()) }), for: key)
                }
            }
            return table
        }
    }

    private enum Entry {
        /// A value written with `=`, inline tables and arrays included: complete once written.
        case value(TOMLValue)
        case table(Node)
        case tableArray([Node])
    }

    mutating func parseDocument() throws(TOMLSyntaxError) -> TOMLTable {
        let root = Node(.header)
        var current = root
        while true {
            skipBlanks()
            guard let byte = peek() else { break }
            switch byte {
            case UInt8(ascii: "#"), UInt8(ascii: "\n"), UInt8(ascii: "\r"):
                try endOfLine()
            case UInt8(ascii: "["):
                current = try parseHeader(root: root)
                try endOfLine()
            default:
                try parseKeyValue(into: current, depth: 0)
                try endOfLine()
            }
        }
        return root.frozen()
    }

    /// `[a.b]` or `[[a.b]]`; returns the table the following pairs go into.
    private mutating func parseHeader(root: Node) throws(TOMLSyntaxError) -> Node {
        let start = index
        index += 1
        let isArray = peek() == UInt8(ascii: "[")
        if isArray { index += 1 }
        skipBlanks()
        let key = try parseKey()
        skipBlanks()
        try expect(UInt8(ascii: "]"), "expected ] to close the table header")
        if isArray { try expect(UInt8(ascii: "]"), "expected ]] to close the array-of-tables header") }
        let name = key.map(TOMLValue.renderedKey).joined(separator: ".")

        var node = root
        for part in key.dropLast() {
            switch node.entries[part] {
            case nil:
                let child = Node(.implicit)
                node.insert(.table(child), for: part)
                node = child
            case let .table(child):
                node = child
            case let .tableArray(children):
                node = children[children.count - 1]
            case .value:
                throw error(at: start, "\(TOMLValue.renderedKey(part)) in [\(name)] is already a value, not a table")
            }
        }
        let last = key[key.count - 1]
        if isArray {
            let child = Node(.header)
            switch node.entries[last] {
            case nil:
                node.insert(.tableArray([child]), for: last)
            case let .tableArray(children):
                node.insert(.tableArray(children + [child]), for: last)
            default:
                throw error(at: start, "[[\(name)]] is already defined as something other than an array of tables")
            }
            return child
        }
        switch node.entries[last] {
        case nil:
            let child = Node(.header)
            node.insert(.table(child), for: last)
            return child
        case let .table(child) where child.origin == .implicit:
            child.origin = .header
            return child
        default:
            throw error(at: start, "[\(name)] is defined twice")
        }
    }

    /// `key = value`, the key possibly dotted, into `table`.
    private mutating func parseKeyValue(into table: Node, depth: Int) throws(TOMLSyntaxError) {
        let start = index
        let key = try parseKey()
        skipBlanks()
        try expect(UInt8(ascii: "="), "expected = after the key")
        skipBlanks()
        let value = try parseValue(depth: depth)
        var node = table
        for part in key.dropLast() {
            switch node.entries[part] {
            case nil:
                let child = Node(.dotted)
                node.insert(.table(child), for: part)
                node = child
            case let .table(child) where child.origin == .dotted:
                node = child
            default:
                throw error(at: start, "\(key.map(TOMLValue.renderedKey).joined(separator: ".")) extends \(TOMLValue.renderedKey(part)), which is already defined elsewhere")
            }
        }
        let last = key[key.count - 1]
        guard node.entries[last] == nil else {
            throw error(at: start, "\(key.map(TOMLValue.renderedKey).joined(separator: ".")) is defined twice")
        }
        node.insert(.value(value), for: last)
    }

    // MARK: Keys

    static func isBareKeyByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "_"), UInt8(ascii: "-"):
            true
        default:
            false
        }
    }

    /// A simple or dotted key: its parts.
    private mutating func parseKey() throws(TOMLSyntaxError) -> [String] {
        var parts: [String] = []
        while true {
            switch peek() {
            case UInt8(ascii: "\""):
                parts.append(try parseBasicString())
            case UInt8(ascii: "'"):
                parts.append(try parseLiteralString())
            case let byte? where Self.isBareKeyByte(byte):
                let start = index
                while let b = peek(), Self.isBareKeyByte(b) { index += 1 }
                parts.append(String(decoding: bytes[start..<index], as: UTF8.self))
            default:
                throw error(at: index, "expected a key (letters, digits, _ or -, or a quoted string)")
            }
            skipBlanks()
            guard peek() == UInt8(ascii: ".") else { return parts }
            guard parts.count < Self.maxDepth else { throw error(at: index, "a dotted key has more than \(Self.maxDepth) parts") }
            index += 1
            skipBlanks()
        }
    }

    // MARK: Values

    private mutating func parseValue(depth: Int) throws(TOMLSyntaxError) -> TOMLValue {
        guard let byte = peek() else { throw error(at: index, "expected a value") }
        let value: TOMLValue
        switch byte {
        case UInt8(ascii: "\""):
            value = .string(hasPrefix("\"\"\"") ? try parseMultilineString(quote: byte) : try parseBasicString())
        case UInt8(ascii: "'"):
            value = .string(hasPrefix("'''") ? try parseMultilineString(quote: byte) : try parseLiteralString())
        case UInt8(ascii: "t") where hasPrefix("true"):
            index += 4
            value = .boolean(true)
        case UInt8(ascii: "f") where hasPrefix("false"):
            index += 5
            value = .boolean(false)
        case UInt8(ascii: "["):
            guard depth < Self.maxDepth else { throw error(at: index, "arrays and inline tables nest more than \(Self.maxDepth) deep") }
            value = try parseArray(depth: depth + 1)
        case UInt8(ascii: "{"):
            guard depth < Self.maxDepth else { throw error(at: index, "arrays and inline tables nest more than \(Self.maxDepth) deep") }
            value = try parseInlineTable(depth: depth + 1)
        default:
            value = try parseNumberOrDate()
        }
        guard isValueEnd(peek()) else { throw error(at: index, "unexpected character after the value") }
        return value
    }

    private func isValueEnd(_ byte: UInt8?) -> Bool {
        switch byte {
        case nil, UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"), UInt8(ascii: "#"),
            UInt8(ascii: ","), UInt8(ascii: "]"), UInt8(ascii: "}"):
            true
        default:
            false
        }
    }

    private mutating func parseArray(depth: Int) throws(TOMLSyntaxError) -> TOMLValue {
        index += 1
        var elements: [TOMLValue] = []
        while true {
            try skipBlanksNewlinesAndComments()
            if peek() == UInt8(ascii: "]") {
                index += 1
                return .array(elements)
            }
            elements.append(try parseValue(depth: depth))
            try skipBlanksNewlinesAndComments()
            switch peek() {
            case UInt8(ascii: ","):
                index += 1
            case UInt8(ascii: "]"):
                index += 1
                return .array(elements)
            default:
                throw error(at: index, "expected , or ] in the array")
            }
        }
    }

    private mutating func parseInlineTable(depth: Int) throws(TOMLSyntaxError) -> TOMLValue {
        index += 1
        let node = Node(.header)
        skipBlanks()
        if peek() == UInt8(ascii: "}") {
            index += 1
            return .table(node.frozen())
        }
        while true {
            skipBlanks()
            try parseKeyValue(into: node, depth: depth)
            skipBlanks()
            switch peek() {
            case UInt8(ascii: ","):
                index += 1
            case UInt8(ascii: "}"):
                index += 1
                return .table(node.frozen())
            default:
                throw error(at: index, "expected , or } in the inline table (an inline table stays on one line)")
            }
        }
    }

    // MARK: Strings

    private mutating func parseBasicString() throws(TOMLSyntaxError) -> String {
        let start = index
        index += 1
        var out: [UInt8] = []
        while true {
            guard let byte = peek() else { throw error(at: start, "the string is not closed") }
            switch byte {
            case UInt8(ascii: "\""):
                index += 1
                return String(decoding: out, as: UTF8.self)
            case UInt8(ascii: "\\"):
                try parseEscape(into: &out)
            case UInt8(ascii: "\n"), UInt8(ascii: "\r"):
                throw error(at: start, "the string is not closed on its line")
            default:
                try checkNotControl(byte)
                out.append(byte)
                index += 1
            }
        }
    }

    /// `"""…"""` (escapes and line-ending backslashes) or `'''…'''` (neither); a newline right after the
    /// opening quotes is not part of the string.
    private mutating func parseMultilineString(quote: UInt8) throws(TOMLSyntaxError) -> String {
        let start = index
        index += 3
        skipOneNewline()
        var out: [UInt8] = []
        while true {
            guard let byte = peek() else { throw error(at: start, "the multi-line string is not closed") }
            switch byte {
            case quote:
                if try closesMultiline(quote: byte, into: &out) { return String(decoding: out, as: UTF8.self) }
            case UInt8(ascii: "\\") where quote == UInt8(ascii: "\""):
                try parseMultilineBackslash(into: &out)
            case UInt8(ascii: "\n"), UInt8(ascii: "\r"):
                try newline()
                out.append(UInt8(ascii: "\n"))
            default:
                try checkNotControl(byte)
                out.append(byte)
                index += 1
            }
        }
    }

    /// A backslash ending a line trims it and every blank and newline after it; any other is an escape.
    private mutating func parseMultilineBackslash(into out: inout [UInt8]) throws(TOMLSyntaxError) {
        var probe = index + 1
        while probe < bytes.count, bytes[probe] == UInt8(ascii: " ") || bytes[probe] == UInt8(ascii: "\t") { probe += 1 }
        guard probe < bytes.count, bytes[probe] == UInt8(ascii: "\n") || bytes[probe] == UInt8(ascii: "\r") else {
            try parseEscape(into: &out)
            return
        }
        index = probe
        while let b = peek(), b == UInt8(ascii: " ") || b == UInt8(ascii: "\t") || b == UInt8(ascii: "\n") || b == UInt8(ascii: "\r") {
            if b == UInt8(ascii: "\r") { try newline() } else { index += 1 }
        }
    }

    private mutating func parseLiteralString() throws(TOMLSyntaxError) -> String {
        let start = index
        index += 1
        while true {
            guard let byte = peek() else { throw error(at: start, "the string is not closed") }
            switch byte {
            case UInt8(ascii: "'"):
                index += 1
                return String(decoding: bytes[(start + 1)..<(index - 1)], as: UTF8.self)
            case UInt8(ascii: "\n"), UInt8(ascii: "\r"):
                throw error(at: start, "the string is not closed on its line")
            default:
                try checkNotControl(byte)
                index += 1
            }
        }
    }

    /// At a quote inside a multi-line string: three close it, and up to two more before them belong to
    /// the string; fewer than three are content.
    private mutating func closesMultiline(quote: UInt8, into out: inout [UInt8]) throws(TOMLSyntaxError) -> Bool {
        var run = 0
        while index + run < bytes.count, bytes[index + run] == quote { run += 1 }
        guard run >= 3 else {
            out.append(contentsOf: repeatElement(quote, count: run))
            index += run
            return false
        }
        guard run <= 5 else { throw error(at: index, "more than five quotes in a row end the multi-line string") }
        out.append(contentsOf: repeatElement(quote, count: run - 3))
        index += run
        return true
    }

    private mutating func parseEscape(into out: inout [UInt8]) throws(TOMLSyntaxError) {
        let start = index
        index += 1
        guard let byte = peek() else { throw error(at: start, "the escape is cut short") }
        index += 1
        switch byte {
        case UInt8(ascii: "b"): out.append(0x08)
        case UInt8(ascii: "t"): out.append(0x09)
        case UInt8(ascii: "n"): out.append(0x0A)
        case UInt8(ascii: "f"): out.append(0x0C)
        case UInt8(ascii: "r"): out.append(0x0D)
        case UInt8(ascii: "\""): out.append(UInt8(ascii: "\""))
        case UInt8(ascii: "\\"): out.append(UInt8(ascii: "\\"))
        case UInt8(ascii: "u"), UInt8(ascii: "U"):
            let count = byte == UInt8(ascii: "u") ? 4 : 8
            guard index + count <= bytes.count else { throw error(at: start, "the \\\(Character(Unicode.Scalar(byte))) escape needs \(count) hex digits") }
            var value: UInt32 = 0
            for digit in bytes[index..<(index + count)] {
                guard let v = ASCII.hexValue(digit) else { throw error(at: start, "the \\\(Character(Unicode.Scalar(byte))) escape needs \(count) hex digits") }
                value = value << 4 | UInt32(v)
            }
            guard let scalar = Unicode.Scalar(value) else { throw error(at: start, "the escape is not a Unicode scalar value") }
            out.append(contentsOf: Array(String(Character(scalar)).utf8))
            index += count
        default:
            throw error(at: start, "\\\(Character(Unicode.Scalar(byte))) is not an escape TOML knows; write \\\\ for a backslash")
        }
    }

    private func checkNotControl(_ byte: UInt8) throws(TOMLSyntaxError) {
        if (byte < 0x20 && byte != UInt8(ascii: "\t")) || byte == 0x7F {
            let hex = String(byte, radix: 16, uppercase: true)
            throw error(at: index, "control character U+\(String(repeating: "0", count: 4 - hex.count))\(hex) must be escaped")
        }
    }

    // MARK: Numbers and dates

    private static func isDigit(_ byte: UInt8?) -> Bool {
        guard let byte else { return false }
        return byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }

    private func digitsAt(_ position: Int, count: Int) -> Bool {
        position + count <= bytes.count && bytes[position..<(position + count)].allSatisfy { Self.isDigit($0) }
    }

    private mutating func parseNumberOrDate() throws(TOMLSyntaxError) -> TOMLValue {
        if digitsAt(index, count: 4), index + 4 < bytes.count, bytes[index + 4] == UInt8(ascii: "-") {
            return try parseDateTime()
        }
        if digitsAt(index, count: 2), index + 2 < bytes.count, bytes[index + 2] == UInt8(ascii: ":") {
            let start = index
            try parseTime()
            return .dateTime(String(decoding: bytes[start..<index], as: UTF8.self))
        }
        let start = index
        while let byte = peek(), Self.isNumberByte(byte) { index += 1 }
        let token = Array(bytes[start..<index])
        guard let value = Self.number(token) else {
            let text = String(decoding: token, as: UTF8.self)
            throw error(at: start, text.isEmpty ? "expected a value" : "\(text) is not a TOML value (quote strings)")
        }
        return value
    }

    private static func isNumberByte(_ byte: UInt8) -> Bool {
        isBareKeyByte(byte) || byte == UInt8(ascii: "+") || byte == UInt8(ascii: ".")
    }

    /// An integer or float token (underscores only between digits), or nil.
    static func number(_ token: [UInt8]) -> TOMLValue? {
        var body = token[...]
        var sign: UInt8?
        if let first = body.first, first == UInt8(ascii: "+") || first == UInt8(ascii: "-") {
            sign = first
            body = body.dropFirst()
        }
        switch String(decoding: body, as: UTF8.self) {
        case "inf": return .float(sign == UInt8(ascii: "-") ? -.infinity : .infinity)
        case "nan": return .float(.nan)
        default: break
        }
        if body.count > 2, body.first == UInt8(ascii: "0"), sign == nil {
            let radix: Int? = switch body[body.startIndex + 1] {
            case UInt8(ascii: "x"): 16
            case UInt8(ascii: "o"): 8
            case UInt8(ascii: "b"): 2
            default: nil
            }
            if let radix {
                guard let digits = withoutUnderscores(body.dropFirst(2), radix: radix) else { return nil }
                return Int(String(decoding: digits, as: UTF8.self), radix: radix).map(TOMLValue.integer)
            }
        }
        // Decimal: integer part without leading zeros, then an optional fraction and exponent.
        var rest = body
        let integerEnd = rest.firstIndex { $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") } ?? rest.endIndex
        guard let integerPart = withoutUnderscores(rest[..<integerEnd], radix: 10) else { return nil }
        guard integerPart.count == 1 || integerPart.first != UInt8(ascii: "0") else { return nil }
        rest = rest[integerEnd...]
        if rest.isEmpty {
            return Int(String(decoding: token.filter { $0 != UInt8(ascii: "_") }, as: UTF8.self)).map(TOMLValue.integer)
        }
        var normalized = (sign.map { [$0] } ?? []) + integerPart
        if rest.first == UInt8(ascii: ".") {
            rest = rest.dropFirst()
            let fractionEnd = rest.firstIndex { $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") } ?? rest.endIndex
            guard let fraction = withoutUnderscores(rest[..<fractionEnd], radix: 10) else { return nil }
            normalized += [UInt8(ascii: ".")] + fraction
            rest = rest[fractionEnd...]
        }
        if let e = rest.first {
            guard e == UInt8(ascii: "e") || e == UInt8(ascii: "E") else { return nil }
            rest = rest.dropFirst()
            var exponentSign: [UInt8] = []
            if let s = rest.first, s == UInt8(ascii: "+") || s == UInt8(ascii: "-") {
                exponentSign = [s]
                rest = rest.dropFirst()
            }
            guard let exponent = withoutUnderscores(rest, radix: 10) else { return nil }
            normalized += [UInt8(ascii: "e")] + exponentSign + exponent
        }
        return Double(String(decoding: normalized, as: UTF8.self)).map(TOMLValue.float)
    }

    /// The digits of `text` in `radix` with single underscores between digits removed; nil if empty,
    /// or if an underscore is not between two digits, or if any other byte is not a digit.
    private static func withoutUnderscores(_ text: ArraySlice<UInt8>, radix: Int) -> [UInt8]? {
        var digits: [UInt8] = []
        var previousWasDigit = false
        for byte in text {
            if byte == UInt8(ascii: "_") {
                guard previousWasDigit else { return nil }
                previousWasDigit = false
                continue
            }
            guard let value = ASCII.hexValue(byte), Int(value) < radix else { return nil }
            digits.append(byte)
            previousWasDigit = true
        }
        return previousWasDigit ? digits : nil
    }

    /// `1979-05-27`, optionally followed by a time (`T`, `t` or a space before it) and an offset.
    private mutating func parseDateTime() throws(TOMLSyntaxError) -> TOMLValue {
        let start = index
        guard digitsAt(index, count: 4), digitsAt(index + 5, count: 2), index + 10 <= bytes.count,
            bytes[index + 7] == UInt8(ascii: "-"), digitsAt(index + 8, count: 2)
        else { throw error(at: start, "a date is written YYYY-MM-DD") }
        let year = number(at: index, count: 4), month = number(at: index + 5, count: 2), day = number(at: index + 8, count: 2)
        guard (1...12).contains(month), (1...Self.daysIn(month: month, year: year)).contains(day) else {
            throw error(at: start, "\(String(decoding: bytes[index..<(index + 10)], as: UTF8.self)) is not a date")
        }
        index += 10
        if let separator = peek(), separator == UInt8(ascii: "T") || separator == UInt8(ascii: "t")
            || (separator == UInt8(ascii: " ") && digitsAt(index + 1, count: 2))
        {
            index += 1
            try parseTime()
            switch peek() {
            case UInt8(ascii: "Z"), UInt8(ascii: "z"):
                index += 1
            case UInt8(ascii: "+"), UInt8(ascii: "-"):
                guard digitsAt(index + 1, count: 2), index + 3 < bytes.count, bytes[index + 3] == UInt8(ascii: ":"), digitsAt(index + 4, count: 2),
                    number(at: index + 1, count: 2) <= 23, number(at: index + 4, count: 2) <= 59
                else { throw error(at: index, "a time offset is written +HH:MM") }
                index += 6
            default:
                break
            }
        }
        return .dateTime(String(decoding: bytes[start..<index], as: UTF8.self))
    }

    /// `07:32:00` with optional fractional seconds.
    private mutating func parseTime() throws(TOMLSyntaxError) {
        let start = index
        guard digitsAt(index, count: 2), digitsAt(index + 3, count: 2), digitsAt(index + 6, count: 2),
            bytes[index + 2] == UInt8(ascii: ":"), bytes[index + 5] == UInt8(ascii: ":"),
            number(at: index, count: 2) <= 23, number(at: index + 3, count: 2) <= 59, number(at: index + 6, count: 2) <= 59
        else { throw error(at: start, "a time is written HH:MM:SS") }
        index += 8
        if peek() == UInt8(ascii: ".") {
            index += 1
            guard Self.isDigit(peek()) else { throw error(at: index, "fractional seconds need digits") }
            while Self.isDigit(peek()) { index += 1 }
        }
    }

    private func number(at position: Int, count: Int) -> Int {
        bytes[position..<(position + count)].reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
    }

    private static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    // MARK: Blanks, comments, newlines

    private func peek() -> UInt8? { index < bytes.count ? bytes[index] : nil }

    private func hasPrefix(_ text: StaticString) -> Bool {
        let count = text.utf8CodeUnitCount
        guard index + count <= bytes.count else { return false }
        return text.withUTF8Buffer { bytes[index..<(index + count)].elementsEqual($0) }
    }

    private mutating func expect(_ byte: UInt8, _ message: String) throws(TOMLSyntaxError) {
        guard peek() == byte else { throw error(at: index, message) }
        index += 1
    }

    private mutating func skipBlanks() {
        while let byte = peek(), byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") { index += 1 }
    }

    /// LF or CR LF.
    private mutating func newline() throws(TOMLSyntaxError) {
        if peek() == UInt8(ascii: "\r") {
            index += 1
            guard peek() == UInt8(ascii: "\n") else { throw error(at: index - 1, "a carriage return must be followed by a line feed") }
        }
        index += 1
    }

    private mutating func skipOneNewline() {
        if peek() == UInt8(ascii: "\n") {
            index += 1
        } else if hasPrefix("\r\n") {
            index += 2
        }
    }

    private mutating func skipComment() throws(TOMLSyntaxError) {
        guard peek() == UInt8(ascii: "#") else { return }
        index += 1
        while let byte = peek(), byte != UInt8(ascii: "\n"), byte != UInt8(ascii: "\r") {
            try checkNotControl(byte)
            index += 1
        }
    }

    /// After a pair or a header: blanks, an optional comment, then a newline or the end.
    private mutating func endOfLine() throws(TOMLSyntaxError) {
        skipBlanks()
        try skipComment()
        guard peek() != nil else { return }
        guard peek() == UInt8(ascii: "\n") || peek() == UInt8(ascii: "\r") else {
            throw error(at: index, "expected the end of the line")
        }
        try newline()
    }

    private mutating func skipBlanksNewlinesAndComments() throws(TOMLSyntaxError) {
        while true {
            skipBlanks()
            switch peek() {
            case UInt8(ascii: "#"): try skipComment()
            case UInt8(ascii: "\n"), UInt8(ascii: "\r"): try newline()
            default: return
            }
        }
    }

    private func error(at position: Int, _ reason: String) -> TOMLSyntaxError {
        let position = min(position, bytes.count)
        let lineStart = bytes[..<position].lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? 0
        let line = bytes[..<position].count { $0 == UInt8(ascii: "\n") } + 1
        // Columns count characters, not bytes: continuation bytes do not start one.
        let column = bytes[lineStart..<position].count { $0 & 0xC0 != 0x80 } + 1
        return TOMLSyntaxError(line: line, column: column, reason: reason)
    }
}
