import Foundation

/// Reads one TOML table with typed accessors whose errors name the full key and the offending value,
/// and remembers which keys were read so unknown (misspelt) keys are reported instead of ignored.
public struct TOMLReader {
    let table: TOMLTable
    public let prefix: String
    private(set) var consumed: Set<String> = []

    public init(_ table: TOMLTable, prefix: String = "") {
        self.table = table
        self.prefix = prefix
    }

    public func path(_ key: String) -> String { prefix.isEmpty ? key : "\(prefix).\(key)" }

    public func has(_ key: String) -> Bool { table[key] != nil }

    public mutating func string(_ key: String) throws -> String? {
        consumed.insert(key)
        guard let value = table[key] else { return nil }
        guard let string = value.string else {
            throw ConfigError.invalid(key: path(key), value: render(value), expected: "a quoted string")
        }
        return string
    }

    public mutating func requiredString(_ key: String) throws -> String {
        guard let value = try string(key) else { throw ConfigError.missing(key: path(key)) }
        guard !value.isEmpty else {
            throw ConfigError.invalid(key: path(key), value: "\"\"", expected: "a non-empty string")
        }
        return value
    }

    public mutating func int(_ key: String, in range: ClosedRange<Int>) throws -> Int? {
        consumed.insert(key)
        guard let value = table[key] else { return nil }
        guard let int = value.int, range.contains(int) else {
            throw ConfigError.invalid(
                key: path(key), value: render(value),
                expected: "a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return int
    }

    public mutating func bool(_ key: String) throws -> Bool? {
        consumed.insert(key)
        guard let value = table[key] else { return nil }
        guard let bool = value.bool else {
            throw ConfigError.invalid(key: path(key), value: render(value), expected: "true or false")
        }
        return bool
    }

    public mutating func stringArray(_ key: String) throws -> [String]? {
        try array(key, expected: "an array of strings") { $0.string }
    }

    public mutating func intArray(_ key: String) throws -> [Int]? {
        try array(key, expected: "an array of whole numbers") { $0.int }
    }

    /// An array whose every element `extract` accepts; the first element it refuses is the error.
    private mutating func array<T>(_ key: String, expected: String, _ extract: (TOMLValue) -> T?) throws -> [T]? {
        consumed.insert(key)
        guard let value = table[key] else { return nil }
        guard let array = value.array else {
            throw ConfigError.invalid(key: path(key), value: render(value), expected: expected)
        }
        return try array.map { element in
            guard let item = extract(element) else {
                throw ConfigError.invalid(key: path(key), value: render(element), expected: expected)
            }
            return item
        }
    }

    public mutating func choice<E: RawRepresentable & CaseIterable>(_ key: String, as _: E.Type) throws -> E?
    where E.RawValue == String {
        guard let raw = try string(key) else { return nil }
        guard let value = E(rawValue: raw) else {
            let allowed = E.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")
            throw ConfigError.invalid(key: path(key), value: "\"\(raw)\"", expected: "one of \(allowed)")
        }
        return value
    }

    public mutating func subtable(_ key: String) throws -> TOMLReader? {
        consumed.insert(key)
        guard let value = table[key] else { return nil }
        guard let sub = value.table else {
            throw ConfigError.invalid(key: path(key), value: render(value), expected: "a table")
        }
        return TOMLReader(sub, prefix: path(key))
    }

    public mutating func tableArray(_ key: String) throws -> [TOMLReader]? {
        consumed.insert(key)
        guard let value = table[key] else { return nil }
        guard let array = value.array else {
            throw ConfigError.invalid(key: path(key), value: render(value), expected: "an array of tables ([[\(key)]])")
        }
        return try array.enumerated().map { index, element in
            guard let sub = element.table else {
                throw ConfigError.invalid(
                    key: "\(path(key))[\(index)]", value: render(element), expected: "a table")
            }
            return TOMLReader(sub, prefix: "\(path(key))[\(index)]")
        }
    }

    /// Throws for the first key of the table that no accessor asked for.
    public func rejectUnknownKeys() throws {
        if let unknown = table.keys.sorted().first(where: { !consumed.contains($0) }) {
            throw ConfigError.unknownKey(key: path(unknown))
        }
    }

    private func render(_ value: TOMLValue) -> String { value.rendered }
}

extension TOMLReader {
    /// Parses TOML text; a syntax error names the file, line and column.
    public static func parse(_ text: String, path: String) throws -> TOMLReader {
        do {
            return TOMLReader(try TOMLTable(parsing: text))
        } catch {
            throw ConfigError.syntax(path: path, line: error.line, column: error.column, reason: error.reason)
        }
    }

    /// Reads a configuration file's text.
    public static func load(path: String) throws -> String {
        do {
            return try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigError.unreadable(path: path, reason: (error as NSError).localizedDescription)
        }
    }
}

/// A configuration problem, as one sentence naming the key and value and what is expected.
public enum ConfigError: Error, CustomStringConvertible, Equatable {
    case unreadable(path: String, reason: String)
    case syntax(path: String, line: Int, column: Int, reason: String)
    case invalid(key: String, value: String, expected: String)
    case missing(key: String)
    case unknownKey(key: String)

    public var description: String {
        switch self {
        case let .unreadable(path, reason):
            "Cannot read the configuration file \(path) (\(reason)); check the path given with -c."
        case let .syntax(path, line, column, reason):
            "\(path):\(line):\(column) is not valid TOML (\(reason)); fix the syntax there."
        case let .invalid(key, value, expected):
            "\(key) = \(value) is not valid: expected \(expected)."
        case let .missing(key):
            "\(key) is required but missing; add it to the configuration (see the example configuration)."
        case let .unknownKey(key):
            "\(key) is not a known setting; remove it or check its spelling against the example configuration."
        }
    }
}

/// `host:port` listen addresses, with IPv6 hosts in brackets (`[::1]:8081`); port 0 picks a free port.
public enum ListenAddress {
    public static func parse(_ text: String, key: String) throws -> (host: String, port: Int) {
        let invalid = ConfigError.invalid(
            key: key, value: "\"\(text)\"", expected: "host:port such as \"127.0.0.1:8081\" or \"[::1]:8081\"")
        guard let colon = text.lastIndex(of: ":") else { throw invalid }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty, let port = Int(text[text.index(after: colon)...]), (0...65_535).contains(port) else {
            throw invalid
        }
        return (host, port)
    }
}
