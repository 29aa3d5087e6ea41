import Foundation

/// The source of "now" for everything time-dependent (salt rotation, hit time stamps, buffer age), so
/// tests can freeze and move time instead of sleeping.
public protocol TallyClock: Sendable {
    func now() -> Date
}

/// The wall clock.
public struct SystemClock: TallyClock {
    public init() {}
    public func now() -> Date { Date() }
}

extension Date {
    /// Milliseconds since 1970 UTC, the unit hits are stamped in. Saturates instead of trapping for a
    /// moment beyond Int64's range (a date a client or operator typed can be anything).
    public var millisecondsSince1970: Int64 {
        let ms = (timeIntervalSince1970 * 1000).rounded(.down)
        guard ms.isFinite else { return ms > 0 ? .max : .min }
        return Int64(exactly: ms) ?? (ms > 0 ? .max : .min)
    }

    public init(millisecondsSince1970 ms: Int64) {
        self.init(timeIntervalSince1970: Double(ms) / 1000)
    }
}
