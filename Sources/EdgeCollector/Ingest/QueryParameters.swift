/// Matomo tracking parameters from a query string or an `application/x-www-form-urlencoded` body.
///
/// Parsing is strict and bounded: percent escapes must be well formed, the decoded bytes must be valid
/// UTF-8, and the parameter count and each value's length are capped. Anything else is a rejection, so
/// the pipeline never sees a half-decoded value.
public struct QueryParameters: Sendable, Equatable {
    private var values: [String: String] = [:]

    public init() {}

    public init(_ pairs: [String: String]) { values = pairs }

    public subscript(name: String) -> String? {
        get { values[name] }
        set { values[name] = newValue }
    }

    public var count: Int { values.count }
    public var names: Dictionary<String, String>.Keys { values.keys }

    /// Merges `other` over these parameters (a POST body's parameters win over the query string's).
    public mutating func merge(_ other: QueryParameters) {
        values.merge(other.values) { _, new in new }
    }

    /// Parses `a=1&b=%C3%A9`. A repeated name keeps its last value, as PHP (and so Matomo) does.
    public static func parse(_ bytes: some Collection<UInt8>, limits: RequestLimits) throws(RequestRejection) -> QueryParameters {
        var result = QueryParameters()
        var field = bytes[...]
        while !field.isEmpty {
            let end = field.firstIndex(of: UInt8(ascii: "&")) ?? field.endIndex
            let pair = field[field.startIndex..<end]
            field = end == field.endIndex ? field[end...] : field[field.index(after: end)...]
            if pair.isEmpty { continue }
            let equals = pair.firstIndex(of: UInt8(ascii: "="))
            let rawName = pair[pair.startIndex..<(equals ?? pair.endIndex)]
            let rawValue = equals.map { pair[pair.index(after: $0)...] } ?? pair[pair.endIndex...]
            let name = try decode(rawName, limit: 128)
            let value = try decode(rawValue, limit: limits.maxValueBytes, name: name)
            guard !name.isEmpty else { continue }
            result.values[name] = value
            if result.values.count > limits.maxParameters {
                throw RequestRejection("Too many parameters (more than \(limits.maxParameters)); send fewer.")
            }
        }
        return result
    }

    private static func decode(_ raw: some Collection<UInt8>, limit: Int, name: String? = nil) throws(RequestRejection) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(raw.count)
        var iterator = raw.makeIterator()
        while let byte = iterator.next() {
            switch byte {
            case UInt8(ascii: "+"):
                out.append(UInt8(ascii: " "))
            case UInt8(ascii: "%"):
                guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else {
                    throw RequestRejection("Malformed percent escape in \(name.map { "parameter \($0)" } ?? "a parameter name"); encode '%' as %25.")
                }
                out.append(high << 4 | low)
            default:
                out.append(byte)
            }
        }
        guard out.count <= limit else {
            throw RequestRejection("Parameter \(name ?? "name") is longer than \(limit) bytes; shorten it.")
        }
        guard let string = String(validating: out, as: UTF8.self) else {
            throw RequestRejection("Parameter \(name ?? "name") is not valid UTF-8; encode it as UTF-8 before percent-encoding.")
        }
        // In valid UTF-8 a control character below 0x20 is always a byte of its own.
        if out.contains(where: { $0 < 0x20 && $0 != UInt8(ascii: "\t") }) {
            throw RequestRejection("Parameter \(name ?? "name") contains control characters; remove them.")
        }
        return string
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
