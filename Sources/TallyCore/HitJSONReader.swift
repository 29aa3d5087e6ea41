import Foundation

extension Hit {
    /// Reads one record from its JSON object, as `JSONDecoder` would decode `Hit`: keys in any order,
    /// insignificant whitespace, every JSON escape, `null` for an absent optional field, unknown keys (of
    /// any JSON value) skipped so that a newer edge's records still decode. Central reads every hit of
    /// every batch through this; written by hand because `JSONDecoder` costs several times more per record
    /// (HitJSONTests compares both on canonical, re-encoded and reshaped records and on invalid ones).
    ///
    /// Stricter than `JSONDecoder` in two respects: integer fields take integer literals only (`7`, not
    /// `7.0` or `7e0`), which is what every writer of this format produces, and a trailing comma before
    /// `}` is refused, as RFC 8259 has it.
    public static func readJSON(_ bytes: UnsafeRawBufferPointer) throws(HitJSONError) -> Hit {
        var reader = HitJSONReader(bytes: bytes)
        return try reader.readHit()
    }

    public static func readJSON(_ data: Data) throws(HitJSONError) -> Hit {
        let result: Result<Hit, HitJSONError> = data.withUnsafeBytes { raw in Result { () throws(HitJSONError) in try readJSON(raw) } }
        return try result.get()
    }
}

/// Where and why a record is not a valid hit.
public struct HitJSONError: Error, Equatable, CustomStringConvertible {
    public var offset: Int
    public var reason: String
    public var description: String { "\(reason) at byte \(offset)" }
}

struct HitJSONReader {
    private let bytes: UnsafeRawBufferPointer
    private var index = 0

