import Foundation

/// A calendar day (`YYYY-MM-DD`) as a site sees it. Reports count days in the site's time zone, so a
/// day's bounds in UTC move with daylight saving: a day can be 23, 24 or 25 hours long.
public struct LocalDay: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let year: Int
    public let month: Int
    public let day: Int

    public init?(year: Int, month: Int, day: Int) {
        guard (1...9999).contains(year), (1...12).contains(month), (1...31).contains(day) else { return nil }
        var components = DateComponents(year: year, month: month, day: day)
        components.calendar = LocalDay.gregorian(TimeZone(identifier: "UTC")!)
        guard let date = components.date, LocalDay.gregorian(TimeZone(identifier: "UTC")!).component(.day, from: date) == day else {
            return nil  // 2026-02-30 and the like
        }
        self.year = year
        self.month = month
        self.day = day
    }

    /// Parses exactly `YYYY-MM-DD`.
    public init?(_ text: String) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
              parts.allSatisfy({ $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }),
              let y = Int(parts[0]), let m = Int(parts[1]), let d = Int(parts[2])
        else { return nil }
        self.init(year: y, month: m, day: d)
    }

    /// The day a moment falls on in `zone`.
    public init(containing date: Date, in zone: TimeZone) {
        let c = LocalDay.gregorian(zone).dateComponents([.year, .month, .day], from: date)
        year = c.year!
        month = c.month!
        day = c.day!
    }

    public var description: String { String(format: "%04d-%02d-%02d", year, month, day) }

    public static func < (a: LocalDay, b: LocalDay) -> Bool { (a.year, a.month, a.day) < (b.year, b.month, b.day) }

    /// The first moment of the day in `zone` (DST-aware), and the first moment of the next day.
    public func bounds(in zone: TimeZone) -> (start: Date, end: Date) {
        let calendar = LocalDay.gregorian(zone)
        let start = calendar.date(from: DateComponents(year: year, month: month, day: day))!
        let end = calendar.date(byAdding: .day, value: 1, to: start)!
        return (calendar.startOfDay(for: start), calendar.startOfDay(for: end))
    }

    public func adding(days: Int) -> LocalDay {
        let utc = LocalDay.gregorian(TimeZone(identifier: "UTC")!)
        let date = utc.date(byAdding: .day, value: days, to: utc.date(from: DateComponents(year: year, month: month, day: day))!)!
        return LocalDay(containing: date, in: TimeZone(identifier: "UTC")!)
    }

    /// Days from `self` to `other` (positive when `other` is later).
    public func days(to other: LocalDay) -> Int {
        let utc = LocalDay.gregorian(TimeZone(identifier: "UTC")!)
        let a = utc.date(from: DateComponents(year: year, month: month, day: day))!
        let b = utc.date(from: DateComponents(year: other.year, month: other.month, day: other.day))!
        return utc.dateComponents([.day], from: a, to: b).day!
    }

    /// Monday of this day's ISO 8601 week.
    public var isoWeekStart: LocalDay {
        let utc = LocalDay.gregorian(TimeZone(identifier: "UTC")!)
        let date = utc.date(from: DateComponents(year: year, month: month, day: day))!
        let weekday = utc.component(.weekday, from: date)  // 1 = Sunday … 7 = Saturday
        return adding(days: -((weekday + 5) % 7))
    }

    public var monthStart: LocalDay { LocalDay(year: year, month: month, day: 1)! }

    public var monthEnd: LocalDay {
        let next = month == 12 ? LocalDay(year: year + 1, month: 1, day: 1)! : LocalDay(year: year, month: month + 1, day: 1)!
        return next.adding(days: -1)
    }

    public static func gregorian(_ zone: TimeZone) -> Calendar {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        return calendar
    }
}
