import TOMLKit

/// Reads one TOML table with typed accessors whose errors name the full key and the offending value,
/// and remembers which keys were read so unknown (misspelt) keys are reported instead of ignored.
struct TOMLReader {
    let table: TOMLTable
    let prefix: String
    private(set) var consumed: Set<String> = []

    init(_ table: TOMLTable, prefix: String = "") {
        self.table = table
        self.prefix = prefix
    }

    func path(_ key: String) -> String { prefix.isEmpty ? key : "\(prefix).\(key)" }

    func has(_ key: String) -> Bool { table[key] != nil }

    mutating func string(_ key: String) throws -> String? {
        consumed.insert(key)
        guard let value = table[key] else { return nil }
        guard let string = value.string else {
            throw EdgeError.configInvalid(key: path(key), value: render(value), expected: "a quoted string")
        }
        return string
    }

    mutating func requiredString(_ key: String) throws -> String {
        guard let value = try string(key) else { throw EdgeError.configMissing(key: path(key)) }
        guard !value.isEmpty else {
            throw EdgeError.configInvalid(key: path(key), value: "\"\"", expected: "a non-empty string")
        }
        return value
    }

    mutating func int(_ key: String, in range: ClosedRange<Int>) throws -> Int? {
        consumed.insert(key)
        guard let value = table[key] else { return nil }
        guard let int = value.int, range.contains(int) else {
            throw EdgeError.configInvalid(
                key: path(key), value: render(value),
                expected: "a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return int
    }

    mutating func bool(_ key: String) throws -> Bool? {
        consumed.insert(key)
        guard let value = table[key] else { return nil }
        guard let bool = value.bool else {
            throw EdgeError.configInvalid(key: path(key), value: render(value), expected: "true or false")
        }
        return bool
    }

    mutating func stringArray(_ key: String) throws -> [String]? {
        consumed.insert(key)
        guard let value = table[key] else { return nil }
        guard let array = value.array else {
            throw EdgeError.configInvalid(key: path(key), value: render(value), expected: "an array of strings")
        }
        return try array.map { element in
            guard let string = element.string else {
                throw EdgeError.configInvalid(
                    key: path(key), value: render(element), expected: "an array of strings")
            }
            return string
        }
    }

    mutating func choice<E: RawRepresentable & CaseIterable>(_ key: String, as _: E.Type) throws -> E?
    where E.RawValue == String {
        guard let raw = try string(key) else { return nil }
        guard let value = E(rawValue: raw) else {
            let allowed = E.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")
            throw EdgeError.configInvalid(key: path(key), value: "\"\(raw)\"", expected: "one of \(allowed)")
        }
        return value
    }

    mutating func subtable(_ key: String) throws -> TOMLReader? {
        consumed.insert(key)
        guard let value = table[key] else { return nil }
        guard let sub = value.table else {
            throw EdgeError.configInvalid(key: path(key), value: render(value), expected: "a table")
        }
        return TOMLReader(sub, prefix: path(key))
    }

    mutating func tableArray(_ key: String) throws -> [TOMLReader]? {
        consumed.insert(key)
        guard let value = table[key] else { return nil }
        guard let array = value.array else {
            throw EdgeError.configInvalid(key: path(key), value: render(value), expected: "an array of tables ([[\(key)]])")
        }
        return try array.enumerated().map { index, element in
            guard let sub = element.table else {
                throw EdgeError.configInvalid(
                    key: "\(path(key))[\(index)]", value: render(element), expected: "a table")
            }
            return TOMLReader(sub, prefix: "\(path(key))[\(index)]")
        }
    }

    /// Throws for the first key of the table that no accessor asked for.
    func rejectUnknownKeys() throws {
        if let unknown = table.keys.sorted().first(where: { !consumed.contains($0) }) {
            throw EdgeError.configUnknownKey(key: path(unknown))
        }
    }

    private func render(_ value: any TOMLValueConvertible) -> String {
        if let string = value.string { return "\"\(string)\"" }
        return value.debugDescription.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
