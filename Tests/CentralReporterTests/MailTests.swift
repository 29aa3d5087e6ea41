import CentralReporter
import Foundation
import Logging
import TallyCore
import TallyTestSupport
import Testing

/// scripts/smtp-sink.py: a real aiosmtpd server on a loopback port that keeps every message as a file.
final class SMTPSink: @unchecked Sendable {
    let port: Int
    let directory: String
    var process: Process?

    let options: [String]

    init(port: Int, directory: String, options: [String] = []) {
        self.port = port
        self.directory = directory
        self.options = options
    }

    func start() async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", Paths.packageRoot.appendingPathComponent("scripts/smtp-sink.py").path, String(port), directory] + options
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        self.process = process
        // The sink prints "ready" once it listens: wait for that line (or for its end, if it failed).
        let reader = output.fileHandleForReading
        let ready = await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                var seen = Data()
                while !String(decoding: seen, as: UTF8.self).contains("ready\n") {
                    let chunk = reader.availableData
                    if chunk.isEmpty { break }
                    seen.append(chunk)
                }
                continuation.resume(returning: String(decoding: seen, as: UTF8.self).contains("ready\n"))
                while !reader.availableData.isEmpty {}  // keep the pipe drained until the sink ends
            }
        }
        #expect(ready, "the SMTP sink did not start")
    }

    func stop() {
        guard let process, process.isRunning else { return }
        // The sink holds nothing worth a graceful stop: end it at once and wait for it.
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    var messages: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix(".eml") }.sorted().map { directory + "/" + $0 }
    }
}

/// Moves when told to.
final class MovableClock: TallyClock {
    let fixed: FixedClock
    init(_ iso: String) { fixed = FixedClock(ISO8601DateFormatter().date(from: iso)!) }
    func now() -> Date { fixed.now() }
    func set(_ iso: String) { fixed.value.withLock { $0 = ISO8601DateFormatter().date(from: iso)! } }
}

@Suite("Scheduled e-mail reports", .serialized)
struct MailTests {
    static func config(directory: String, smtpPort: Int, tls: String = "none", format: String = "both", store: String = "") throws -> CentralConfig {
        try CentralConfig.parse(toml: ReportFixture.configTOML.replacingOccurrences(of: "%DATA%", with: directory + "/data") + "\n" + store + """

            [smtp]
            url = "smtp://127.0.0.1:\(smtpPort)"
            from = "tally@example.org"
            tls = "\(tls)"

            [[schedules]]
            name = "weekly-team"
            sites = [1]
            reports = ["summary", "pages", "countries"]
            period = "weekly"
            send_time = "08:00"
            time_zone = "Europe/Berlin"
            recipients = ["team@example.org", "boss@example.org"]
            format = "\(format)"
            """)
    }

    struct Setup {
        let directory: String
        let sink: SMTPSink
        let clock: MovableClock
        let components: CentralComponents
    }

    static func setup(now: String, tls: String = "none", backend: StoreBackend = .sqlite) async throws -> Setup {
        let directory = NSTemporaryDirectory() + "tally-mail-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let port = try LoopbackPorts.reserve()
        let config = try Self.config(directory: directory, smtpPort: port, tls: tls, store: try await backend.storeTable())
        let clock = MovableClock(now)
        let components = try await CentralComponents(offlineConfig: config, clock: clock, logger: Logger(label: "mail-test"))
        for (index, batch) in [ReportFixture.hits].enumerated() {
            try await ReportFixture.deliver(batch, sequence: Int64(index + 1), to: components)
        }
        return Setup(directory: directory, sink: SMTPSink(port: port, directory: directory + "/mail"), clock: clock, components: components)
    }

