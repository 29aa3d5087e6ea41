import ArgumentParser
import CentralReporter
import Foundation
import Logging

struct SendReports: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "send-reports",
        abstract: "Send the latest due period's report of each schedule now, or print the exact message.")

    @OptionGroup var options: ConfigOptions
    @Option(help: "Only this schedule.") var schedule: String?
    @Flag(name: .customLong("dry-run"), help: "Print the message instead of sending it.") var dryRun = false

    func run() async throws {
        let config = options.load()
        let schedules = config.schedules.filter { schedule == nil || $0.name == schedule }
        guard !schedules.isEmpty else {
            usageError(schedule.map { "schedule \($0) is not configured; see [[schedules]] in \(options.config)." } ?? "no [[schedules]] are configured in \(options.config).")
        }
        if !dryRun, config.smtp == nil { usageError(MailError.notConfigured.description) }
        let components = await openComponents(config)
        let now = Date()
        for schedule in schedules {
            let period = ScheduleCalendar.latestDue(schedule, now: now)
            let mail = try await components.scheduler.compose(schedule, period: period, now: now)
            if dryRun {
                FileHandle.standardOutput.write(mail.bytes)
                continue
            }
            do {
                try await SMTPMailer(settings: config.smtp!).send(mail.bytes, from: config.smtp!.from, to: schedule.recipients)
                try await components.store.audit("report_sent", detail: "schedule=\(schedule.name) period=\(period.from)..\(period.to) manual=true", at: Date())
                print("Sent \(schedule.name) for \(period) to \(schedule.recipients.joined(separator: ", ")).")
            } catch {
                try await components.store.audit("report_failed", detail: "schedule=\(schedule.name) period=\(period.from)..\(period.to) manual=true error=\(error)", at: Date())
                fail(error)
            }
        }
    }
}
