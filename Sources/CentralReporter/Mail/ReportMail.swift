import Crypto
import Foundation
import TallyCore

/// A scheduled report as an RFC 5322 message: multipart/mixed with a text/plain UTF-8 body holding the
/// text reports and one CSV attachment per report and site, all base64 so any relay carries them.
public struct ReportMail: Sendable {
    public let messageID: String
    public let subject: String
    public let bytes: Data

    public struct Attachment: Sendable {
        public var filename: String
        public var csv: String
    }

    /// The Message-ID is derived from schedule and period, so a resend after a crash carries the same id
    /// and mail clients can recognise it.
    public static func messageID(schedule: String, period: ReportPeriod) -> String {
        "<tally.\(schedule).\(period.from).\(period.to)@tally.invalid>"
    }

    public init(schedule: ReportSchedule, period: ReportPeriod, siteNames: [String], from: String, body: String, attachments: [Attachment], date: Date) {
        messageID = Self.messageID(schedule: schedule.name, period: period)
        subject = "Tally \(schedule.cadence.rawValue) report: \(siteNames.joined(separator: ", ")) — \(period)"
        let boundary = "tally-" + SHA256.hash(data: Data(messageID.utf8)).prefix(12).map { String(format: "%02x", $0) }.joined()
        var lines = [
            "From: Tally <\(from)>",
            "To: \(schedule.recipients.joined(separator: ", "))",
            "Date: \(Self.rfc5322(date))",
            "Message-ID: \(messageID)",
            "Subject: \(Self.encodedWord(subject))",
            "MIME-Version: 1.0",
            "Content-Type: multipart/mixed; boundary=\"\(boundary)\"",
            "",
            "--\(boundary)",
            "Content-Type: text/plain; charset=utf-8",
            "Content-Transfer-Encoding: base64",
            "",
        ]
        lines += Self.base64Lines(Data(body.utf8))
        for attachment in attachments {
            lines += [
                "--\(boundary)",
                "Content-Type: text/csv; charset=utf-8; name=\"\(attachment.filename)\"",
                "Content-Disposition: attachment; filename=\"\(attachment.filename)\"",
                "Content-Transfer-Encoding: base64",
                "",
            ]
            lines += Self.base64Lines(Data(attachment.csv.utf8))
        }
        lines.append("--\(boundary)--")
        bytes = Data((lines.joined(separator: "\r\n") + "\r\n").utf8)
    }

    static func base64Lines(_ data: Data) -> [String] {
        let text = data.base64EncodedString()
        return stride(from: 0, to: text.count, by: 76).map { start in
            let from = text.index(text.startIndex, offsetBy: start)
            return String(text[from..<(text.index(from, offsetBy: 76, limitedBy: text.endIndex) ?? text.endIndex)])
        }
    }

    /// RFC 2047 encoded word when the subject is not plain ASCII.
    static func encodedWord(_ text: String) -> String {
        text.allSatisfy({ $0.isASCII }) ? text : "=?UTF-8?B?\(Data(text.utf8).base64EncodedString())?="
    }

    static func rfc5322(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss '+0000'"
        return formatter.string(from: date)
    }
}

/// Sends a message. `SMTPMailer` is the real one.
public protocol Mailer: Sendable {
    func send(_ message: Data, from: String, to recipients: [String]) async throws
}

/// SMTP through libcurl: STARTTLS required (unless `tls = "none"` for a loopback relay) or implicit TLS.
public struct SMTPMailer: Mailer {
    let settings: SMTPSettings
    let curl: Curl

    public init(settings: SMTPSettings) throws {
        self.settings = settings
        curl = try Curl()
    }

    public func send(_ message: Data, from: String, to recipients: [String]) async throws {
        try await curl.sendMail(
            url: settings.url, from: from, recipients: recipients, message: message, requireTLS: settings.security != .none,
            username: settings.username, password: try settings.password(), caFile: settings.caFile, timeoutSeconds: 60)
    }
}