    /// Parses a received message with Python's email package: headers, text body and attachments.
    static func parse(_ path: String) async throws -> [String: Any] {
        let script = """
            import email, json, sys
            from email import policy
            m = email.message_from_binary_file(open(sys.argv[1], 'rb'), policy=policy.default)
            out = {'from': m['From'], 'to': m['To'], 'date': m['Date'], 'message_id': m['Message-ID'], 'subject': str(m['Subject']),
                   'type': m.get_content_type(), 'body': m.get_body(('plain',)).get_content(), 'attachments': {}}
            for part in m.iter_attachments():
                out['attachments'][part.get_filename()] = part.get_payload(decode=True).decode('utf-8')
            print(json.dumps(out))
            """
        let (status, output) = try await run("/usr/bin/env", ["python3", "-c", script, path])
        guard status == 0, let data = output.data(using: .utf8), let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw SandboxError.pki("cannot parse \(path): \(output)")
        }
        return object
    }

    @Test("The scheduled mail arrives at a real SMTP server: headers, text body, and CSVs equal to the API's")
    func contents() async throws {
        let s = try await Self.setup(now: "2026-10-26T09:00:00+01:00")
        try await s.sink.start()
        defer { s.sink.stop(); try? FileManager.default.removeItem(atPath: s.directory) }
        try await s.components.scheduler.runDue(now: s.clock.now())
        let messages = s.sink.messages
        #expect(messages.count == 1)
        let mail = try await Self.parse(try #require(messages.first))
        #expect(mail["from"] as? String == "Tally <tally@example.org>")
        #expect(mail["to"] as? String == "team@example.org, boss@example.org")
        #expect(mail["message_id"] as? String == "<tally.weekly-team.2026-10-19.2026-10-25@tally.invalid>")
        #expect(mail["subject"] as? String == "Tally weekly report: Example 例え — week 2026-10-19 to 2026-10-25")
        #expect((mail["date"] as? String)?.hasPrefix("Mon, 26 Oct 2026 08:00:00") == true)
        #expect(mail["type"] as? String == "multipart/mixed")
        let body = try #require(mail["body"] as? String)
        #expect(body.contains("Summary — Example 例え (site 1)") && body.contains("Pages — Example 例え (site 1)"))
        #expect(body.contains("Period: week 2026-10-19 to 2026-10-25 (Europe/Berlin)"))
        let attachments = try #require(mail["attachments"] as? [String: String])
        #expect(attachments.keys.sorted() == ["site1-countries-2026-10-19-2026-10-25.csv", "site1-pages-2026-10-19-2026-10-25.csv", "site1-summary-2026-10-19-2026-10-25.csv"])

        // Each attachment equals what the reporting API serves for the same report.
        let api = try await RunningAPI.start()
        let (token, _) = try await api.components.store.createToken(name: "mail check", sites: [1], role: .viewer, expiresAt: nil, now: Date())
        for report in ["summary", "pages", "countries"] {
            let csv = try await api.get("/api/v1/reports/\(report)?site=1&period=week&date=2026-10-19&format=csv", token: token)
            #expect(attachments["site1-\(report)-2026-10-19-2026-10-25.csv"] == csv.body, "\(report)")
        }
        try await api.stop()
        #expect(try await s.components.store.auditEvents().contains("report_sent"))
    }

    @Test("Exactly once: across restarts and a period boundary, and after central was down for weeks", arguments: StoreBackend.all)
    func exactlyOnce(_ backend: StoreBackend) async throws {
        let s = try await Self.setup(now: "2026-10-26T08:30:00+01:00", backend: backend)
        try await s.sink.start()
        defer { s.sink.stop(); try? FileManager.default.removeItem(atPath: s.directory) }
        func restarted() async throws -> ReportScheduler {
            try await CentralComponents(offlineConfig: s.components.config, clock: s.clock, logger: Logger(label: "restart")).scheduler
        }
        try await s.components.scheduler.runDue(now: s.clock.now())
        s.clock.set("2026-10-26T08:31:00+01:00")
        try await restarted().runDue(now: s.clock.now())  // a restart inside the send window
        #expect(s.sink.messages.count == 1)
        s.clock.set("2026-11-02T07:59:00+01:00")
        try await restarted().runDue(now: s.clock.now())  // just before the next week's send time
        #expect(s.sink.messages.count == 1)
        s.clock.set("2026-11-02T08:00:00+01:00")
        try await restarted().runDue(now: s.clock.now())
        try await restarted().runDue(now: s.clock.now())
        #expect(s.sink.messages.count == 2)
        // Down from then until a Wednesday two weeks later: both missed weeks arrive, once each.
        s.clock.set("2026-11-18T10:00:00+01:00")
        try await restarted().runDue(now: s.clock.now())
        try await restarted().runDue(now: s.clock.now())
        let ids = try await s.sink.messages.asyncMap { try await Self.parse($0)["message_id"] as? String ?? "" }
        #expect(ids == [
            "<tally.weekly-team.2026-10-19.2026-10-25@tally.invalid>", "<tally.weekly-team.2026-10-26.2026-11-01@tally.invalid>",
            "<tally.weekly-team.2026-11-02.2026-11-08@tally.invalid>", "<tally.weekly-team.2026-11-09.2026-11-15@tally.invalid>",
        ])
        #expect(try await s.components.store.sendLog().allSatisfy { $0.status == "sent" })
    }

    @Test("Two central nodes on one PostgreSQL database send each (schedule, period) once", .enabled(if: StoreBackend.all.contains(.postgresql)))
    func onceAcrossNodes() async throws {
        let s = try await Self.setup(now: "2026-11-18T10:00:00+01:00", backend: .postgresql)
        try await s.sink.start()
        defer { s.sink.stop(); try? FileManager.default.removeItem(atPath: s.directory) }
        let second = try await CentralComponents(offlineConfig: s.components.config, clock: s.clock, logger: Logger(label: "node-2"))
        // Both nodes find the four weeks since the last report due, at the same moment, twice over.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for scheduler in [s.components.scheduler, second.scheduler, s.components.scheduler, second.scheduler] {
                group.addTask { try await scheduler.runDue(now: s.clock.now()) }
            }
            try await group.waitForAll()
        }
        let ids = try await s.sink.messages.asyncMap { try await Self.parse($0)["message_id"] as? String ?? "" }
        #expect(ids.count == Set(ids).count && !ids.isEmpty, "\(ids)")
        #expect(try await second.store.sendLog().allSatisfy { $0.status == "sent" && $0.attempts == 1 })
    }

    @Test("SMTP server down: retried with backoff, delivered once when it returns")
    func smtpDown() async throws {
        let s = try await Self.setup(now: "2026-10-26T09:00:00+01:00")
        defer { s.sink.stop(); try? FileManager.default.removeItem(atPath: s.directory) }
        try await s.components.scheduler.runDue(now: s.clock.now())
        #expect(try await s.components.store.sendLog().first?.attempts == 1)
        #expect(try await s.components.store.sendLog().first?.status == "pending")
        #expect(try await s.components.store.auditEvents().contains("report_failed"))
        try await s.sink.start()
        s.clock.set("2026-10-26T09:00:10+01:00")
        try await s.components.scheduler.runDue(now: s.clock.now())
        #expect(s.sink.messages.isEmpty, "not before the backoff has passed")
        s.clock.set("2026-10-26T09:00:31+01:00")
        try await s.components.scheduler.runDue(now: s.clock.now())
        try await s.components.scheduler.runDue(now: s.clock.now())
        #expect(s.sink.messages.count == 1)
        #expect(try await s.components.store.sendLog().first?.status == "sent")
    }

    @Test("STARTTLS is required: a relay that cannot upgrade gets nothing")
    func starttlsRequired() async throws {
        let s = try await Self.setup(now: "2026-10-26T09:00:00+01:00", tls: "starttls")
        try await s.sink.start()
        defer { s.sink.stop(); try? FileManager.default.removeItem(atPath: s.directory) }
        try await s.components.scheduler.runDue(now: s.clock.now())
        #expect(s.sink.messages.isEmpty)
        #expect(try await s.components.store.sendLog().first?.status == "pending")
    }

    @Test("Send times and periods across a year boundary and a DST change")
    func calendar() throws {
        func schedule(_ cadence: ReportSchedule.Cadence) -> ReportSchedule {
            ReportSchedule(name: "s", sites: [1], reports: ["summary"], cadence: cadence, sendHour: 8, sendMinute: 0,
                           timeZone: TimeZone(identifier: "Europe/Berlin")!, recipients: ["a@b.c"], format: .both, limit: 100)
        }
        let iso = ISO8601DateFormatter()
        // The ISO week from Monday 31 December 2029 to Sunday 6 January 2030, sent Monday 7 January at 08:00 CET.
        let week = ScheduleCalendar.latestDue(schedule(.weekly), now: iso.date(from: "2030-01-07T07:00:00Z")!)
        #expect(week.from == LocalDay("2029-12-31") && week.to == LocalDay("2030-01-06"))
        #expect(ScheduleCalendar.sendTime(of: week, for: schedule(.weekly)) == iso.date(from: "2030-01-07T07:00:00Z"))
        #expect(ScheduleCalendar.latestDue(schedule(.weekly), now: iso.date(from: "2030-01-07T06:59:59Z")!).to == LocalDay("2029-12-30"))
        let december = ScheduleCalendar.latestDue(schedule(.monthly), now: iso.date(from: "2030-01-01T07:00:00Z")!)
        #expect(december.from == LocalDay("2029-12-01") && december.to == LocalDay("2029-12-31"))
        // 08:00 in Berlin is 06:00 UTC in summer time and 07:00 UTC after the change on 25 October 2026.
        let daily = schedule(.daily)
        let saturday = ReportPeriod(kind: .day, from: LocalDay("2026-10-23")!, to: LocalDay("2026-10-23")!)
        let sunday = ReportPeriod(kind: .day, from: LocalDay("2026-10-24")!, to: LocalDay("2026-10-24")!)
        #expect(ScheduleCalendar.sendTime(of: saturday, for: daily) == iso.date(from: "2026-10-24T06:00:00Z"))
        #expect(ScheduleCalendar.sendTime(of: sunday, for: daily) == iso.date(from: "2026-10-25T07:00:00Z"))
        #expect(ScheduleCalendar.latestDue(daily, now: iso.date(from: "2026-10-25T06:30:00Z")!) == saturday)
        #expect(ScheduleCalendar.due(daily, now: iso.date(from: "2026-10-28T07:00:00Z")!, after: LocalDay("2026-10-24")).map { $0.from.description } == ["2026-10-25", "2026-10-26", "2026-10-27"])
    }

    @Test("Mail configuration: no password in the file, TLS off only for loopback")
    func settings() {
        let base = ReportFixture.configTOML.replacingOccurrences(of: "%DATA%", with: "/tmp/x")
        let cases = [
            ("[smtp]\nurl = \"smtp://mail.example.org:587\"\nfrom = \"a@b.c\"\npassword = \"hunter2\"", "no password in the configuration"),
            ("[smtp]\nurl = \"smtp://mail.example.org:25\"\nfrom = \"a@b.c\"\ntls = \"none\"", "allowed only to a relay on 127.0.0.1"),
            ("[smtp]\nurl = \"http://mail\"\nfrom = \"a@b.c\"", "smtp://host:port or smtps://host:port"),
            ("[[schedules]]\nname = \"x\"\nsites = [9]\nrecipients = [\"a@b.c\"]", "ids of sites configured"),
            ("[[schedules]]\nname = \"x\"\nsites = [1]\nrecipients = [\"not-an-address\"]", "e-mail addresses"),
            ("[[schedules]]\nname = \"x\"\nsites = [1]\nrecipients = [\"a@b.c\"]\nsend_time = \"25:00\"", "HH:MM"),
        ]
        for (extra, message) in cases {
            #expect(throws: (any Error).self) { try CentralConfig.parse(toml: base + "\n" + extra) }
            do { _ = try CentralConfig.parse(toml: base + "\n" + extra) } catch { #expect("\(error)".contains(message), "\(error)") }
        }
    }
}

