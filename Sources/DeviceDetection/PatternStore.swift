import Foundation
import Synchronization

/// A pattern's number in its `PatternStore`.
struct PatternID: Sendable {
    let index: Int32
}

/// The regular expressions of one database or list, matched as device-detector matches them:
/// case-insensitive (the crawler list's are case-sensitive), and only where the pattern starts the user
/// agent or follows a character that cannot continue a token (so "bot" does not match inside "Cubot", but
/// "Googlebot" does).
///
/// Patterns are written for PCRE. ICU, which Foundation's regular expressions use, reads them the same
/// way except inside brackets, where `[` opens a nested set; `icu(pcre:)` escapes it.
///
/// The tens of thousands of patterns are kept in flat arrays, with no object of their own: every source
/// text in one buffer, every literal condition in another. A pattern compiles on first use and only then
/// gets an object, its `NSRegularExpression`: a process sees a small part of the database, so start-up
/// stays short and the patterns it never tries cost little more than their text
/// (docs/performance.md, "The edge's memory when idle").
final class PatternStore: Sendable {
    /// What must precede a match.
    enum Boundary: UInt8, Sendable {
        /// device-detector's parsers.
        case token
        /// device-detector's own checks in `DeviceDetector`.
        case detector
        case none

        var expression: String {
            switch self {
            case .token: "(?:^|[^A-Z0-9_-]|[^A-Z0-9-]_|sprd-|MZ-)"
            case .detector: "(?:^|[^A-Z_-])"
            case .none: ""
            }
        }
    }

    /// The literals the patterns require, for the filters that spare most regular-expression runs; empty
    /// when the store was built without filters.
    let literals: LiteralIndex
    /// Every pattern's source, UTF-8, one after another; pattern `i` is `text[sourceStarts[i]..<sourceStarts[i + 1]]`.
    private let text: [UInt8]
    private let sourceStarts: [Int32]
    /// Per pattern: the boundary's raw value, plus `caseSensitiveFlag`.
    private let options: [UInt8]
    private static let caseSensitiveFlag: UInt8 = 0x80
    /// Every pattern's condition (`LiteralRegistry.condition(of:)`), one after another; an empty range: no filter.
    private let conditions: [Int32]
    private let conditionStarts: [Int32]
    /// The patterns used so far, compiled, by number.
    private let compiled = Mutex<[Int32: Compiled]>([:])

    private enum Compiled {
        case ready(NSRegularExpression)
        case invalid(String)
    }

    /// Collects patterns while a database is read.
    final class Builder {
        fileprivate private(set) var text: [UInt8] = []
        fileprivate private(set) var sourceStarts: [Int32] = [0]
        fileprivate private(set) var options: [UInt8] = []
        fileprivate private(set) var conditions: [Int32] = []
        fileprivate private(set) var conditionStarts: [Int32] = [0]
        /// `nil`: no literal filters.
        fileprivate let registry: LiteralRegistry?

        init(literalFilters: Bool) {
            registry = literalFilters ? LiteralRegistry() : nil
        }

        func add(_ source: String, boundary: Boundary = .token, caseSensitive: Bool = false) -> PatternID {
            let id = PatternID(index: Int32(options.count))
            text.append(contentsOf: source.utf8)
            sourceStarts.append(Int32(text.count))
            options.append(boundary.rawValue | (caseSensitive ? PatternStore.caseSensitiveFlag : 0))
            if let condition = registry?.condition(of: source) { conditions.append(contentsOf: condition) }
            conditionStarts.append(Int32(conditions.count))
            return id
        }

        func build() -> PatternStore { PatternStore(self) }
    }

    private init(_ builder: Builder) {
        // Copies sized to their contents: the builder's arrays carry the spare capacity of their growth.
        text = builder.text.fitted()
        sourceStarts = builder.sourceStarts.fitted()
        options = builder.options.fitted()
        conditions = builder.conditions.fitted()
        conditionStarts = builder.conditionStarts.fitted()
        literals = (builder.registry ?? LiteralRegistry()).index()
    }

