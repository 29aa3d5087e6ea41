import Foundation

/// A calendar day (`YYYY-MM-DD`) as a site sees it. Reports count days in the site's time zone, so a
/// day's bounds in UTC move with daylight saving: a day can be 23, 24 or 25 hours long.
///
/// Years run from 1 to 9999, the years `YYYY` can write. Day arithmetic is plain integer arithmetic on
/// the proleptic Gregorian calendar and never traps: a result beyond either end stops at that end.
/// Dates typed by users are checked against the narrower `LocalDay.reportable` range before any
/// arithmetic is done with them.
public struct LocalDay: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let year: Int
    public let month: Int
    public let day: Int

    public static let first = LocalDay(uncheckedYear: 1, month: 1, day: 1)
    public static let last = LocalDay(uncheckedYear: 9999, month: 12, day: 31)

    /// Days reports, schedules and purges accept (docs/reports.md): from the Unix epoch to the end of
    /// 2199, far beyond any site's data, and far enough from the calendar's ends that a week, month,
    /// year or `lastN` around any of them stays inside it.
    public static let reportable = LocalDay(uncheckedYear: 1970, month: 1, day: 1)...LocalDay(uncheckedYear: 2199, month: 12, day: 31)

    public init?(year: Int, month: Int, day: Int) {
        guard (1...9999).contains(year), (1...12).contains(month), day >= 1, day <= Self.daysIn(month: month, year: year) else {
            return nil  // 2026-02-30 and the like
        }
        self.init(uncheckedYear: year, month: month, day: day)
    }

    private init(uncheckedYear year: Int, month: Int, day: Int) {
        self.year = year
        self.month = month
        self.day = day
    }

    /// Parses exactly `YYYY-MM-DD`.
    public init?(_ text: String) {
        let utf8 = Array(text.utf8)
        guard utf8.count == 10, utf8[4] == UInt8(ascii: "-"), utf8[7] == UInt8(ascii: "-") else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for byte in utf8[range] {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
            }
            return value
        }
        guard let y = number(0..<4), let m = number(5..<7), let d = number(8..<10) else { return nil }
        self.init(year: y, month: m, day: d)
    }

    /// The day a moment falls on in `zone`.
    public init(containing date: Date, in zone: TimeZone) {
        let seconds = date.timeIntervalSince1970
        guard seconds.isFinite else {
            self = seconds > 0 ? .last : .first
            return
        }
        // Clamped well inside Int's range before converting, so no moment can trap here.
        let local = min(max(seconds + Double(zone.secondsFromGMT(for: date)), -7e11), 7e11)
        self.init(dayNumber: Int((local / 86_400).rounded(.down)))
    }

    /// The day `n` days after 1970-01-01 (negative: before), clamped to the calendar's ends.
    public init(dayNumber n: Int) {
        let n = min(max(n, LocalDay.first.dayNumber), LocalDay.last.dayNumber)
        // Howard Hinnant's civil_from_days (https://howardhinnant.github.io/date_algorithms.html).
        let z = n + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        self.init(uncheckedYear: yoe + era * 400 + (m <= 2 ? 1 : 0), month: m, day: d)
    }

    /// Days since 1970-01-01 (Howard Hinnant's days_from_civil).
    public var dayNumber: Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    public var description: String {
        func pad(_ n: Int, _ width: Int) -> String {
            let digits = String(n)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))"
    }

    public static func < (a: LocalDay, b: LocalDay) -> Bool { (a.year, a.month, a.day) < (b.year, b.month, b.day) }

    /// The first moment of the day in `zone` (DST-aware), and the first moment of the next day.
    public func bounds(in zone: TimeZone) -> (start: Date, end: Date) {
        (LocalDay.startOfDay(dayNumber, in: zone), LocalDay.startOfDay(dayNumber + 1, in: zone))
    }

    /// Midnight of a day in `zone`, or the zone's first moment of that day when midnight does not exist
    /// there (a DST change at midnight, as in some South American zones).
    private static func startOfDay(_ dayNumber: Int, in zone: TimeZone) -> Date {
        let utcMidnight = Date(timeIntervalSince1970: Double(dayNumber) * 86_400)
        // Local noon of that day (offsets and DST shifts are far smaller than 12 hours); the calendar then
        // finds the day's first moment, DST included.
        let localMidnight = utcMidnight.addingTimeInterval(-Double(zone.secondsFromGMT(for: utcMidnight)))
        return gregorian(zone).startOfDay(for: localMidnight.addingTimeInterval(12 * 3600))
    }

    public func adding(days: Int) -> LocalDay {
        let (sum, overflow) = dayNumber.addingReportingOverflow(days)
        return LocalDay(dayNumber: overflow ? (days > 0 ? Int.max : Int.min) : sum)
    }

    /// Days from `self` to `other` (positive when `other` is later).
    public func days(to other: LocalDay) -> Int { other.dayNumber - dayNumber }

    /// Monday of this day's ISO 8601 week.
    public var isoWeekStart: LocalDay {
        // 1970-01-01 was a Thursday: (n + 3) mod 7 is 0 on Mondays.
        let weekday = ((dayNumber + 3) % 7 + 7) % 7
        return adding(days: -weekday)
    }

    public var monthStart: LocalDay { LocalDay(uncheckedYear: year, month: month, day: 1) }

    public var monthEnd: LocalDay { LocalDay(uncheckedYear: year, month: month, day: Self.daysIn(month: month, year: year)) }

    public var yearStart: LocalDay { LocalDay(uncheckedYear: year, month: 1, day: 1) }

    public var yearEnd: LocalDay { LocalDay(uncheckedYear: year, month: 12, day: 31) }

    /// The first day of the month `n` months before this day's month (clamped to the calendar).
    public func monthStart(monthsBack n: Int) -> LocalDay {
        let index = year * 12 + (month - 1) - max(0, min(n, 120_000))
        guard index >= 12 else { return .first }
        return LocalDay(uncheckedYear: index / 12, month: index % 12 + 1, day: 1)
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    public static func gregorian(_ zone: TimeZone) -> Calendar {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        return calendar
    }
}
