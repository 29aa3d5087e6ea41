import Foundation
import Synchronization

/// One regular expression of the database, matched as device-detector matches it: case-insensitive, and
/// only where the pattern starts the user agent or follows a character that cannot continue a token
/// (so "bot" does not match inside "Cubot", but "Googlebot" does).
///
/// Patterns are written for PCRE. ICU, which Foundation's regular expressions use, reads them the same
/// way except inside brackets, where `[` opens a nested set; `ICU(pcre:)` escapes it. Patterns compile on
/// first use, and only then is the expression ICU reads written out: a process sees a small part of the
/// database, start-up stays short, and the tens of thousands of patterns it never tries cost only their
/// source text in memory.
final class UserAgentPattern: Sendable {
    /// What must precede a match.
    enum Boundary: String, Sendable {
        /// device-detector's parsers.
        case token = "(?:^|[^A-Z0-9_-]|[^A-Z0-9-]_|sprd-|MZ-)"
        /// device-detector's own checks in `DeviceDetector`.
        case detector = "(?:^|[^A-Z_-])"
        case none = ""
    }

    /// The pattern as the database writes it (for messages).
    let source: String
    private let boundary: Boundary
    private let compiled = Mutex<Compiled>(.notYet)

    private enum Compiled {
        case notYet
        case ready(NSRegularExpression)
        case invalid(String)
    }

    private let caseSensitive: Bool
    /// What every match contains, as numbers in the database's `LiteralIndex` (`LiteralRegistry`);
    /// `nil`: no filter.
    private let condition: [Int32]?

    /// `registry`: the database's literal registry; patterns without one (the algorithm's own) are not filtered.
    init(_ source: String, boundary: Boundary = .token, caseSensitive: Bool = false, registry: LiteralRegistry? = nil) {
        self.source = source
        self.boundary = boundary
        self.caseSensitive = caseSensitive
        self.condition = registry?.condition(of: source)
    }

    /// False when the pattern certainly does not match: the text lacks literals every match contains.
    func mayMatch(_ text: UserAgentText) -> Bool {
        guard let condition, let bits = text.literals else { return true }
        return LiteralIndex.holds(condition, bits)
    }

    /// The ICU error if the pattern cannot be compiled. A pattern not yet used is compiled for the check
    /// and not kept, so checking a whole database at start-up does not hold its compiled form.
    private func compilationError() -> String? {
        switch compiled.withLock({ $0 }) {
        case .ready: return nil
        case .invalid(let message): return message
        case .notYet:
            if case .invalid(let message) = compile() { return message }
            return nil
        }
    }

    /// The warning `check-config` prints for this pattern if ICU cannot compile it: where it is (file and
    /// entry), the pattern, ICU's reason.
    func compilationProblem(file: String, entry: String) -> String? {
        compilationError().map { "\(file): entry \(entry): pattern \(source) does not compile (\($0)); it is skipped" }
    }

    private func expression() -> Compiled {
        compiled.withLock { state in
            if case .notYet = state { state = compile() }
            return state
        }
    }

    private func compile() -> Compiled {
        let expression = boundary.rawValue + "(?:" + Self.icu(pcre: source) + ")"
        do {
            return .ready(try NSRegularExpression(pattern: expression, options: caseSensitive ? [] : [.caseInsensitive]))
        } catch {
            return .invalid("\(error)")
        }
    }

    /// The first match in `text`, with its capture groups (`nil` for a group that took no part).
    func match(_ text: UserAgentText) -> PatternMatch? {
        guard mayMatch(text), case .ready(let regex) = expression(), let result = firstMatch(regex, text) else { return nil }
        var groups: [String?] = []
        groups.reserveCapacity(result.numberOfRanges)
        for index in 0..<result.numberOfRanges {
            let range = result.range(at: index)
            groups.append(range.location == NSNotFound ? nil : text.nsString.substring(with: range))
        }
        return PatternMatch(groups: groups)
    }

    func matches(_ text: UserAgentText) -> Bool {
        guard mayMatch(text), case .ready(let regex) = expression() else { return false }
        return firstMatch(regex, text) != nil
    }

    private func firstMatch(_ regex: NSRegularExpression, _ text: UserAgentText) -> NSTextCheckingResult? {
        regex.firstMatch(in: text.string, options: [], range: text.fullRange)
    }

    /// PCRE → ICU: inside a bracket expression ICU reads `[` as the start of a nested set; PCRE reads a
    /// literal bracket. Everything else the database uses means the same in both.
    static func icu(pcre: String) -> String {
        var out = ""
        out.reserveCapacity(pcre.utf8.count + 8)
        var inClass = false
        var escaped = false
        var classStart = false
        for ch in pcre {
            if escaped {
                out.append(ch)
                escaped = false
                classStart = false
                continue
            }
            switch ch {
            case "\\":
                out.append(ch)
                escaped = true
                continue
            case "[" where inClass:
                out.append("\\[")
            case "[":
                inClass = true
                classStart = true
                out.append(ch)
                continue
            case "]" where inClass && classStart:
                out.append("\\]")
            case "]" where inClass:
                inClass = false
                out.append(ch)
            case "^" where classStart:
                out.append(ch)
                continue
            case "&" where inClass, "-" where inClass && out.last == "-":
                out.append("\\")
                out.append(ch)
            default:
                out.append(ch)
            }
            classStart = false
        }
        return out
    }
}

/// A user agent prepared once for the many patterns tried against it.
struct UserAgentText {
    let string: String
    let nsString: NSString
    let fullRange: NSRange
    /// Which of the index's literals the text contains; `nil` without an index, or when the text has
    /// non-ASCII characters (case folding could then equate characters the filters would not), which
    /// disables the filters.
    let literals: [UInt64]?

    init(_ string: String, index: LiteralIndex? = nil) {
        self.string = string
        self.nsString = string as NSString
        self.fullRange = NSRange(location: 0, length: nsString.length)
        var bytes = Array(string.utf8)
        if let index, bytes.allSatisfy({ $0 < 0x80 }) {
            for i in bytes.indices where bytes[i] >= 0x41 && bytes[i] <= 0x5A { bytes[i] |= 0x20 }
            literals = index.present(in: bytes)
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

/// An ordered list of patterns where the first match wins. Each pattern's literal filter rejects most
/// of them without running ICU, so a search costs a few substring searches per pattern.
struct OrderedPatterns<Entry: Sendable>: Sendable {
    let entries: [Entry]
    private let patterns: [UserAgentPattern]

    init(_ entries: [Entry], pattern: (Entry) -> UserAgentPattern) {
        self.entries = entries
        self.patterns = entries.map(pattern)
    }

    /// The first entry whose pattern matches, with the match.
    func first(in ua: UserAgentText) -> (entry: Entry, match: PatternMatch)? {
        for index in patterns.indices {
            if let match = patterns[index].match(ua) { return (entries[index], match) }
        }
        return nil
    }

    func matchesAny(_ ua: UserAgentText) -> Bool {
        patterns.contains { $0.matches(ua) }
    }
}