    init(bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    /// The record's keys, found through a 64-bit FNV-1a hash of their bytes and then compared in full,
    /// so an unknown key that happens to share a hash is still skipped.
    private static let keys = KeyTable()

    mutating func readHit() throws(HitJSONError) -> Hit {
        var hit = Hit(siteID: 0, kind: .pageview, timestamp: 0)
        var seenSite = false, seenKind = false, seenTimestamp = false
        skipWhitespace()
        try expect(UInt8(ascii: "{"))
        skipWhitespace()
        if peek() == UInt8(ascii: "}") {
            index += 1
        } else {
            while true {
                skipWhitespace()
                let keyStart = index
                let known = try readKey()
                skipWhitespace()
                try expect(UInt8(ascii: ":"))
                skipWhitespace()
                if let field = known {
                    switch field {
                    case .siteID: hit.siteID = Int(try required(try optionalInteger(), keyStart)); seenSite = true
                    case .kind: hit.kind = HitKind(rawValue: try required(try optionalString(), keyStart)); seenKind = true
                    case .timestamp: hit.timestamp = try required(try optionalInteger(), keyStart); seenTimestamp = true
                    case .aggregateOnly: hit.aggregateOnly = try optionalBool() ?? false
                    case .isBot: hit.isBot = try optionalBool() ?? false
                    case .visitorID: hit.visitorID = try optionalString()
                    case .userID: hit.userID = try optionalString()
                    case .newVisit: hit.newVisit = try optionalBool() ?? false
                    case .pageviewID: hit.pageviewID = try optionalString()
                    case .url: hit.url = try optionalString()
                    case .title: hit.title = try optionalString()
                    case .referrerType: hit.referrerType = try optionalString().map(ReferrerType.init(rawValue:))
                    case .referrerName: hit.referrerName = try optionalString()
                    case .referrerURL: hit.referrerURL = try optionalString()
                    case .campaignName: hit.campaignName = try optionalString()
                    case .campaignSource: hit.campaignSource = try optionalString()
                    case .campaignMedium: hit.campaignMedium = try optionalString()
                    case .campaignKeyword: hit.campaignKeyword = try optionalString()
                    case .campaignContent: hit.campaignContent = try optionalString()
                    case .country: hit.country = try optionalString()
                    case .region: hit.region = try optionalString()
                    case .city: hit.city = try optionalString()
                    case .maskedIP: hit.maskedIP = try optionalString()
                    case .browser: hit.browser = try optionalString()
                    case .browserVersion: hit.browserVersion = try optionalString()
                    case .os: hit.os = try optionalString()
                    case .osVersion: hit.osVersion = try optionalString()
                    case .device: hit.device = try optionalString().map(DeviceType.init(rawValue:))
                    case .resolution: hit.resolution = try optionalString()
                    case .language: hit.language = try optionalString()
                    case .localTime: hit.localTime = try optionalString()
                    case .eventCategory: hit.eventCategory = try optionalString()
                    case .eventAction: hit.eventAction = try optionalString()
                    case .eventName: hit.eventName = try optionalString()
                    case .eventValue: hit.eventValue = try optionalDouble()
                    case .searchKeyword: hit.searchKeyword = try optionalString()
                    case .searchCategory: hit.searchCategory = try optionalString()
                    case .searchCount: hit.searchCount = try optionalInteger().map(Int.init)
                    case .linkURL: hit.linkURL = try optionalString()
                    case .goalID: hit.goalID = try optionalInteger().map(Int.init)
                    case .revenue: hit.revenue = try optionalDouble()
                    case .contentName: hit.contentName = try optionalString()
                    case .contentPiece: hit.contentPiece = try optionalString()
                    case .contentTarget: hit.contentTarget = try optionalString()
                    case .contentInteraction: hit.contentInteraction = try optionalString()
                    case .orderID: hit.orderID = try optionalString()
                    case .items: hit.items = try optionalString()
                    case .subtotal: hit.subtotal = try optionalDouble()
                    case .tax: hit.tax = try optionalDouble()
                    case .shipping: hit.shipping = try optionalDouble()
                    case .discount: hit.discount = try optionalDouble()
                    case .productSKU: hit.productSKU = try optionalString()
                    case .productName: hit.productName = try optionalString()
                    case .productCategory: hit.productCategory = try optionalString()
                    case .productPrice: hit.productPrice = try optionalDouble()
                    case .dimensions: hit.dimensions = try optionalString()
                    case .deviceBrand: hit.deviceBrand = try optionalString()
                    case .botName: hit.botName = try optionalString()
                    case .botCategory: hit.botCategory = try optionalString()
                    }
                } else {
                    try skipValue(depth: 0)
                }
                skipWhitespace()
                guard let byte = next() else { throw failure("the object is not closed") }
                if byte == UInt8(ascii: "}") { break }
                guard byte == UInt8(ascii: ",") else { throw failure("expected ',' or '}'", at: index - 1) }
            }
        }
        skipWhitespace()
        guard index == bytes.count else { throw failure("unexpected bytes after the object") }
        guard seenSite else { throw failure("site_id is missing", at: 0) }
        guard seenKind else { throw failure("kind is missing", at: 0) }
        guard seenTimestamp else { throw failure("ts is missing", at: 0) }
        return hit
    }

    // MARK: Values

    private func required<T>(_ value: T?, _ keyStart: Int) throws(HitJSONError) -> T {
        guard let value else { throw failure("a required field is null or out of range", at: keyStart) }
        return value
    }

    private mutating func readNull() -> Bool {
        guard matches("null") else { return false }
        index += 4
        return true
    }

    private mutating func optionalBool() throws(HitJSONError) -> Bool? {
        if readNull() { return nil }
        if matches("true") { index += 4; return true }
        if matches("false") { index += 5; return false }
        throw failure("expected true, false or null")
    }

    private mutating func optionalString() throws(HitJSONError) -> String? {
        if readNull() { return nil }
        return try readString()
    }

    private mutating func optionalInteger() throws(HitJSONError) -> Int64? {
        if readNull() { return nil }
        let start = index
        let (literal, isInteger) = try numberLiteral()
        guard isInteger, let value = Int64(String(decoding: literal, as: UTF8.self)) else {
            throw failure("expected a whole number", at: start)
        }
        return value
    }

    private mutating func optionalDouble() throws(HitJSONError) -> Double? {
        if readNull() { return nil }
        let start = index
        let (literal, _) = try numberLiteral()
        guard let value = Double(String(decoding: literal, as: UTF8.self)), value.isFinite else {
            throw failure("expected a number", at: start)
        }
        return value
    }

    /// A JSON number (RFC 8259 §6) and whether it has neither fraction nor exponent.
    private mutating func numberLiteral() throws(HitJSONError) -> (UnsafeRawBufferPointer, Bool) {
        let start = index
        var isInteger = true
        if peek() == UInt8(ascii: "-") { index += 1 }
        guard let first = peek(), isDigit(first) else { throw failure("expected a number", at: start) }
        index += 1
        if first != UInt8(ascii: "0") { while let byte = peek(), isDigit(byte) { index += 1 } }
        if peek() == UInt8(ascii: ".") {
            isInteger = false
            index += 1
            guard let byte = peek(), isDigit(byte) else { throw failure("expected a digit after '.'") }
            while let byte = peek(), isDigit(byte) { index += 1 }
        }
        if peek() == UInt8(ascii: "e") || peek() == UInt8(ascii: "E") {
            isInteger = false
            index += 1
            if peek() == UInt8(ascii: "+") || peek() == UInt8(ascii: "-") { index += 1 }
            guard let byte = peek(), isDigit(byte) else { throw failure("expected a digit in the exponent") }
            while let byte = peek(), isDigit(byte) { index += 1 }
        }
        return (UnsafeRawBufferPointer(rebasing: bytes[start..<index]), isInteger)
    }

    /// The field a key names, or nil for a key this version does not know. Keys of this format are plain
    /// ASCII and are looked up where they lie in the input; one with escapes is decoded first.
    private mutating func readKey() throws(HitJSONError) -> Hit.CodingKeys? {
        guard peek() == UInt8(ascii: "\"") else { throw failure("expected a key") }
        let start = index + 1
        var end = start
        while end < bytes.count, bytes[end] != UInt8(ascii: "\""), bytes[end] != UInt8(ascii: "\\"), bytes[end] >= 0x20 { end += 1 }
        if end < bytes.count, bytes[end] == UInt8(ascii: "\"") {
            index = end + 1
            return Self.keys.field(named: UnsafeRawBufferPointer(rebasing: bytes[start..<end]))
        }
        let decoded = Array(try readString().utf8)
        return decoded.withUnsafeBytes { Self.keys.field(named: $0) }
    }

    /// A JSON string: escapes decoded (`\u` with four hex digits, surrogate pairs joined), control
    /// characters refused, the bytes valid UTF-8.
    private mutating func readString() throws(HitJSONError) -> String {
        guard next() == UInt8(ascii: "\"") else { throw failure("expected a string", at: index - 1) }
        let start = index
        // The common case: no escapes. Find the closing quote and validate in place.
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                let raw = UnsafeRawBufferPointer(rebasing: bytes[start..<index])
                index += 1
                guard UTF8Validation.isValid(raw) else { throw failure("a string is not valid UTF-8", at: start) }
                return String(decoding: raw, as: UTF8.self)
            }
            if byte == UInt8(ascii: "\\") { break }
            guard byte >= 0x20 else { throw failure("a control character inside a string") }
            index += 1
        }
        var out = Array(bytes[start..<index])
        while true {
            guard let byte = next() else { throw failure("a string is not closed", at: start - 1) }
            switch byte {
            case UInt8(ascii: "\""):
                guard out.withUnsafeBytes(UTF8Validation.isValid) else { throw failure("a string is not valid UTF-8", at: start) }
                return String(decoding: out, as: UTF8.self)
            case UInt8(ascii: "\\"):
                guard let escape = next() else { throw failure("a string is not closed", at: start - 1) }
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(escape)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if (0xD800...0xDBFF).contains(scalar) {
                        guard next() == UInt8(ascii: "\\"), next() == UInt8(ascii: "u") else { throw failure("a lone surrogate escape", at: index - 2) }
                        let low = try hex4()
                        guard (0xDC00...0xDFFF).contains(low) else { throw failure("a lone surrogate escape", at: index - 6) }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00...0xDFFF).contains(scalar) {
                        throw failure("a lone surrogate escape", at: index - 6)
                    }
                    guard let unicode = Unicode.Scalar(scalar) else { throw failure("an invalid escape", at: index - 6) }
                    out.append(contentsOf: UTF8.encode(unicode)!)
                default:
                    throw failure("an invalid escape", at: index - 1)
                }
            default:
                guard byte >= 0x20 else { throw failure("a control character inside a string", at: index - 1) }
                out.append(byte)
            }
        }
    }

    private mutating func hex4() throws(HitJSONError) -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard let byte = next() else { throw failure("a \\u escape is cut short") }
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw failure("a \\u escape holds a non-hex digit", at: index - 1)
            }
            value = value << 4 | UInt32(digit)
        }
        return value
    }

    /// Skips any JSON value under a key this version does not know.
    private mutating func skipValue(depth: Int) throws(HitJSONError) {
        guard depth < 32 else { throw failure("values nested too deeply") }
        skipWhitespace()
        switch peek() {
        case UInt8(ascii: "\""): _ = try readString()
        case UInt8(ascii: "t"): guard matches("true") else { throw failure("expected a value") }; index += 4
        case UInt8(ascii: "f"): guard matches("false") else { throw failure("expected a value") }; index += 5
        case UInt8(ascii: "n"): guard readNull() else { throw failure("expected a value") }
        case UInt8(ascii: "["), UInt8(ascii: "{"):
            let isObject = next() == UInt8(ascii: "{")
            let close = isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")
            skipWhitespace()
            if peek() == close { index += 1; return }
            while true {
                skipWhitespace()
                if isObject {
                    _ = try readString()
                    skipWhitespace()
                    try expect(UInt8(ascii: ":"))
                }
                try skipValue(depth: depth + 1)
                skipWhitespace()
                guard let byte = next() else { throw failure("a value is not closed") }
                if byte == close { return }
                guard byte == UInt8(ascii: ",") else { throw failure("expected ','", at: index - 1) }
            }
        default:
            _ = try numberLiteral()
        }
    }

    // MARK: Bytes

    private func peek() -> UInt8? { index < bytes.count ? bytes[index] : nil }

    private mutating func next() -> UInt8? {
        guard index < bytes.count else { return nil }
        defer { index += 1 }
        return bytes[index]
    }

    private mutating func expect(_ byte: UInt8) throws(HitJSONError) {
        guard next() == byte else { throw failure("expected '\(Character(Unicode.Scalar(byte)))'", at: index - 1) }
    }

    private func matches(_ literal: StaticString) -> Bool {
        let count = literal.utf8CodeUnitCount
        guard index + count <= bytes.count else { return false }
        return literal.withUTF8Buffer { UnsafeRawBufferPointer($0).elementsEqual(bytes[index..<(index + count)]) }
    }

    private mutating func skipWhitespace() {
        while let byte = peek(), byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 { index += 1 }
    }

    private func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    private func failure(_ reason: String, at offset: Int? = nil) -> HitJSONError {
        HitJSONError(offset: offset ?? index, reason: reason)
    }
}

