import Foundation
import GRDB
import TallyCore
import TallyTestSupport
import Testing
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// What a client or attacker can send to the real daemons, through their real interfaces.
@Suite("Nothing a client sends crashes, stalls or poisons Tally", .serialized)
struct RobustnessTests {
    /// GET or POST on loopback; status and body (nil status: no HTTP answer at all).
    static func http(_ url: String, method: String = "GET", body: Data? = nil, headers: [String: String] = [:]) async -> (status: Int?, body: String) {
        var request = URLRequest(url: URL(string: url)!)
        request.httpMethod = method
        request.httpBody = body
        request.timeoutInterval = 60
        // A browser's user agent: the edge drops what looks like a bot (URLSession's own agent does).
        request.setValue(ShippingTests.userAgent, forHTTPHeaderField: "User-Agent")
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        guard let (data, response) = try? await URLSession(configuration: .ephemeral).data(for: request) else { return (nil, "") }
        return ((response as? HTTPURLResponse)?.statusCode, String(decoding: data, as: UTF8.self))
    }

    /// Waits until `condition` holds — a change in other processes — re-checking it whenever a file in
    /// `directory` (or its subdirectories: buffer, store, logs) changes, since every change the daemons
    /// make lands there. The 120 s bound only ends a hung run.
    static func eventually(_ what: String, in directory: String, _ condition: () async throws -> Bool) async throws {
        if try await FileChanges.wait(until: condition, watching: [directory], limit: .seconds(120)) { return }
        Issue.record("never happened: \(what)")
    }