    /// A store without patterns, for a text matched only against the algorithm's own patterns
    /// (`UserAgentPattern`): preparing it costs no walk over the literal trie.
    static let empty = PatternStore(Builder(literalFilters: false))

    /// A store of one pattern, without a filter: the algorithm's own checks.
    convenience init(single source: String, boundary: Boundary) {
        let builder = Builder(literalFilters: false)
        _ = builder.add(source, boundary: boundary)
        self.init(builder)
    }

    var count: Int { options.count }

    /// The pattern as the database writes it (for messages).
    func source(_ id: PatternID) -> String {
        let index = Int(id.index)
        return String(decoding: text[Int(sourceStarts[index])..<Int(sourceStarts[index + 1])], as: UTF8.self)
    }

    /// False when the pattern certainly does not match: the text lacks literals every match contains.
    private func mayMatch(_ id: PatternID, _ ua: UserAgentText) -> Bool {
        let index = Int(id.index)
        let start = Int(conditionStarts[index]), end = Int(conditionStarts[index + 1])
        guard start < end, ua.patterns === self, let bits = ua.literals else { return true }
        return conditions.withUnsafeBufferPointer { LiteralIndex.holds(UnsafeBufferPointer(rebasing: $0[start..<end]), bits) }
    }

    private func expression(_ id: PatternID) -> Compiled {
        if let known = compiled.withLock({ $0[id.index] }) { return known }
        // Compiled outside the lock; two threads may both compile a pattern, and either result is kept.
        let made = compile(id)
        compiled.withLock { $0[id.index] = made }
        return made
    }

    private func compile(_ id: PatternID) -> Compiled {
        let option = options[Int(id.index)]
        let boundary = Boundary(rawValue: option & ~Self.caseSensitiveFlag) ?? .token
        let expression = boundary.expression + "(?:" + Self.icu(pcre: source(id)) + ")"
        do {
            let caseSensitive = option & Self.caseSensitiveFlag != 0
            return .ready(try NSRegularExpression(pattern: expression, options: caseSensitive ? [] : [.caseInsensitive]))
        } catch {
            return .invalid("\(error)")
        }
    }

    /// The warning `check-config` prints for a pattern ICU cannot compile: where it is (file and entry),
    /// the pattern, ICU's reason. A pattern not yet used is compiled for the check and not kept, so checking
    /// a whole database does not hold its compiled form.
    func compilationProblem(_ id: PatternID, file: String, entry: String) -> String? {
        let state = compiled.withLock { $0[id.index] } ?? compile(id)
        guard case .invalid(let reason) = state else { return nil }
        return "\(file): entry \(entry): pattern \(source(id)) does not compile (\(reason)); it is skipped"
    }

    /// The first match in `ua`, with its capture groups (`nil` for a group that took no part).
    func match(_ id: PatternID, _ ua: UserAgentText) -> PatternMatch? {
        guard mayMatch(id, ua), case .ready(let regex) = expression(id),
              let result = regex.firstMatch(in: ua.string, options: [], range: ua.fullRange) else { return nil }
        var groups: [String?] = []
        groups.reserveCapacity(result.numberOfRanges)
        for index in 0..<result.numberOfRanges {
            let range = result.range(at: index)
            groups.append(range.location == NSNotFound ? nil : ua.nsString.substring(with: range))
        }
        return PatternMatch(groups: groups)
    }

    func matches(_ id: PatternID, _ ua: UserAgentText) -> Bool {
        guard mayMatch(id, ua), case .ready(let regex) = expression(id) else { return false }
        return regex.firstMatch(in: ua.string, options: [], range: ua.fullRange) != nil
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

extension Array {
    /// A copy without spare capacity (`Array(self)` would share this array's storage).
    func fitted() -> [Element] { withUnsafeBufferPointer { Array($0) } }
}
