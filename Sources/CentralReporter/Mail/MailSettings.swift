import Foundation
import TallyCore

/// The SMTP relay scheduled reports go through.
public struct SMTPSettings: Sendable, Equatable {
    public enum Security: String, Sendable, CaseIterable {
        /// `smtp://` upgraded with STARTTLS, which is required: no upgrade, no mail.
        case starttls
        /// `smtps://`: TLS from the first byte.
        case tls
        /// No TLS at all — allowed only for a relay on the loopback interface.
        case none
    }

    public var url: String
    public var from: String
    public var security: Security
    public var username: String?
    /// The password comes from a file or an environment variable, never from the configuration itself.
    public var passwordFile: String?
    public var passwordEnvironment: String?
    public var caFile: String?

    public init(url: String, from: String, security: Security, username: String?, passwordFile: String?, passwordEnvironment: String?, caFile: String?) {
        self.url = url
        self.from = from
        self.security = security
        self.username = username
        self.passwordFile = passwordFile
        self.passwordEnvironment = passwordEnvironment
        self.caFile = caFile
    }

    public func password() throws -> String? {
        try PasswordSource(file: passwordFile, environment: passwordEnvironment, what: "SMTP password", key: "smtp.password_env")
            .read(failing: MailError.settings)
    }
}

/// A scheduled report e-mail (`[[schedules]]`).
public struct ReportSchedule: Sendable, Equatable {
    public enum Cadence: String, Sendable, CaseIterable { case daily, weekly, monthly }
    public enum Attachments: String, Sendable, CaseIterable { case text, csv, both }

    public var name: String
    public var sites: [Int]
    public var reports: [String]
    public var cadence: Cadence
    /// Local time of day the previous period's report goes out, in `timeZone`.
    public var sendHour: Int
    public var sendMinute: Int
    public var timeZone: TimeZone
    public var recipients: [String]
    public var format: Attachments
    public var limit: Int

    public init(name: String, sites: [Int], reports: [String], cadence: Cadence, sendHour: Int, sendMinute: Int, timeZone: TimeZone,
                recipients: [String], format: Attachments, limit: Int) {
        self.name = name
        self.sites = sites
        self.reports = reports
        self.cadence = cadence
        self.sendHour = sendHour
        self.sendMinute = sendMinute
        self.timeZone = timeZone
        self.recipients = recipients
        self.format = format
        self.limit = limit
    }
}

public enum MailError: Error, CustomStringConvertible, Equatable {
    case settings(String)
    case notConfigured

    public var description: String {
        switch self {
        case let .settings(text): text
        case .notConfigured: "No [smtp] relay is configured; add one to central.toml to send reports."
        }
    }
}

extension CentralConfig {
    static func parseMail(_ root: inout TOMLReader, sites: [ReportSite]) throws -> (SMTPSettings?, [ReportSchedule]) {
        var smtp: SMTPSettings?
        if var reader = try root.subtable("smtp") {
            if reader.has("password") {
                throw ConfigError.invalid(key: reader.path("password"), value: "(hidden)", expected: "no password in the configuration: use password_file or password_env")
            }
            let url = try reader.requiredString("url")
            guard let components = URLComponents(string: url), let scheme = components.scheme, ["smtp", "smtps"].contains(scheme), let host = components.host else {
                throw ConfigError.invalid(key: reader.path("url"), value: "\"\(url)\"", expected: "smtp://host:port or smtps://host:port")
            }
            let security = try reader.choice("tls", as: SMTPSettings.Security.self) ?? (scheme == "smtps" ? .tls : .starttls)
            if security == .none, !["127.0.0.1", "::1", "localhost", "[::1]"].contains(host) {
                throw ConfigError.invalid(key: reader.path("tls"), value: "\"none\"", expected: "\"starttls\" or \"tls\": mail without TLS is allowed only to a relay on 127.0.0.1 or ::1")
            }
            if (security == .tls) != (scheme == "smtps") {
                throw ConfigError.invalid(key: reader.path("tls"), value: "\"\(security.rawValue)\"", expected: scheme == "smtps" ? "\"tls\" with smtps://" : "\"starttls\" or \"none\" with smtp://")
            }
            smtp = SMTPSettings(
                url: url, from: try reader.requiredString("from"), security: security,
                username: try reader.string("username"), passwordFile: try reader.string("password_file"),
                passwordEnvironment: try reader.string("password_env"), caFile: try reader.string("ca_file"))
            try reader.rejectUnknownKeys()
        }
        var schedules: [ReportSchedule] = []
        for var reader in try root.tableArray("schedules") ?? [] {
            let name = try reader.requiredString("name")
            guard name.range(of: "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", options: .regularExpression) != nil, !schedules.contains(where: { $0.name == name }) else {
                throw ConfigError.invalid(key: reader.path("name"), value: "\"\(name)\"", expected: "a unique name of letters, digits, '.', '_' or '-'")
            }
            let siteIDs = try reader.intArray("sites") ?? []
            for id in siteIDs where !sites.contains(where: { $0.id == id }) {
                throw ConfigError.invalid(key: reader.path("sites"), value: String(id), expected: "ids of sites configured under [[sites]]")
            }
            guard !siteIDs.isEmpty else { throw ConfigError.missing(key: reader.path("sites")) }
            let reports = try reader.stringArray("reports") ?? ["summary", "pages", "referrers", "countries"]
            for report in reports where ReportDefinition.named(report) == nil {
                throw ConfigError.invalid(key: reader.path("reports"), value: "\"\(report)\"", expected: "report ids such as \"summary\", \"pages\" (docs/reports.md)")
            }
            let cadence = try reader.choice("period", as: ReportSchedule.Cadence.self) ?? .weekly
            let time = try reader.string("send_time") ?? "08:00"
            let parts = time.split(separator: ":")
            guard parts.count == 2, let hour = Int(parts[0]), let minute = Int(parts[1]), (0...23).contains(hour), (0...59).contains(minute) else {
                throw ConfigError.invalid(key: reader.path("send_time"), value: "\"\(time)\"", expected: "HH:MM, 24-hour")
            }
            let zoneName = try reader.string("time_zone") ?? "UTC"
            guard let zone = TimeZone(identifier: zoneName) else {
                throw ConfigError.invalid(key: reader.path("time_zone"), value: "\"\(zoneName)\"", expected: "an IANA time zone such as \"Europe/Berlin\"")
            }
            let recipients = try reader.stringArray("recipients") ?? []
            guard !recipients.isEmpty else { throw ConfigError.missing(key: reader.path("recipients")) }
            for recipient in recipients where recipient.range(of: "^[^@\\s<>]+@[^@\\s<>]+$", options: .regularExpression) == nil {
                throw ConfigError.invalid(key: reader.path("recipients"), value: "\"\(recipient)\"", expected: "e-mail addresses such as \"team@example.org\"")
            }
            schedules.append(ReportSchedule(
                name: name, sites: siteIDs, reports: reports, cadence: cadence, sendHour: hour, sendMinute: minute, timeZone: zone,
                recipients: recipients, format: try reader.choice("format", as: ReportSchedule.Attachments.self) ?? .both,
                limit: try reader.int("limit", in: 1...10_000) ?? 100))
            try reader.rejectUnknownKeys()
        }
        return (smtp, schedules)
    }
}