    /// SIGTERM to each daemon; each must stop cleanly.
    static func stop(_ processes: EdgeProcess...) async {
        for process in processes { process.signal(SIGTERM) }
        for process in processes { #expect(await process.waitForExit() == 0, "\(process.logPath)") }
    }

    static func central(_ arguments: [String]) async throws -> (status: Int32, output: String) {
        try await EdgeProcess.command(arguments, executable: EdgeProcess.binary("tally-central"))
    }

    static func token(_ sandbox: ShippingSandbox) async throws -> String {
        let made = try await central(["token", "create", "-c", sandbox.centralConfig, "--name", "probe", "--sites", "all"])
        return try #require(made.output.split(separator: "\n").last.map(String.init))
    }

    static func residentMegabytes(_ pid: Int32) -> Int {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return (Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0) / 1024
    }

    @Test("Out-of-range dates and periods answer 400 or exit 2 with one line; central keeps running; ranges are bounded")
    func datesAndRanges() async throws {
        let sandbox = try await ShippingSandbox()
        defer { sandbox.remove() }
        let centralProcess = try await sandbox.startCentral("central")
        let token = try await Self.token(sandbox)
        let auth = ["Authorization": "Bearer \(token)"]
        let api = "http://127.0.0.1:\(sandbox.apiPort)/api/v1/reports"
        for query in ["summary?site=1&period=month&date=9999-12-15", "pages?site=1&period=year&date=9999-01-01",
                      "summary?site=1&period=week&date=0001-01-01", "evolution?site=1&period=range&date=0001-01-01,9999-12-31",
                      "summary?site=1&period=day&date=last99999999999999999999", "summary?site=1&period=month&date=last3660"] {
            let answer = await Self.http("\(api)/\(query)", headers: auth)
            #expect(answer.status == 400, "\(query): \(answer)")
            #expect(answer.body.split(separator: "\n").count == 1, "\(answer.body)")
        }
        let cli = try await Self.central(["report", "-c", sandbox.centralConfig, "--site", "1", "--report", "summary", "--period", "month", "--date", "9999-12-15"])
        #expect(cli.status == 2)
        #expect(cli.output == "tally-central: date 9999-12-15 is outside the supported dates 1970-01-01 to 2199-12-31; pick a date in that range.\n")
        #expect(await Self.http("http://127.0.0.1:\(sandbox.apiPort)/healthz").status == 200, "central is still running")

        // The longest range a report may cover, three at once: answered in full, memory bounded.
        let longest = "\(api)/evolution?site=1&period=range&date=2010-01-01,2020-01-08&format=json"
        let answers = await withTaskGroup(of: (Int?, String).self) { group in
            for _ in 0..<3 { group.addTask { await Self.http(longest, headers: auth) } }
            return await group.reduce(into: []) { $0.append($1) }
        }
        for (status, body) in answers {
            #expect(status == 200)
            let json = try #require(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])
            #expect((json["rows"] as? [Any])?.count == 3660)
        }
        #expect(Self.residentMegabytes(centralProcess.process.processIdentifier) < 300)
        let tooLong = await Self.http("\(api)/evolution?site=1&period=range&date=2010-01-01,2020-01-09", headers: auth)
        #expect(tooLong.status == 400 && tooLong.body.contains("covers 3661 days, more than the 3660"), "\(tooLong)")
        centralProcess.signal(SIGTERM)
        #expect(await centralProcess.waitForExit() == 0)
    }

    @Test("Control characters, unusable numbers and formulas: repaired on arrival, stored whole, every report parses")
    func hostileValues() async throws {
        let sandbox = try await ShippingSandbox()
        defer { sandbox.remove() }
        let centralProcess = try await sandbox.startCentral("central")
        let edge = try await sandbox.startEdge("edge")
        let base = "http://127.0.0.1:\(edge.port)"
        let page = "url=https%3A%2F%2Fexample.com%2F"
        var sent = 0
        for query in ["e_c=Video&e_a=Play&e_v=1e308", "e_c=Video&e_a=Play&e_v=1e308", "e_c=Video&e_a=Play&e_v=inf",
                      "action_name=Before%7FAfter", "action_name=Line%0Abreak%C2%85", "action_name=%3DHYPERLINK(%22http%3A%2F%2Fevil%22)",
                      "action_name=%40SUM(1%2C2)"] {
            let answer = await Self.http("\(base)/matomo.php?idsite=1&rec=1&\(page)&\(query)", headers: ["X-Forwarded-For": "198.51.100.20"])
            #expect(answer.status == 200, "\(query)")
            sent += 1
        }
        let beacon = #"{"site":1,"url":"https://example.com/beacon","title":"Nul\u0000Title","kind":"pageview"}"#
        #expect(await Self.http("\(base)/api/event", method: "POST", body: Data(beacon.utf8), headers: ["Content-Type": "application/json"]).status == 202)
        sent += 1
        try await Self.eventually("central holds every hit", in: sandbox.path) { try sandbox.edgeDepth() == 0 && sandbox.centralURLs().count == sent }

        let titles = try await DatabaseQueue(path: sandbox.centralStore).read { db in
            try String.fetchAll(db, sql: "SELECT title FROM hits WHERE title IS NOT NULL ORDER BY id")
        }
        #expect(titles == ["BeforeAfter", "Linebreak", #"=HYPERLINK("http://evil")"#, "@SUM(1,2)", "NulTitle"])
        let metrics = await Self.http("\(base)/metrics").body
        #expect(metrics.contains(#"tally_edge_input_repairs_total{kind="control_characters"} 3"#), "\(metrics)")
        #expect(metrics.contains(#"tally_edge_input_repairs_total{kind="number_out_of_range"} 3"#))

        _ = try await Self.central(["aggregate", "-c", sandbox.centralConfig])
        for report in ["events", "summary", "page_titles"] {
            let json = try await Self.central(["report", "-c", sandbox.centralConfig, "--site", "1", "--report", report, "--format", "json"])
            #expect(json.status == 0)
            #expect((try? JSONSerialization.jsonObject(with: Data(json.output.utf8))) != nil, "\(report) JSON parses: \(json.output)")
            #expect(!json.output.contains("inf") && !json.output.contains("nan"))
        }
        let csvPath = sandbox.path + "/titles.csv"
        let csv = try await Self.central(["report", "-c", sandbox.centralConfig, "--site", "1", "--report", "page_titles", "--format", "csv", "--output", csvPath])
        #expect(csv.status == 0)
        let python = try await Self.python("import csv,sys\nfor row in csv.reader(open(sys.argv[1], newline='', encoding='utf-8')): print(row[0])", csvPath)
        let labels = python.split(separator: "\n").map(String.init)
        #expect(labels.contains(#"'=HYPERLINK("http://evil")"#), "\(labels)")
        #expect(labels.contains("'@SUM(1,2)"))
        #expect(!labels.contains { $0.hasPrefix("=") || $0.hasPrefix("@") })
        await Self.stop(edge, centralProcess)
    }

    static func python(_ program: String, _ arguments: String...) async throws -> String {
        try await offThread { try runToCompletion("/usr/bin/env", ["python3", "-c", program] + arguments, withErrors: false).text }
    }

    @Test("A poison record is quarantined alone and the rest ship; a lost buffer starts a new stream that central accepts")
    func poisonAndLostBuffer() async throws {
        let sandbox = try await ShippingSandbox()
        defer { sandbox.remove() }
        let centralProcess = try await sandbox.startCentral("central")
        var edge = try await sandbox.startEdge("edge-1")
        edge.signal(SIGTERM)
        #expect(await edge.waitForExit() == 0)
        // A record whose payload no longer reads as a hit: a raw control character inside a string.
        try await DatabaseQueue(path: sandbox.edgeBuffer).write { db in
            try db.execute(
                sql: "INSERT INTO hits (received_at, site_id, policy_digest, payload) VALUES (1, 1, ?, ?)",
                arguments: [String(repeating: "0", count: 64), Data(#"{"kind":"pageview","site_id":1,"title":"a\#u{01}b","ts":1}"#.utf8)])
        }
        edge = try await sandbox.startEdge("edge-2")
        var sent = Set<String>()
        for n in 0..<30 {
            let url = "https://example.com/after-poison/\(n)"
            #expect(await Self.http("http://127.0.0.1:\(edge.port)/matomo.php?idsite=1&rec=1&url=\(url.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)").status == 200)
            sent.insert(url)
        }
        try await Self.eventually("the good hits arrive", in: sandbox.path) { Set(try sandbox.centralURLs()) == sent }
        let status = try await EdgeProcess.command(["status", "-c", sandbox.edgeConfig])
        #expect(status.output.contains("Quarantined:     0 batches, 1 records"), "\(status.output)")
        let health = await Self.http("http://127.0.0.1:\(edge.port)/healthz")
        #expect(health.status == 503 && health.body.contains("records_quarantined: 1 record(s)"), "\(health)")
        #expect(await Self.http("http://127.0.0.1:\(edge.port)/metrics").body.contains("tally_edge_records_quarantined 1"))
        #expect(edge.log.components(separatedBy: "cannot be shipped").count == 2, "logged once")

        // The buffer is lost: the edge starts a new one, numbered in a new stream, and delivery goes on.
        edge.signal(SIGTERM)
        #expect(await edge.waitForExit() == 0)
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: sandbox.edgeBuffer + suffix) }
        edge = try await sandbox.startEdge("edge-3")
        for n in 0..<100 {
            let url = "https://example.com/new-buffer/\(n)"
            #expect(await Self.http("http://127.0.0.1:\(edge.port)/matomo.php?idsite=1&rec=1&url=\(url.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)").status == 200)
            sent.insert(url)
        }
        try await Self.eventually("all 100 hits of the new buffer arrive", in: sandbox.path) { Set(try sandbox.centralURLs()) == sent }
        #expect(try sandbox.centralURLs().count == sent.count, "nothing twice")
        let centralStatus = try await Self.central(["status", "-c", sandbox.centralConfig])
        #expect(centralStatus.output.components(separatedBy: "  stream ").count == 3, "two streams: \(centralStatus.output)")
        #expect(centralStatus.output.contains("Edge edge-1:"))
        await Self.stop(edge, centralProcess)
    }

    @Test("Health reports degraded with the reason while a store refuses writes, and recovers without a restart")
    func healthTellsTheTruth() async throws {
        let sandbox = try await ShippingSandbox()
        defer { sandbox.remove() }
        let centralProcess = try await sandbox.startCentral("central")
        let edge = try await sandbox.startEdge("edge")
        let edgeHealth = "http://127.0.0.1:\(edge.port)/healthz"
        let centralHealth = "http://127.0.0.1:\(sandbox.apiPort)/healthz"
        #expect(await Self.http(edgeHealth).status == 200)
        #expect(await Self.http(centralHealth).status == 200)

        for (database, health, reason) in [(sandbox.edgeBuffer, edgeHealth, "buffer_write_failed"), (sandbox.centralStore, centralHealth, "store_unavailable")] {
            // Another process takes the write lock and holds it: every write the daemon tries fails.
            let holder = Process()
            holder.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            holder.arguments = ["python3", "-c", "import sqlite3,sys; c=sqlite3.connect(sys.argv[1], isolation_level=None); c.execute('BEGIN EXCLUSIVE'); print('locked', flush=True); sys.stdin.read()", database]
            let input = Pipe(), output = Pipe()
            holder.standardInput = input
            holder.standardOutput = output
            try holder.run()
            _ = try await offThread { output.fileHandleForReading.availableData }  // "locked"
            if health == edgeHealth {
                let refused = await Self.http("http://127.0.0.1:\(edge.port)/matomo.php?idsite=1&rec=1&url=https%3A%2F%2Fexample.com%2F")
                #expect(refused.status == 503)
            }
            let degraded = await Self.http(health)
            #expect(degraded.status == 503 && degraded.body.contains(#""status":"degraded""#) && degraded.body.contains(reason), "\(degraded)")
            try input.fileHandleForWriting.close()
            try await offThread { holder.waitUntilExit() }
            if health == edgeHealth {
                #expect(await Self.http("http://127.0.0.1:\(edge.port)/matomo.php?idsite=1&rec=1&url=https%3A%2F%2Fexample.com%2F").status == 200)
            }
            try await Self.eventually("\(reason) clears", in: sandbox.path) { await Self.http(health).status == 200 }
        }
        await Self.stop(edge, centralProcess)
    }

    @Test("A stalled shipper is reported by /healthz")
    func stalledShipper() async throws {
        let sandbox = try await ShippingSandbox(shippingExtra: "stall_after_seconds = 2")
        defer { sandbox.remove() }
        let edge = try await sandbox.startEdge("edge")  // central never starts
        #expect(await Self.http("http://127.0.0.1:\(edge.port)/matomo.php?idsite=1&rec=1&url=https%3A%2F%2Fexample.com%2F").status == 200)
        try await Self.eventually("the shipper is reported stalled", in: sandbox.path) {
            let health = await Self.http("http://127.0.0.1:\(edge.port)/healthz")
            return health.status == 503 && health.body.contains("shipping_stalled")
        }
        edge.signal(SIGTERM)
        #expect(await edge.waitForExit() == 0)
    }

    @Test("check-config refuses what run refuses; databases are private; the SMTP password is checked at start-up")
    func secretsAtRest() async throws {
        let sandbox = try await ShippingSandbox()
        defer { sandbox.remove() }
        let centralProcess = try await sandbox.startCentral("central")
        let edge = try await sandbox.startEdge("edge")
        #expect(await Self.http("http://127.0.0.1:\(edge.port)/matomo.php?idsite=1&rec=1&url=https%3A%2F%2Fexample.com%2F").status == 200)
        try await Self.eventually("the hit arrives", in: sandbox.path) { try sandbox.centralURLs().count == 1 }
        for file in [sandbox.edgeBuffer, sandbox.edgeBuffer + "-wal", sandbox.edgeBuffer + "-shm",
                     sandbox.centralStore, sandbox.centralStore + "-wal", sandbox.centralStore + "-shm"] {
            let mode = try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as? Int
            #expect(mode == 0o600, "\(file): \(String(mode ?? 0, radix: 8))")
        }
        await Self.stop(edge, centralProcess)

        chmod(sandbox.path + "/edge.key", 0o640)
        let check = try await EdgeProcess.command(["check-config", "-c", sandbox.edgeConfig])
        let run = try await EdgeProcess.command(["run", "-c", sandbox.edgeConfig])
        #expect(check.status == 1 && run.status == 1)
        #expect(check.output == run.output && check.output.contains("is accessible by group or others (mode 640)"), "\(check.output)")

        // An SMTP password file others can read stops check-config and run alike, before anything runs.
        let password = sandbox.path + "/smtp-password"
        _ = FileManager.default.createFile(atPath: password, contents: Data("secret\n".utf8), attributes: [.posixPermissions: 0o644])
        let config = try String(contentsOfFile: sandbox.centralConfig, encoding: .utf8) + """

            [smtp]
            url = "smtp://127.0.0.1:2525"
            from = "tally@example.org"
            tls = "none"
            username = "tally"
            password_file = "\(password)"
            """
        try config.write(toFile: sandbox.centralConfig, atomically: true, encoding: .utf8)
        let centralCheck = try await Self.central(["check-config", "-c", sandbox.centralConfig])
        let centralRun = try await Self.central(["run", "-c", sandbox.centralConfig])
        #expect(centralCheck.status == 1 && centralRun.status == 1)
        #expect(centralCheck.output.contains("The SMTP password file \(password) is accessible by group or others"), "\(centralCheck.output)")
        #expect(centralRun.output.contains("The SMTP password file \(password) is accessible by group or others"), "\(centralRun.output)")
    }

    @Test("A configuration typo the fuzzer found (a table name starting with @) is one clear line from both daemons, not an abort")
    func configurationTypo() async throws {
        let sandbox = try await ShippingSandbox()
        defer { sandbox.remove() }
        for (config, run) in [(sandbox.edgeConfig, { try await EdgeProcess.command($0) }), (sandbox.centralConfig, Self.central)] {
            let text = try String(contentsOfFile: config, encoding: .utf8)
            let line = text.split(separator: "\n", omittingEmptySubsequences: false).count
            try (text + "\n[@privacy]\n").write(toFile: config, atomically: true, encoding: .utf8)
            for command in ["check-config", "run"] {
                let result = try await run([command, "-c", config])
                #expect(result.status == 1, "\(result.output)")
                #expect(result.output.hasSuffix(
                    "\(config):\(line + 1):2 is not valid TOML (expected a key (letters, digits, _ or -, or a quoted string)); fix the syntax there.\n"),
                    "\(result.output)")
            }
        }
    }

