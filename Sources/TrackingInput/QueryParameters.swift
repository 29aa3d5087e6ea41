import TallyCore

/// Matomo tracking parameters from a query string or an `application/x-www-form-urlencoded` body.
///
/// Parsing is strict and bounded: percent escapes must be well formed, the decoded bytes must be valid
/// UTF-8, and the parameter count and each value's length are capped; anything else is a rejection, so
/// the pipeline never sees a half-decoded value. Control characters are removed (TextCleaning) and the
/// removal is recorded in `repairs`.
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
            return pairs.last { $0.tag == tag && $0.name == name }?.value
        }
        set {
            pairs.removeAll { $0.name == name }
            guard var value = newValue else { return }
            if let cleaned = TextCleaning.removingControlCharacters(value) {
                value = cleaned
                noteRepair(.controlCharacters)
            }
            pairs.append(Pair(name: name, value: value))
        }
    }

    /// Name to value, a repeated name holding its last value.
    public var dictionary: [String: String] {
        Dictionary(pairs.map { ($0.name, $0.value) }) { _, last in last }
    }

    public static func == (lhs: QueryParameters, rhs: QueryParameters) -> Bool { lhs.dictionary == rhs.dictionary }

    /// Merges `other` over these parameters (a POST body's parameters win over the query string's).
    public mutating func merge(_ other: QueryParameters) {
        pairs.append(contentsOf: other.pairs)
        for repair in other.repairs { noteRepair(repair) }
    }

    private mutating func noteRepair(_ repair: InputRepair) {
        if !repairs.contains(repair) { repairs.append(repair) }
    }

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
            var repaired = false
            let name = try decode(bytes[start..<(equals ?? end)], limit: 128, name: nil, repaired: &repaired)
            let value = try decode(bytes[(equals.map { $0 + 1 } ?? end)..<end], limit: limits.maxValueBytes, name: name, repaired: &repaired)
            if repaired { result.noteRepair(.controlCharacters) }
            guard !name.isEmpty else { continue }
            guard result.pairs.count < limits.maxParameters else {
                throw RequestRejection("Too many parameters (more than \(limits.maxParameters)); send fewer.")
            }
            result.pairs.append(Pair(name: name, value: value))
        }
        return result
    }

    private static func decode(_ raw: ArraySlice<UInt8>, limit: Int, name: String?, repaired: inout Bool) throws(RequestRejection) -> String {
        // Most values carry no escapes: validate them where they lie.
        guard raw.contains(where: { $0 == UInt8(ascii: "%") || $0 == UInt8(ascii: "+") }) else {
            return try validated(raw, limit: limit, name: name, repaired: &repaired)
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
                guard index + 1 < raw.endIndex, let high = ASCII.hexValue(raw[index]), let low = ASCII.hexValue(raw[index + 1])
                else {
                    throw RequestRejection("Malformed percent escape in \(name.map { "parameter \($0)" } ?? "a parameter name"); encode '%' as %25.")
                }
                out.append(high << 4 | low)
                index += 2
            default:
                out.append(byte)
            }
        }
        return try validated(out[...], limit: limit, name: name, repaired: &repaired)
    }

    private static func validated(_ bytes: ArraySlice<UInt8>, limit: Int, name: String?, repaired: inout Bool) throws(RequestRejection) -> String {
        guard bytes.count <= limit else {
            throw RequestRejection("Parameter \(name ?? "name") is longer than \(limit) bytes; shorten it.")
        }
        guard bytes.withUnsafeBytes(UTF8Validation.isValid) else {
            throw RequestRejection("Parameter \(name ?? "name") is not valid UTF-8; encode it as UTF-8 before percent-encoding.")
        }
        if TextCleaning.containsControlCharacter(bytes) {
            repaired = true
            return String(decoding: TextCleaning.removingControlCharacters(utf8: bytes), as: UTF8.self)
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
