import TallyCore

/// Matomo tracking parameters from a query string or an `application/x-www-form-urlencoded` body.
///
/// Parsing is tolerant where Matomo is and bounded where it must be. A `%` not followed by two hex digits
/// is kept as written (PHP's `urldecode`), bytes that are not UTF-8 become U+FFFD, control characters are
/// removed (TextCleaning), and a value longer than `max_value_bytes` is cut at a character boundary; each
/// repair is recorded in `repairs` and the hit is kept. Only the parameter count is a rejection, so the
/// work per request stays bounded.
///
/// The pairs are kept in arrival order and looked up from the end, so a repeated name reads as its last
/// value, as PHP (and so Matomo) has it. A tracking request carries a few dozen pairs and the pipeline
/// asks for about thirty names; a scan over each pair's 64-bit tag (FNV-1a of the name) costs less than
/// a dictionary's hashing, and less than comparing the strings themselves.
public struct QueryParameters: Sendable, Equatable {
    private struct Pair: Sendable {
        var tag: UInt64
        var name: String
        var value: String

        init(name: String, value: String) {
            self.tag = Pair.tag(name)
            self.name = name
            self.value = value
        }

        static func tag(_ name: String) -> UInt64 { FNV1a.hash(name.utf8) }
    }

    private var pairs: [Pair] = []
    /// One bit per name tag present (tag mod 64): most names the pipeline asks for are absent, and the
    /// bit answers that without a scan. A superset after removals, which only costs a scan.
    private var present: UInt64 = 0
    /// What was repaired while parsing (or setting) values, for `/metrics`.
    public private(set) var repairs: [InputRepair] = []

    public init() {}

    /// Parameters from name–value pairs (the JSON beacon), under the same control-character rule.
    public init(_ values: [String: String]) {
        for (name, value) in values.sorted(by: { $0.key < $1.key }) { self[name] = value }
    }

    public subscript(name: String) -> String? {
        get {
            let tag = Pair.tag(name)
            guard present & (1 << (tag & 63)) != 0 else { return nil }
            return pairs.last { $0.tag == tag && $0.name == name }?.value
        }
        set {
            pairs.removeAll { $0.name == name }
            guard var value = newValue else { return }
            if let cleaned = TextCleaning.removingControlCharacters(value) {
                value = cleaned
                noteRepair(.controlCharacters)
            }
            append(Pair(name: name, value: value))
        }
    }

    private mutating func append(_ pair: Pair) {
        present |= 1 << (pair.tag & 63)
        pairs.append(pair)
    }

    /// Whether the request carried no parameter at all.
    public var isEmpty: Bool { pairs.isEmpty }

    /// The parameters whose name starts with `prefix` (`dimension`), each name once with its last value,
    /// without building the whole dictionary on the request path.
    public func parameters(withNamePrefix prefix: String) -> [(name: String, value: String)] {
        var found: [(name: String, value: String)] = []
        for pair in pairs where pair.name.utf8.starts(with: prefix.utf8) {
            if let index = found.firstIndex(where: { $0.name == pair.name }) { found[index].value = pair.value } else { found.append((pair.name, pair.value)) }
        }
        return found
    }

    /// Name to value, a repeated name holding its last value.
    public var dictionary: [String: String] {
        Dictionary(pairs.map { ($0.name, $0.value) }) { _, last in last }
    }

    public static func == (lhs: QueryParameters, rhs: QueryParameters) -> Bool { lhs.dictionary == rhs.dictionary }

    /// Merges `other` under these parameters: where both have a name, these win. The query string wins
    /// over a POST body's parameters, as Matomo reads them.
    public mutating func merge(under other: QueryParameters) {
        pairs = other.pairs + pairs
        present |= other.present
        for repair in other.repairs { noteRepair(repair) }
    }

    /// Cuts every value longer than `limit` bytes (the JSON beacon's values, which arrive unbounded).
    public mutating func truncateValues(toBytes limit: Int) {
        for index in pairs.indices where pairs[index].value.utf8.count > limit {
            pairs[index].value = Self.truncated(pairs[index].value, toBytes: limit)
            noteRepair(.truncated)
        }
    }

    private mutating func noteRepair(_ repair: InputRepair) {
        if !repairs.contains(repair) { repairs.append(repair) }
    }

