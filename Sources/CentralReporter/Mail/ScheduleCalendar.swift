import Foundation
import TallyCore

/// When a schedule's reports are due. A period is sent once it is over: a day's report on the next day,
/// a week's (ISO, Monday to Sunday) on the Monday after, a month's on the first of the next month —
/// each at the schedule's send time in its time zone, daylight saving included.
public enum ScheduleCalendar {
    static func kind(_ cadence: ReportSchedule.Cadence) -> ReportPeriod.Kind {
        switch cadence {
        case .daily: .day
        case .weekly: .week
        case .monthly: .month
        }
    }

    public static func period(of cadence: ReportSchedule.Cadence, containing day: LocalDay) -> ReportPeriod {
        ReportPeriod.enclosing(kind(cadence), day)
    }

    public static func previous(_ period: ReportPeriod, _ cadence: ReportSchedule.Cadence) -> ReportPeriod {
        Self.period(of: cadence, containing: period.from.adding(days: -1))
    }

    public static func next(_ period: ReportPeriod, _ cadence: ReportSchedule.Cadence) -> ReportPeriod {
        Self.period(of: cadence, containing: period.to.adding(days: 1))
    }

    /// The moment a period's report goes out: the day after it ends, at the send time.
    public static func sendTime(of period: ReportPeriod, for schedule: ReportSchedule) -> Date {
        let day = period.to.adding(days: 1)
        let calendar = LocalDay.gregorian(schedule.timeZone)
        return calendar.date(from: DateComponents(year: day.year, month: day.month, day: day.day, hour: schedule.sendHour, minute: schedule.sendMinute))
            ?? day.bounds(in: schedule.timeZone).start
    }

    /// The most recent period whose send time has come.
    public static func latestDue(_ schedule: ReportSchedule, now: Date) -> ReportPeriod {
        var candidate = previous(period(of: schedule.cadence, containing: LocalDay(containing: now, in: schedule.timeZone)), schedule.cadence)
        while sendTime(of: candidate, for: schedule) > now { candidate = previous(candidate, schedule.cadence) }
        return candidate
    }

    /// Periods due now that come after `lastQueued` (catch-up after downtime, at most `limit` of them);
    /// with nothing queued yet, only the latest due period — a new schedule does not mail the past.
    public static func due(_ schedule: ReportSchedule, now: Date, after lastQueued: LocalDay?, limit: Int = 60) -> [ReportPeriod] {
        let latest = latestDue(schedule, now: now)
        guard let lastQueued else { return [latest] }
        var periods: [ReportPeriod] = []
        var period = next(self.period(of: schedule.cadence, containing: lastQueued), schedule.cadence)
        while period.from <= latest.from {
            periods.append(period)
            period = next(period, schedule.cadence)
        }
        return Array(periods.suffix(limit))
    }
}
