import Foundation
import TallyCore
import Testing

@Suite("Days")
struct LocalDayTests {
    /// Foundation's Gregorian calendar is the reference for the integer arithmetic.
    static let utc = LocalDay.gregorian(TimeZone.gmt)

    @Test("Day numbers, weekdays and month ends agree with Foundation's calendar from 1900 to 2200")
    func agreesWithCalendar() throws {
        let start = try #require(Self.utc.date(from: DateComponents(year: 1900, month: 1, day: 1)))
        var mismatches: [String] = []
        for offset in stride(from: 0, to: 110_000, by: 1) {
            let date = start.addingTimeInterval(Double(offset) * 86_400)
            let c = Self.utc.dateComponents([.year, .month, .day, .weekday], from: date)
            let day = LocalDay(containing: date, in: .gmt)
            let monthDays = Self.utc.range(of: .day, in: .month, for: date)?.count
            if (day.year, day.month, day.day) != (c.year, c.month, c.day) || day.dayNumber != Int(date.timeIntervalSince1970 / 86_400)
                || LocalDay(dayNumber: day.dayNumber) != day || day.monthEnd.day != monthDays
                || day.isoWeekStart.adding(days: ((c.weekday! + 5) % 7)) != day {
                mismatches.append(day.description)
            }
        }
        #expect(mismatches.isEmpty, "\(mismatches.prefix(5))")
    }

    @Test("Arithmetic at the calendar's ends stops there instead of trapping")
    func ends() {
        #expect(LocalDay("9999-12-15")!.monthEnd.description == "9999-12-31")
        #expect(LocalDay("9999-12-31")!.adding(days: 1) == .last)
        #expect(LocalDay("0001-01-01")!.adding(days: -1) == .first)
        #expect(LocalDay("0001-01-01")!.adding(days: .min) == .first)
        #expect(LocalDay("2026-01-31")!.adding(days: .max) == .last)
        #expect(LocalDay(containing: Date(timeIntervalSince1970: .infinity), in: .gmt) == .last)
        #expect(LocalDay(containing: Date(timeIntervalSince1970: -1e300), in: .gmt) == .first)
        #expect(Date(timeIntervalSince1970: 1e300).millisecondsSince1970 == .max)
        for text in ["10000-01-01", "2026-02-29", "2026-13-01", "２０２６-01-01", "2026-1-01", "+026-01-01"] {
            #expect(LocalDay(text) == nil, "\(text)")
        }
    }

    @Test("Day bounds follow daylight saving: 23, 24 and 25 hours")
    func bounds() throws {
        let berlin = try #require(TimeZone(identifier: "Europe/Berlin"))
        for (text, hours) in [("2026-03-29", 23.0), ("2026-06-01", 24.0), ("2026-10-25", 25.0)] {
            let (start, end) = LocalDay(text)!.bounds(in: berlin)
            #expect(end.timeIntervalSince(start) == hours * 3600, "\(text)")
            #expect(LocalDay(containing: start, in: berlin).description == text)
        }
    }
}
