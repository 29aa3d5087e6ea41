import Foundation
import Logging
import ServiceLifecycle
import TallyCore

/// Sends each schedule's report for each period exactly once: due periods (including those missed while
/// central was down) are queued in the send log, then sent; a failed send is retried with exponential
/// backoff (30 s doubling to an hour) until the relay accepts it. Sent and failed attempts are audited.
public struct ReportScheduler: Service {
    let config: CentralConfig
    let store: any CentralStore
    let reports: ReportEngine
    let mailer: (any Mailer)?
    let clock: any TallyClock
    let logger: Logger

    public init(config: CentralConfig, store: any CentralStore, reports: ReportEngine, mailer: (any Mailer)?, clock: any TallyClock, logger: Logger) {
        self.config = config
        self.store = store
        self.reports = reports
        self.mailer = mailer
        self.clock = clock
        self.logger = logger
    }

    public func run() async throws {
        guard !config.schedules.isEmpty else {
            // Nothing to schedule: stay up until shutdown (a service that returns early stops the group).
            try? await gracefulShutdown()
            return
        }
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await runDue(now: clock.now())
                } catch is CancellationError {
                    return
                } catch {
                    logger.error("Scheduled reports failed", metadata: ["error": "\(error)"])
                }
                try await Task.sleep(for: .seconds(config.schedulerIntervalSeconds))
            }
        }
    }

    /// How long a node has to send a report it claimed before another node may.
    static let sendClaimSeconds: TimeInterval = 600

    /// Queues what is due and sends what is queued and ready.
    public func runDue(now: Date) async throws {
        for schedule in config.schedules {
            for period in ScheduleCalendar.due(schedule, now: now, after: try await store.lastQueued(schedule: schedule.name)) {
                try await store.queue(schedule: schedule.name, period: period, messageID: ReportMail.messageID(schedule: schedule.name, period: period))
            }
            // Claimed for as long as composing and sending may take; a node that dies mid-send leaves the
            // report to be sent when the claim expires (the Message-ID is the same, so a copy is recognised).
            for queued in try await store.claimDueReports(schedule: schedule.name, now: now, until: now.addingTimeInterval(Self.sendClaimSeconds)) {
                let period = ReportPeriod(kind: ScheduleCalendar.kind(schedule.cadence), from: queued.from, to: queued.to)
                let detail = "schedule=\(schedule.name) period=\(period.from)..\(period.to) recipients=\(schedule.recipients.count)"
                do {
                    guard let mailer else { throw MailError.notConfigured }
                    let mail = try await compose(schedule, period: period, now: now)
                    try await mailer.send(mail.bytes, from: config.smtp?.from ?? "", to: schedule.recipients)
                    try await store.markSent(schedule: schedule.name, from: period.from, now: clock.now(), detail: detail)
                    logger.notice("Report sent", metadata: ["schedule": "\(schedule.name)", "period": "\(period)"])
                } catch {
                    let delay = min(3600, 30 * pow(2, Double(min(queued.attempts, 10))))
                    try await store.markFailed(schedule: schedule.name, from: period.from, error: "\(error)", retryAt: now.addingTimeInterval(delay), now: clock.now(), detail: detail)
                    logger.warning("Report not sent; will retry", metadata: ["schedule": "\(schedule.name)", "period": "\(period)", "error": "\(error)", "retry_in_seconds": "\(Int(delay))"])
                }
            }
        }
    }

    /// The message for one schedule and period: the text reports of every site in the body, the CSVs attached.
    public func compose(_ schedule: ReportSchedule, period: ReportPeriod, now: Date) async throws -> ReportMail {
        var body = "Tally \(schedule.cadence.rawValue) report for \(period) (schedule \(schedule.name)).\n"
        var attachments: [ReportMail.Attachment] = []
        var names: [String] = []
        for siteID in schedule.sites {
            guard let site = config.site(id: siteID) else { continue }
            names.append(site.name)
            for id in schedule.reports {
                guard let definition = ReportDefinition.named(id) else { continue }
                var table = try await reports.report(definition, site: site, period: period, limit: schedule.limit)
                table.generatedAt = now
                if schedule.format != .csv { body += "\n" + ReportFormat.text.render(table) }
                if schedule.format != .text {
                    attachments.append(.init(filename: "site\(site.id)-\(id)-\(period.from)-\(period.to).csv", csv: ReportFormat.csv.render(table)))
                }
            }
        }
        if schedule.format == .csv { body += "\nThe reports are attached as CSV files.\n" }
        return ReportMail(schedule: schedule, period: period, siteNames: names, from: config.smtp?.from ?? "tally@localhost", body: body, attachments: attachments, date: now)
    }
}