    /// The longest parameter name kept; Matomo's longest is far shorter.
    static let maxNameBytes = 128

    /// Parses `a=1&b=%C3%A9`. Every pair counts towards `max_parameters`, repeated names included.
    public static func parse(_ bytes: [UInt8], limits: RequestLimits) throws(RequestRejection) -> QueryParameters {
        var result = QueryParameters()
        result.pairs.reserveCapacity(24)
        var start = 0
        while start < bytes.count {
            var end = start
            var equals: Int?
            while end < bytes.count, bytes[end] != UInt8(ascii: "&") {
                if equals == nil, bytes[end] == UInt8(ascii: "=") { equals = end }
                end += 1
            }
            defer { start = end + 1 }
            if end == start { continue }
            guard result.pairs.count < limits.maxParameters else {
                throw RequestRejection("Too many parameters (more than \(limits.maxParameters)); send fewer.")
            }
            let name = decode(bytes[start..<(equals ?? end)], limit: Int.max, into: &result)
            guard !name.isEmpty else { continue }
            guard name.utf8.count <= maxNameBytes else {
                result.noteRepair(.truncated)
                continue
            }
            let value = decode(bytes[(equals.map { $0 + 1 } ?? end)..<end], limit: limits.maxValueBytes, into: &result)
            result.append(Pair(name: name, value: value))
        }
        return result
    }

    private static func decode(_ raw: ArraySlice<UInt8>, limit: Int, into result: inout QueryParameters) -> String {
        // Most values carry no escapes: check them where they lie.
        guard raw.contains(where: { $0 == UInt8(ascii: "%") || $0 == UInt8(ascii: "+") }) else {
            return cleaned(raw, limit: limit, into: &result)
        }
        var out: [UInt8] = []
        out.reserveCapacity(raw.count)
        var index = raw.startIndex
        while index < raw.endIndex {
            let byte = raw[index]
            index += 1
            switch byte {
            case UInt8(ascii: "+"):
                out.append(UInt8(ascii: " "))
            case UInt8(ascii: "%"):
                if index + 1 < raw.endIndex, let high = ASCII.hexValue(raw[index]), let low = ASCII.hexValue(raw[index + 1]) {
                    out.append(high << 4 | low)
                    index += 2
                } else {
                    out.append(byte)
                    result.noteRepair(.malformedEscape)
                }
            default:
                out.append(byte)
            }
        }
        return cleaned(out[...], limit: limit, into: &result)
    }

    /// Valid UTF-8 without control characters, at most `limit` bytes.
    private static func cleaned(_ bytes: ArraySlice<UInt8>, limit: Int, into result: inout QueryParameters) -> String {
        var text: String
        if bytes.withUnsafeBytes(UTF8Validation.isValid) {
            if TextCleaning.containsControlCharacter(bytes) {
                result.noteRepair(.controlCharacters)
                text = String(decoding: TextCleaning.removingControlCharacters(utf8: bytes), as: UTF8.self)
            } else {
                text = String(decoding: bytes, as: UTF8.self)
            }
        } else {
            result.noteRepair(.invalidUTF8)
            text = String(decoding: bytes, as: UTF8.self)
            if let removed = TextCleaning.removingControlCharacters(text) {
                result.noteRepair(.controlCharacters)
                text = removed
            }
        }
        if text.utf8.count > limit {
            result.noteRepair(.truncated)
            text = truncated(text, toBytes: limit)
        }
        return text
    }

    /// The longest prefix of whole characters within `limit` UTF-8 bytes.
    static func truncated(_ text: String, toBytes limit: Int) -> String {
        var used = 0
        var end = text.startIndex
        for character in text {
            let size = character.utf8.count
            guard used + size <= limit else { break }
            used += size
            end = text.index(after: end)
        }
        return String(text[..<end])
    }
}

extension QueryParameters {
    /// The text inside a Python bytes literal (`b'…'` or `b"…"`), which some server-side clients send
    /// for URLs and user agents by mistake; `nil` when `text` is not one.
    public static func unwrappingBytesLiteral(_ text: String) -> String? {
        guard text.count >= 3, text.hasPrefix("b'") && text.hasSuffix("'") || text.hasPrefix("b\"") && text.hasSuffix("\"") else { return nil }
        return String(text.dropFirst(2).dropLast())
    }
}