@Suite("SMTP over TLS with authentication", .serialized)
struct SMTPTLSTests {
    /// Sends one composed report through `SMTPMailer` to a sink speaking STARTTLS or SMTPS with AUTH,
    /// its certificate from scripts/dev-pki.sh, the password from a private file.
    func deliver(mode: String, scheme: String, security: SMTPSettings.Security, password: String) async throws -> Int {
        let sandbox = try await CentralSandbox()
        let port = try LoopbackPorts.reserve()
        let sink = SMTPSink(port: port, directory: sandbox.path + "/mail",
                            options: ["--\(mode)", sandbox.pki + "/central.crt", sandbox.pki + "/central.key", "--auth", "tally:correct horse"])
        try await sink.start()
        defer { sink.stop() }
        let passwordFile = sandbox.path + "/smtp-password"
        _ = FileManager.default.createFile(atPath: passwordFile, contents: Data(password.utf8), attributes: [.posixPermissions: 0o600])
        let settings = SMTPSettings(url: "\(scheme)://localhost:\(port)", from: "tally@example.org", security: security, username: "tally",
                                    passwordFile: passwordFile, passwordEnvironment: nil, caFile: sandbox.pki + "/central-ca.crt")
        let message = Data("From: Tally <tally@example.org>\r\nTo: a@example.org\r\nSubject: t\r\n\r\nbody\r\n".utf8)
        do {
            try await SMTPMailer(settings: settings).send(message, from: "tally@example.org", to: ["a@example.org"])
        } catch {
            return -sink.messages.count - 1
        }
        return sink.messages.count
    }

