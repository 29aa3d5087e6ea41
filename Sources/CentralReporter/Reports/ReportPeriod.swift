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

    /// Parses `period` and `date` the way Matomo's API takes them: `date` is `YYYY-MM-DD`, `today`,
    /// `yesterday`, `lastN` (the N periods up to and including the current one) or `from,to`.
    public static func parse(period: String, date: String, today: LocalDay) throws(Invalid) -> ReportPeriod {
        guard let kind = Kind(rawValue: period) else {
            throw Invalid(description: "period \(period) is not known; use day, week, month, year or range.")
        }
        func day(_ text: String) throws(Invalid) -> LocalDay {
            switch text {
            case "today": return today
            case "yesterday": return today.adding(days: -1)
            default:
                guard let day = LocalDay(text) else {
                    throw Invalid(description: "date \(text) is not a date; use YYYY-MM-DD, today, yesterday, lastN or FROM,TO.")
                }
                return day
            }
        }
        if date.contains(",") {
            let parts = date.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 2 else { throw Invalid(description: "date \(date) is not a range; use FROM,TO.") }
            let from = try day(parts[0]), to = try day(parts[1])
            guard from <= to else { throw Invalid(description: "date \(date) starts after it ends; put the earlier date first.") }
            return ReportPeriod(kind: .range, from: from, to: to)
        }
        if date.hasPrefix("last") {
            guard let n = Int(date.dropFirst(4)), (1...3660).contains(n) else {
                throw Invalid(description: "date \(date) is not lastN with N from 1 to 3660.")
            }
            let current = enclosing(kind == .range ? .day : kind, today)
            let first: LocalDay = switch kind {
            case .day, .range: today.adding(days: -(n - 1))
            case .week: current.from.adding(days: -7 * (n - 1))
            case .month: monthsBack(current.from, n - 1)
            case .year: LocalDay(year: current.from.year - (n - 1), month: 1, day: 1) ?? current.from
            }
            return ReportPeriod(kind: .range, from: first, to: current.to)
        }
        let anchor = try day(date)
        if kind == .range { return ReportPeriod(kind: .range, from: anchor, to: anchor) }
        return enclosing(kind, anchor)
    }

    /// The day, ISO week (Monday to Sunday), month or year containing `day`.
    static func enclosing(_ kind: Kind, _ day: LocalDay) -> ReportPeriod {
        switch kind {
        case .day, .range: ReportPeriod(kind: .day, from: day, to: day)
        case .week: ReportPeriod(kind: .week, from: day.isoWeekStart, to: day.isoWeekStart.adding(days: 6))
        case .month: ReportPeriod(kind: .month, from: day.monthStart, to: day.monthEnd)
        case .year: ReportPeriod(kind: .year, from: LocalDay(year: day.year, month: 1, day: 1)!, to: LocalDay(year: day.year, month: 12, day: 31)!)
        }
    }

    static func monthsBack(_ monthStart: LocalDay, _ n: Int) -> LocalDay {
        let index = monthStart.year * 12 + (monthStart.month - 1) - n
        return LocalDay(year: index / 12, month: index % 12 + 1, day: 1)!
    }
}
