import TallyCore

/// A reporting period: a run of whole days in the site's time zone.
public struct ReportPeriod: Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable, CaseIterable { case day, week, month, year, range }

    public var kind: Kind
    public var from: LocalDay
    public var to: LocalDay

    public init(kind: Kind, from: LocalDay, to: LocalDay) {
        self.kind = kind
        self.from = from
        self.to = to
    }

    public var days: [LocalDay] {
        var result: [LocalDay] = []
        var day = from
        while day <= to {
            result.append(day)
            day = day.adding(days: 1)
        }
        return result
    }

    public var description: String {
        switch kind {
        case .day: "day \(from)"
        case .week: "week \(from) to \(to)"
        case .month: "month \(String(from.description.prefix(7)))"
        case .year: "year \(from.year)"
        case .range: "\(from) to \(to)"
        }
    }

    /// A clear, one-sentence problem with a period or date.
    public struct Invalid: Error, CustomStringConvertible, Equatable {
        public let description: String
    }

    /// The longest period a report covers: ten years of days. Longer requests are refused, so no request
    /// can ask for unbounded work (an `evolution` has one row per day).
    public static let maxDays = 3660

    /// Parses `period` and `date` the way Matomo's API takes them: `date` is `YYYY-MM-DD`, `today`,
    /// `yesterday`, `lastN` (the N periods up to and including the current one) or `from,to`. Every day
    /// named or implied must lie in `LocalDay.reportable`, and the period may not exceed `maxDays`.
    public static func parse(period: String, date: String, today: LocalDay) throws(Invalid) -> ReportPeriod {
        guard let kind = Kind(rawValue: period) else {
            throw Invalid(description: "period \(period) is not known; use day, week, month, year or range.")
        }
        let supported = LocalDay.reportable
        func day(_ text: String) throws(Invalid) -> LocalDay {
            let day: LocalDay
            switch text {
            case "today": day = today
            case "yesterday": day = today.adding(days: -1)
            default:
                guard let parsed = LocalDay(text) else {
                    throw Invalid(description: "date \(text) is not a date; use YYYY-MM-DD, today, yesterday, lastN or FROM,TO.")
                }
                day = parsed
            }
            guard supported.contains(day) else {
                throw Invalid(description: "date \(text) is outside the supported dates \(supported.lowerBound) to \(supported.upperBound); pick a date in that range.")
            }
            return day
        }
        let result: ReportPeriod
        if date.contains(",") {
            let parts = date.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 2 else { throw Invalid(description: "date \(date) is not a range; use FROM,TO.") }
            let from = try day(parts[0]), to = try day(parts[1])
            guard from <= to else { throw Invalid(description: "date \(date) starts after it ends; put the earlier date first.") }
            result = ReportPeriod(kind: .range, from: from, to: to)
        } else if date.hasPrefix("last") {
            guard let n = Int(date.dropFirst(4)), (1...maxDays).contains(n) else {
                throw Invalid(description: "date \(date) is not lastN with N from 1 to \(maxDays).")
            }
            let current = enclosing(kind == .range ? .day : kind, try day("today"))
            let first: LocalDay = switch kind {
            case .day, .range: current.to.adding(days: -(n - 1))
            case .week: current.from.adding(days: -7 * (n - 1))
            case .month: current.from.monthStart(monthsBack: n - 1)
            case .year: current.from.monthStart(monthsBack: 12 * (n - 1))
            }
            result = ReportPeriod(kind: .range, from: first, to: current.to)
        } else {
            let anchor = try day(date)
            result = kind == .range ? ReportPeriod(kind: .range, from: anchor, to: anchor) : enclosing(kind, anchor)
        }
        guard supported.contains(result.from), supported.contains(result.to) else {
            throw Invalid(description: "\(period) \(date) reaches outside the supported dates \(supported.lowerBound) to \(supported.upperBound); pick a date in that range.")
        }
        guard result.dayCount <= maxDays else {
            throw Invalid(description: "\(period) \(date) covers \(result.dayCount) days, more than the \(maxDays) a report can cover; ask for a shorter period.")
        }
        return result
    }

    /// Days in the period, both ends included.
    public var dayCount: Int { from.days(to: to) + 1 }

    /// The day, ISO week (Monday to Sunday), month or year containing `day`.
    static func enclosing(_ kind: Kind, _ day: LocalDay) -> ReportPeriod {
        switch kind {
        case .day, .range: ReportPeriod(kind: .day, from: day, to: day)
        case .week: ReportPeriod(kind: .week, from: day.isoWeekStart, to: day.isoWeekStart.adding(days: 6))
        case .month: ReportPeriod(kind: .month, from: day.monthStart, to: day.monthEnd)
        case .year: ReportPeriod(kind: .year, from: day.yearStart, to: day.yearEnd)
        }
    }
}