    @Test("STARTTLS with login, the relay verified against the pinned CA: delivered")
    func starttls() async throws {
        #expect(try await deliver(mode: "starttls", scheme: "smtp", security: .starttls, password: "correct horse") == 1)
    }

    @Test("smtps:// (TLS from the first byte) with login: delivered")
    func smtps() async throws {
        #expect(try await deliver(mode: "smtps", scheme: "smtps", security: .tls, password: "correct horse") == 1)
    }

    @Test("A wrong password: refused, nothing delivered")
    func wrongPassword() async throws {
        #expect(try await deliver(mode: "starttls", scheme: "smtp", security: .starttls, password: "wrong") == -1)
    }
}

@Suite("SMTP credentials")
struct SMTPCredentialTests {
    @Test("The password comes from a private file or the environment, never the configuration")
    func password() throws {
        let directory = NSTemporaryDirectory() + "tally-smtp-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let file = directory + "/password"
        _ = FileManager.default.createFile(atPath: file, contents: Data("s3cret\n".utf8), attributes: [.posixPermissions: 0o600])
        var settings = SMTPSettings(url: "smtp://127.0.0.1:25", from: "a@b.c", security: .none, username: "tally", passwordFile: file, passwordEnvironment: nil, caFile: nil)
        #expect(try settings.password() == "s3cret")
        chmod(file, 0o644)
        #expect(throws: MailError.self) { try settings.password() }
        settings.passwordFile = nil
        settings.passwordEnvironment = "PATH"
        #expect(try settings.password() == ProcessInfo.processInfo.environment["PATH"])
        settings.passwordEnvironment = "TALLY_SURELY_UNSET_VARIABLE"
        #expect(throws: MailError.self) { try settings.password() }
    }
}

extension Sequence {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var out: [T] = []
        for element in self { out.append(try await transform(element)) }
        return out
    }
}