    @Test("A missing detection database, or one whose YAML does not parse, stops the edge with one line naming the file (and line)")
    func brokenDetectionDatabase() async throws {
        let sandbox = try await ShippingSandbox()
        defer { sandbox.remove() }
        let original = try String(contentsOfFile: sandbox.edgeConfig, encoding: .utf8)
        let missing = sandbox.path + "/no-such-database"
        try ("device_database = \"\(missing)\"\n" + original).write(toFile: sandbox.edgeConfig, atomically: true, encoding: .utf8)
        for command in ["check-config", "run"] {
            let result = try await EdgeProcess.command([command, "-c", sandbox.edgeConfig])
            #expect(result.status == 1, "\(result.output)")
            #expect(result.output == "tally-edge: device database directory \(missing) does not exist; install it with scripts/install-deps.sh or set device_database in edge.toml to a copy of device-detector's regexes\n")
        }
        // A copy of the database whose oss.yml breaks on line 3.
        let copy = sandbox.path + "/device-database"
        try FileManager.default.copyItem(atPath: "/usr/local/share/tally/pypi/device_detector/regexes/upstream", toPath: copy)
        let oss = try String(contentsOfFile: copy + "/oss.yml", encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        try (oss.prefix(2) + ["- regex: 'unterminated", "  name: [broken"] + oss.dropFirst(2)).joined(separator: "\n")
            .write(toFile: copy + "/oss.yml", atomically: true, encoding: .utf8)
        try ("device_database = \"\(copy)\"\n" + original).write(toFile: sandbox.edgeConfig, atomically: true, encoding: .utf8)
        for command in ["check-config", "run"] {
            let result = try await EdgeProcess.command([command, "-c", sandbox.edgeConfig])
            #expect(result.status == 1, "\(result.output)")
            #expect(result.output.hasPrefix("tally-edge: device database: \(copy)/oss.yml:"), "\(result.output)")
            #expect(result.output.contains("YAML does not parse") && result.output.split(separator: "\n").count == 1, "\(result.output)")
        }
    }

    /// A raw TCP connection to loopback, for clients that misbehave below HTTP.
    final class RawConnection {
        let fd: Int32

        /// `from` picks the client's own loopback address, so tests can be distinct clients.
        init(port: Int, from source: String = "127.0.0.1") throws {
            fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var local = sockaddr_in()
            local.sin_family = sa_family_t(AF_INET)
            local.sin_addr.s_addr = inet_addr(source)
            _ = withUnsafePointer(to: &local) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            // Only a guard against a hung run: a read gives up after 60 s instead of blocking forever.
            var timeout = timeval(tv_sec: 60, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = UInt16(port).bigEndian
            let result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard result == 0 else { throw EdgeProcessError.exited("connect failed") }
        }

        func send(_ text: String) { _ = text.withCString { Glibc.send(fd, $0, strlen($0), Int32(MSG_NOSIGNAL)) } }

        /// What the server sends until it closes the connection or stops with a complete answer.
        func receive() -> (text: String, closed: Bool) {
            var received: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = recv(fd, &buffer, buffer.count, 0)
                // Closed: an orderly end, or a reset (a connection refused at once is reset).
                if n <= 0 { return (String(decoding: received, as: UTF8.self), n == 0 || errno == ECONNRESET) }
                received += buffer[0..<n]
                let text = String(decoding: received, as: UTF8.self)
                if text.contains("\r\n\r\n"), text.hasPrefix("HTTP/1.1 ") {
                    if let range = text.range(of: "content-length: ", options: .caseInsensitive),
                       let length = Int(text[range.upperBound...].prefix { $0.isNumber }),
                       let body = text.range(of: "\r\n\r\n"), text.utf8.count - text.utf8.distance(from: text.startIndex, to: body.upperBound) >= length {
                        return (text, false)
                    }
                }
            }
        }

        /// Everything the server sends until it closes the connection.
        func receiveUntilClosed() -> String {
            var received: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = recv(fd, &buffer, buffer.count, 0)
                if n <= 0 { return String(decoding: received, as: UTF8.self) }
                received += buffer[0..<n]
            }
        }

        deinit { close(fd) }
    }

