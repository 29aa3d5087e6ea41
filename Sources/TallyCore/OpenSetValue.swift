/// A value of an open set (hit kinds, referrer and device types, drop reasons, input repairs, report
/// ids): a newer edge or central may bring values an older one does not know, so each is a string with
/// named constants rather than an enum, and decoding one never fails on an unknown value (after
/// SwiftNIO's open enums). It prints as its string, and a `Codable` one is encoded as that string alone
/// (the standard library's coding of string raw values).
public protocol OpenSetValue: RawRepresentable, Hashable, Sendable, CustomStringConvertible where RawValue == String {
    init(rawValue: String)
}

extension OpenSetValue {
    @inlinable public var description: String { rawValue }
}