/// An open-addressing table of the record's keys, indexed by the low bits of their FNV-1a hash: a lookup
/// is a hash, a probe or two and one comparison of bytes, with nothing allocated.
private struct KeyTable {
    private static let size = 256
    private var hashes = [UInt64](repeating: 0, count: size)
    private var fields = [Hit.CodingKeys?](repeating: nil, count: size)
    private var names = [[UInt8]](repeating: [], count: size)

    init() {
        for key in Hit.CodingKeys.allCases {
            let name = Array(key.stringValue.utf8)
            let hash = FNV1a.hash(name)
            precondition(!hashes.contains(hash), "two hit keys share a hash")
            var slot = Int(truncatingIfNeeded: hash) & (Self.size - 1)
            while fields[slot] != nil { slot = (slot + 1) & (Self.size - 1) }
            (hashes[slot], fields[slot], names[slot]) = (hash, key, name)
        }
    }

    func field(named key: UnsafeRawBufferPointer) -> Hit.CodingKeys? {
        let hash = FNV1a.hash(key)
        var slot = Int(truncatingIfNeeded: hash) & (Self.size - 1)
        while let field = fields[slot] {
            if hashes[slot] == hash, names[slot].count == key.count,
               names[slot].withUnsafeBytes({ memcmp($0.baseAddress!, key.baseAddress!, key.count) == 0 }) {
                return field
            }
            slot = (slot + 1) & (Self.size - 1)
        }
        return nil
    }
}
