/// The literal texts one of which every match of a pattern must contain — so a user agent that contains
/// none of them is rejected by a substring search instead of a regular-expression run. The database's
/// thousands of patterns mostly name a product ("Googlebot/", "SamsungBrowser", "CUBOT"); a user agent
/// contains few of those names, and ICU's case-insensitive matching is slow, so this decides most of the
/// cost of detection.
///
/// The result is a condition per top-level alternative: all of its clauses must hold, and a clause holds
/// when the text contains one of its literals ("Android.*V3[67]0" needs "android" and "v3"). The
/// analysis is conservative: it only reports literals that are certainly required (outside optional
/// parts, lookarounds and repetitions), lower-cased for the case-insensitive comparison, ASCII only, two
/// characters or more. A pattern with an alternative it cannot reduce has no filter.
enum RequiredLiterals {
    /// Alternatives → clauses → literals (lower-cased bytes); `nil` when there is no useful filter.
    typealias Condition = [[[[UInt8]]]]

    static func of(_ pattern: String) -> Condition? {
        var parser = Parser(Array(pattern.unicodeScalars))
        guard let branches = parser.alternation(), parser.atEnd, !branches.isEmpty, branches.allSatisfy({ !$0.isEmpty }) else { return nil }
        return branches.map { clauses in clauses.map { clause in clause.map { Array($0.lowercased().utf8) } } }
    }

    /// A clause is as selective as its shortest literal.
    private static func quality(_ clause: [String]) -> Int { clause.map(\.count).min() ?? 0 }

    /// The one clause a group contributes to the sequence around it: the best clause of each of its
    /// alternatives, any of which may be the one that matched; nothing if an alternative requires nothing.
    private static func clause(ofGroup branches: [[[String]]]) -> [String]? {
        var literals: [String] = []
        for clauses in branches {
            guard let best = clauses.max(by: { quality($0) < quality($1) }) else { return nil }
            literals += best
        }
        return literals.isEmpty ? nil : literals
    }

    private struct Parser {
        let scalars: [Unicode.Scalar]
        var index = 0

        init(_ scalars: [Unicode.Scalar]) { self.scalars = scalars }

        var atEnd: Bool { index >= scalars.count }
        var current: Unicode.Scalar? { index < scalars.count ? scalars[index] : nil }

        /// `a|b|c` up to a closing parenthesis or the end: each branch's clauses; `nil` if a branch could
        /// not be read.
        mutating func alternation() -> [[[String]]]? {
            var branches: [[[String]]] = []
            while true {
                guard let branch = sequence() else { return nil }
                branches.append(branch)
                if current == "|" {
                    index += 1
                    continue
                }
                return branches
            }
        }

        /// One branch: every run of literal characters and every required group is a clause.
        mutating func sequence() -> [[String]]? {
            var clauses: [[String]] = []
            var run = ""
            func consider(_ candidate: [String]?) {
                guard let candidate, !candidate.isEmpty, RequiredLiterals.quality(candidate) >= 2 else { return }
                clauses.append(candidate)
            }
            func endRun() {
                if !run.isEmpty { consider([run]) }
                run = ""
            }
            while let scalar = current, scalar != "|", scalar != ")" {
                switch scalar {
                case "(":
                    endRun()
                    index += 1
                    var zeroWidth = false
                    if current == "?" {
                        index += 1
                        switch current {
                        case ":": index += 1
                        case "=", "!": zeroWidth = true; index += 1
                        case "<":
                            index += 1
                            if current == "=" || current == "!" { zeroWidth = true; index += 1 } else { return nil }
                        default: return nil  // inline flags, named groups: no filter
                        }
                    }
                    guard let inner = alternation(), current == ")" else { return nil }
                    index += 1
                    let optional = quantifier()
                    if !zeroWidth, !optional { consider(RequiredLiterals.clause(ofGroup: inner)) }
                case "[":
                    endRun()
                    guard skipClass() else { return nil }
                    _ = quantifier()
                case "\\":
                    index += 1
                    guard let escaped = current else { return nil }
                    index += 1
                    if escaped.properties.isAlphabetic || escaped.properties.numericType != nil {
                        endRun()  // \d, \w, \s, \b, back-references…
                        _ = quantifier()
                    } else {
                        literal(escaped, &run, consider)
                    }
                case ".", "^", "$":
                    endRun()
                    index += 1
                    _ = quantifier()
                case "*", "+", "?", "{":
                    return nil  // a quantifier with nothing before it: not a pattern this reads
                default:
                    index += 1
                    literal(scalar, &run, consider)
                }
            }
            endRun()
            return clauses
        }

        /// Appends a literal character to the run, unless a quantifier makes it optional or repeated.
        mutating func literal(_ scalar: Unicode.Scalar, _ run: inout String, _ consider: ([String]?) -> Void) {
            guard scalar.isASCII else {
                if !run.isEmpty { consider([run]) }
                run = ""
                _ = quantifier()
                return
            }
            switch current {
            case "?", "*", "+", "{":
                let optional = quantifier()
                if !optional { run.append(Character(scalar)) }
                if !run.isEmpty { consider([run]) }
                run = ""
            default:
                run.append(Character(scalar))
            }
        }

        /// Skips a quantifier (and a lazy or possessive mark after it); true when it allows zero repetitions.
        mutating func quantifier() -> Bool {
            guard let scalar = current else { return false }
            var optional = false
            switch scalar {
            case "?", "*": optional = true; index += 1
            case "+": index += 1
            case "{":
                var end = index + 1
                var digits = ""
                while end < scalars.count, scalars[end] != "}" { digits.unicodeScalars.append(scalars[end]); end += 1 }
                guard end < scalars.count, digits.first?.isNumber == true else { return false }  // a literal brace
                optional = digits.split(separator: ",", omittingEmptySubsequences: false).first.flatMap { Int($0) } == 0
                index = end + 1
            default: return false
            }
            if current == "?" || current == "+" { index += 1 }
            return optional
        }

        /// Skips a bracket expression; false if it does not close.
        mutating func skipClass() -> Bool {
            index += 1
            if current == "^" { index += 1 }
            if current == "]" { index += 1 }
            while let scalar = current {
                index += 1
                if scalar == "\\" { index += 1 } else if scalar == "]" { return true }
            }
            return false
        }
    }
}
