import Foundation

/// One of the algorithm's own patterns (not of the database), in a store of its own, without a filter.
struct UserAgentPattern: Sendable {
    private let store: PatternStore

    init(_ source: String, boundary: PatternStore.Boundary = .token) {
        store = PatternStore(single: source, boundary: boundary)
    }

    func matches(_ ua: UserAgentText) -> Bool { store.matches(PatternID(index: 0), ua) }
}

/// A user agent prepared once for the many patterns of a store tried against it.
struct UserAgentText {
    let string: String
    let nsString: NSString
    let fullRange: NSRange
    /// The store whose patterns the text is matched against: its lists (`OrderedPatterns`) are found here.
    let patterns: PatternStore
    /// Which of the store's literals the text contains; `nil` when the store has no filters, or when the
    /// text has non-ASCII characters (case folding could then equate characters the filters would not),
    /// which disables the filters.
    let literals: [UInt64]?

    init(_ string: String, patterns: PatternStore) {
        self.string = string
        self.nsString = string as NSString
        self.fullRange = NSRange(location: 0, length: nsString.length)
        self.patterns = patterns
        var bytes = Array(string.utf8)
        if patterns.literals.count > 0, bytes.allSatisfy({ $0 < 0x80 }) {
            for i in bytes.indices where bytes[i] >= 0x41 && bytes[i] <= 0x5A { bytes[i] |= 0x20 }
            literals = patterns.literals.present(in: bytes)
        } else {
            literals = nil
        }
    }
}

struct PatternMatch {
    var groups: [String?]

    /// `template` with `$1`…`$9` replaced by the groups (an absent group is empty), trimmed — device-detector's
    /// `buildByMatch`. The database's Python edition writes `\g<1>`; both are read.
    func fill(_ template: String) -> String {
        guard template.contains("$") || template.contains("\\g<") else {
            return template.trimmingCharacters(in: .whitespaces)
        }
        var result = template
        for index in stride(from: groups.count - 1, through: 1, by: -1) {
            let value = groups[index] ?? ""
            result = result.replacingOccurrences(of: "\\g<\(index)>", with: value)
            result = result.replacingOccurrences(of: "$\(index)", with: value)
        }
        // Groups the pattern does not have are empty too.
        for index in groups.count..<10 {
            result = result.replacingOccurrences(of: "\\g<\(index)>", with: "")
            result = result.replacingOccurrences(of: "$\(index)", with: "")
        }
        return result.trimmingCharacters(in: .whitespaces)
    }
}

/// An ordered list of a store's patterns where the first match wins. Each pattern's literal filter
/// rejects most of them without running ICU, so a search costs a few bit tests per pattern.
/// The list is searched in the store of the text it is given: a text prepared for the same store.
struct OrderedPatterns<Entry: Sendable>: Sendable {
    let entries: [Entry]
    private let patterns: [PatternID]

    init(_ entries: [Entry], pattern: (Entry) -> PatternID) {
        self.entries = entries
        self.patterns = entries.map(pattern)
    }

    /// The first entry whose pattern matches, with the match.
    func first(in ua: UserAgentText) -> (entry: Entry, match: PatternMatch)? {
        for index in patterns.indices {
            if let match = ua.patterns.match(patterns[index], ua) { return (entries[index], match) }
        }
        return nil
    }

    func matchesAny(_ ua: UserAgentText) -> Bool {
        patterns.contains { ua.patterns.matches($0, ua) }
    }
}