    @Test("The edge's listener: 404, 405 with Allow, pipelined requests answered in order, Connection: close, HTTP/1.0, HEAD, a malformed request 400")
    func listenerSemantics() async throws {
        let sandbox = try await ShippingSandbox()
        defer { sandbox.remove() }
        let edge = try await sandbox.startEdge("edge")
        let connection = try RawConnection(port: edge.port)
        connection.send("GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n")
        let missing = connection.receive()
        #expect(missing.text.hasPrefix("HTTP/1.1 404") && !missing.closed, "\(missing)")
        connection.send("DELETE /matomo.php HTTP/1.1\r\nHost: x\r\n\r\n")
        let wrongMethod = connection.receive()
        #expect(wrongMethod.text.hasPrefix("HTTP/1.1 405") && wrongMethod.text.lowercased().contains("allow: get, post, options"), "\(wrongMethod)")
        // Two requests in one write, the second asking to close: two answers in order, then the close.
        connection.send(
            "GET /matomo.php?idsite=1&rec=1&send_image=0&url=https%3A%2F%2Fexample.com%2Fpipelined HTTP/1.1\r\nHost: x\r\n\r\n"
                + "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        let both = connection.receiveUntilClosed()
        let statusLines = both.split(separator: "\r\n").filter { $0.hasPrefix("HTTP/1.1 ") }
        #expect(statusLines.map { $0.prefix(12) } == ["HTTP/1.1 204", "HTTP/1.1 200"], "\(both)")
        #expect(both.lowercased().contains("connection: close"), "\(both)")

        let old = try RawConnection(port: edge.port)
        old.send("GET /healthz HTTP/1.0\r\n\r\n")
        let answer = old.receiveUntilClosed()
        #expect(answer.hasPrefix("HTTP/1.0 200") && answer.contains("\"status\":\"ok\""), "\(answer)")

        let garbage = try RawConnection(port: edge.port)
        garbage.send("NOT HTTP AT ALL\r\n\r\n")
        let refused = garbage.receiveUntilClosed()
        #expect(refused.hasPrefix("HTTP/1.1 400"), "\(refused)")

        // Three requests and a malformed one in one write: the three answered in order (the HEAD answer
        // without its body), then the connection closes; the decoder gave up behind them, so no 400.
        let burst = try RawConnection(port: edge.port)
        burst.send(
            "GET /matomo.php?idsite=1&rec=1&send_image=0&url=https%3A%2F%2Fexample.com%2Fone HTTP/1.1\r\nHost: x\r\n\r\n"
                + "GET /matomo.php?idsite=1&rec=1&url=https%3A%2F%2Fexample.com%2Ftwo HTTP/1.1\r\nHost: x\r\n\r\n"
                + "HEAD /nothing HTTP/1.1\r\nHost: x\r\n\r\n"
                + "NOT HTTP AT ALL\r\n\r\n")
        let answers = burst.receiveUntilClosed()
        // The GIF's bytes run straight into the next status line, so answers are found by their start.
        let answered = answers.components(separatedBy: "HTTP/1.1 ").dropFirst().map { $0.prefix(3) }
        #expect(answered == ["204", "200", "404"], "\(answers)")
        #expect(answers.hasSuffix("\r\n\r\n") && answers.contains("image/gif"), "\(answers)")
        await Self.stop(edge)
    }

    @Test("Slow clients are cut off at the header and body deadlines; one client holds at most its share of connections")
    func slowClients() async throws {
        let sandbox = try await ShippingSandbox(
            centralExtra: "[connections]\nheader_timeout_seconds = 1\nbody_timeout_seconds = 1\nmax_connections_per_client = 3",
            edgeTables: "[limits]\nheader_timeout_seconds = 1\nbody_timeout_seconds = 1\nmax_connections_per_client = 3")
        defer { sandbox.remove() }
        // The edge trusts no proxy here, so loopback is an ordinary client with a cap.
        let config = try String(contentsOfFile: sandbox.edgeConfig, encoding: .utf8).replacingOccurrences(of: #"trusted_proxies = ["127.0.0.1"]"#, with: "")
        try config.write(toFile: sandbox.edgeConfig, atomically: true, encoding: .utf8)
        let centralProcess = try await sandbox.startCentral("central")
        let edge = try await sandbox.startEdge("edge")
        for (port, client) in [(edge.port, "127.0.0.2"), (sandbox.apiPort, "127.0.0.3")] {
            // Headers trickled and never finished: the server closes the connection without an answer.
            let trickle = try RawConnection(port: port, from: client)
            trickle.send("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            let cut = trickle.receive()
            #expect(cut.closed && cut.text.isEmpty, "port \(port): \(cut)")
        }
        // A head whose body never comes (the edge's tracking endpoint reads bodies).
        let body = try RawConnection(port: edge.port, from: "127.0.0.4")
        body.send("POST /matomo.php HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nidsite=1")
        #expect(body.receive().closed)

        for (port, client) in [(edge.port, "127.0.0.5"), (sandbox.apiPort, "127.0.0.6")] {
            // Three connections kept alive after a request; a fourth from the same client is closed at
            // once, while another client is served.
            let kept = try (0..<3).map { _ in try RawConnection(port: port, from: client) }
            for connection in kept {
                connection.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                #expect(connection.receive().text.hasPrefix("HTTP/1.1 200"), "port \(port)")
            }
            let fourth = try RawConnection(port: port, from: client)
            fourth.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            let refused = fourth.receive()
            #expect(refused.closed && refused.text.isEmpty, "port \(port): \(refused)")
            let other = try RawConnection(port: port, from: "127.0.0.7")
            other.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(other.receive().text.hasPrefix("HTTP/1.1 200"), "port \(port)")
        }
        await Self.stop(edge, centralProcess)
    }
}
