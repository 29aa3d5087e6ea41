import Foundation
import GRDB
import TallyTestSupport
import Testing

/// Two central nodes on one PostgreSQL database behind HAProxy (TCP mode), two edges shipping through it,
/// and a real SMTP server for the scheduled reports. The database is a new one on the server
/// scripts/test.sh started (`TALLY_TEST_POSTGRES_URL`).
struct ClusterSandbox {
    let path: String
    let database: String
    let url: String
    let password: String
    let proxyPort: Int
    let smtpPort: Int
    let nodePorts: [String: (ingest: Int, api: Int)]
    var pki: String { path + "/pki" }

    static var available: Bool {
        let environment = ProcessInfo.processInfo.environment
        return environment["TALLY_TEST_POSTGRES_URL"] != nil || environment["CI"] == "true"
    }

    init() async throws {
        let environment = ProcessInfo.processInfo.environment
        guard let serverURL = environment["TALLY_TEST_POSTGRES_URL"], let passwordFile = environment["TALLY_TEST_POSTGRES_PASSWORD_FILE"],
              let server = serverURL.range(of: "/", options: .backwards).map({ String(serverURL[..<$0.lowerBound]) }) else {
            throw EdgeProcessError.exited("TALLY_TEST_POSTGRES_URL is not set: run the tests with scripts/test.sh, which starts PostgreSQL")
        }
        path = NSTemporaryDirectory() + "tally-cluster-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path + "/mail", withIntermediateDirectories: true)
        password = try String(contentsOfFile: passwordFile, encoding: .utf8).trimmingCharacters(in: .newlines)
        database = "tally_cluster_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        url = server + "/" + database
        proxyPort = try LoopbackPorts.reserve()
        smtpPort = try LoopbackPorts.reserve()
        nodePorts = ["a": (try LoopbackPorts.reserve(), try LoopbackPorts.reserve()), "b": (try LoopbackPorts.reserve(), try LoopbackPorts.reserve())]

        let created = try await EdgeProcess.command(["PGPASSWORD=\(password)", "psql", serverURL, "-q", "-c", "CREATE DATABASE \(database)"], executable: "/usr/bin/env")
        guard created.status == 0 else { throw EdgeProcessError.exited(created.output) }
        let made = try await EdgeProcess.command([pki, "edge-1", "edge-2"], executable: EdgeProcess.packageRoot.appendingPathComponent("scripts/dev-pki.sh").path)
        guard made.status == 0 else { throw EdgeProcessError.exited(made.output) }
        var edges = ""
        for edge in ["edge-1", "edge-2"] {
            let keygen = try await EdgeProcess.command(["keygen", "--out", path + "/\(edge).key"])
            edges += "[[edges]]\nid = \"\(edge)\"\npublic_key = \"\(keygen.output.trimmingCharacters(in: .whitespacesAndNewlines))\"\n"
        }
        for (node, ports) in nodePorts {
            try """
                data_dir = "\(path)/\(node)"
                log_level = "debug"
                [ingest]
                listen = "127.0.0.1:\(ports.ingest)"
                certificate_file = "\(pki)/central.crt"
                key_file = "\(pki)/central.key"
                edge_ca_file = "\(pki)/edge-ca.crt"
                [api]
                listen = "127.0.0.1:\(ports.api)"
                [store]
                url = "\(url)"
                password_file = "\(passwordFile)"
                connect_timeout_seconds = 600
                [aggregation]
                interval_seconds = 1
                lease_seconds = 5
                [smtp]
                url = "smtp://127.0.0.1:\(smtpPort)"
                from = "tally@example.org"
                tls = "none"
                \(edges)
                [[sites]]
                id = 1
                name = "Example"
                time_zone = "UTC"
                [[schedules]]
                name = "daily"
                sites = [1]
                reports = ["summary", "pages"]
                period = "daily"
                send_time = "00:00"
                time_zone = "UTC"
                recipients = ["owner@example.org"]
                [[schedules]]
                name = "weekly"
                sites = [1]
                reports = ["summary"]
                period = "weekly"
                send_time = "00:00"
                time_zone = "UTC"
                recipients = ["stakeholders@example.org"]
                format = "csv"
                """.write(toFile: path + "/central-\(node).toml", atomically: true, encoding: .utf8)
        }
        for edge in ["edge-1", "edge-2"] {
            try """
                edge_id = "\(edge)"
                listen = "127.0.0.1:0"
                data_dir = "\(path)/\(edge)"
                trusted_proxies = ["127.0.0.1"]
                [shipping]
                central_url = "https://localhost:\(proxyPort)/v1/batches"
                batch_max_hits = 25
                batch_interval_seconds = 1
                max_backoff_seconds = 1
                signing_key_file = "\(path)/\(edge).key"
                client_certificate_file = "\(pki)/edge-\(edge).crt"
                client_key_file = "\(pki)/edge-\(edge).key"
                central_ca_file = "\(pki)/central-ca.crt"
                [[sites]]
                id = 1
                """.write(toFile: path + "/\(edge).toml", atomically: true, encoding: .utf8)
        }
        // HAProxy in TCP mode in front of both nodes' ingest ports, configured as the demo configures it.
        let proxy = try await EdgeProcess.command(
            [String(proxyPort), String(nodePorts["a"]!.ingest), String(nodePorts["b"]!.ingest)],
            executable: EdgeProcess.packageRoot.appendingPathComponent("scripts/haproxy-config.sh").path)
        guard proxy.status == 0 else { throw EdgeProcessError.exited(proxy.output) }
        try proxy.output.write(toFile: path + "/haproxy.cfg", atomically: true, encoding: .utf8)
    }

    func remove() { try? FileManager.default.removeItem(atPath: path) }

    func startNode(_ node: String, log: String) async throws -> EdgeProcess {
        try await EdgeProcess.run(config: path + "/central-\(node).toml", logPath: path + "/\(log).log", executable: EdgeProcess.binary("tally-central"))
    }

    func startEdge(_ edge: String) async throws -> EdgeProcess {
        try await EdgeProcess.run(config: path + "/\(edge).toml", logPath: path + "/\(edge).log")
    }

    /// psql's unaligned output of one statement on the cluster's database.
    func psql(_ sql: String, applicationName: String = "tally-test") async throws -> String {
        let result = try await EdgeProcess.command(
            ["PGPASSWORD=\(password)", "PGAPPNAME=\(applicationName)", "psql", url, "-qAt", "-v", "ON_ERROR_STOP=1", "-c", sql],
            executable: "/usr/bin/env")
        guard result.status == 0 else { throw EdgeProcessError.exited("psql: \(result.output)") }
        return result.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func storedURLs() async throws -> [String] {
        try await psql("SELECT url FROM hits").split(separator: "\n").map(String.init)
    }

    func edgeDepth(_ edge: String) throws -> Int {
        try DatabaseQueue(path: path + "/\(edge)/buffer.sqlite").read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM hits") ?? 0 }
    }

    /// Waits until `condition` holds, re-checking it whenever a file changes in the sandbox (the nodes'
    /// debug logs, the edges' buffers, the mail directory) or in the database server's data directory
    /// (its write-ahead log), where every change the daemons make lands. The limit ends a hung run.
    func eventually(_ what: String, _ condition: () async throws -> Bool) async throws {
        let server = ProcessInfo.processInfo.environment["TALLY_TEST_POSTGRES_DIR"].map { [$0 + "/data"] } ?? []
        if try await FileChanges.wait(until: condition, watching: [path] + server, limit: .seconds(600)) { return }
        Issue.record("never happened: \(what)")
        throw EdgeProcessError.timeout(what)
    }
}

@Suite("Central cluster on PostgreSQL", .serialized, .enabled(if: ClusterSandbox.available))
struct ClusterTests {
    @Test("Two edges, HAProxy, two central nodes on one PostgreSQL: kill -9 of a node during ingest and of the node aggregating a day; every acknowledged hit is stored once, every day aggregated, every scheduled e-mail sent once")
    func killNodes() async throws {
        let sandbox = try await ClusterSandbox()
        defer { sandbox.remove() }
        let smtp = EdgeProcess(
            arguments: ["python3", "-u", EdgeProcess.packageRoot.appendingPathComponent("scripts/smtp-sink.py").path, String(sandbox.smtpPort), sandbox.path + "/mail"],
            logPath: sandbox.path + "/smtp.log", executable: "/usr/bin/env")
        try smtp.start()
        try await sandbox.eventually("the SMTP server is ready") { smtp.log.contains("ready") }
        let proxy = EdgeProcess(arguments: ["-f", sandbox.path + "/haproxy.cfg", "-db"], logPath: sandbox.path + "/haproxy.log", executable: "/usr/sbin/haproxy")
        try proxy.start()
        try await sandbox.eventually("HAProxy listens") {
            guard proxy.process.isRunning else { throw EdgeProcessError.exited(proxy.log) }
            return try await EdgeProcess.command(["-s", "-o", "/dev/null", "telnet://127.0.0.1:\(sandbox.proxyPort)", "--max-time", "1"], executable: "/usr/bin/curl").status != 7
        }
        var nodes = ["a": try await sandbox.startNode("a", log: "a-1"), "b": try await sandbox.startNode("b", log: "b-1")]
        let edges = [try await sandbox.startEdge("edge-1"), try await sandbox.startEdge("edge-2")]
        var sent = Set<String>()

        func load(_ label: String, perClient: Int) async {
            async let first = ShippingTests.load(edges[0], label: "\(label)-1", perClient: perClient)
            async let second = ShippingTests.load(edges[1], label: "\(label)-2", perClient: perClient)
            for round in await [first, second] {
                #expect(round.failed == 0, "the edges accept every hit whatever central does")
                sent.formUnion(round.sent)
            }
        }

        // Ingest: node a is killed while both edges' batches flow through the proxy to both nodes.
        let during = Task { await ShippingTests.load(edges[0], label: "ingest-1", perClient: 100) }
        try await sandbox.eventually("batches reach the database") { try await sandbox.storedURLs().count >= 50 }
        nodes["a"]!.signal(SIGKILL)
        _ = await nodes["a"]!.waitForExit()
        let round = await during.value
        #expect(round.failed == 0)
        sent.formUnion(round.sent)
        await load("a-down", perClient: 25)  // node b alone
        nodes["a"] = try await sandbox.startNode("a", log: "a-2")
        await load("both", perClient: 25)
        try await sandbox.eventually("both edges drain \(sent.count) hits") {
            let stored = try await sandbox.storedURLs().count
            return try sandbox.edgeDepth("edge-1") == 0 && sandbox.edgeDepth("edge-2") == 0 && stored >= sent.count
        }
        try await sandbox.eventually("every day is aggregated") { try await sandbox.psql("SELECT COUNT(*) FROM dirty_days") == "0" }

        // Aggregation: a session holds daily_rows, so the node that claims the next dirty day stops
        // while writing it; that node is killed there. Its claim outlives it, and after the lease the
        // other node aggregates the day.
        let lock = EdgeProcess(
            arguments: ["PGPASSWORD=\(sandbox.password)", "PGAPPNAME=tally-test-lock", "psql", sandbox.url, "-q"],
            logPath: sandbox.path + "/lock.log", executable: "/usr/bin/env")
        let session = Pipe()
        lock.process.standardInput = session
        try lock.start()
        session.fileHandleForWriting.write(Data("BEGIN; LOCK TABLE daily_rows IN SHARE MODE;\n".utf8))
        try await sandbox.eventually("the lock is held") {
            try await sandbox.psql("""
                SELECT COUNT(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                WHERE a.application_name = 'tally-test-lock' AND l.relation = 'daily_rows'::regclass AND l.granted
                """) == "1"
        }
        await load("aggregating", perClient: 10)
        var victim = ""
        try await sandbox.eventually("a node waits to write its claimed day") {
            victim = try await sandbox.psql("""
                SELECT application_name FROM pg_stat_activity WHERE application_name LIKE 'tally-central pid %' AND wait_event_type = 'Lock'
                AND query LIKE 'DELETE FROM daily_rows%' LIMIT 1
                """)
            return !victim.isEmpty
        }
        let pid = Int32(victim.split(separator: " ").last ?? "") ?? 0
        let name = try #require(nodes.first { $0.value.process.processIdentifier == pid }?.key, "\(victim) is one of the nodes")
        nodes[name]!.signal(SIGKILL)
        _ = await nodes[name]!.waitForExit()
        #expect(try await sandbox.psql("SELECT COUNT(*) FROM dirty_days") != "0", "the killed node's day is not marked done")
        try session.fileHandleForWriting.close()  // psql ends at the end of its input, and the lock with it
        _ = await lock.waitForExit()
        try await sandbox.eventually("the other node aggregates the dead node's day after its lease") {
            try await sandbox.psql("SELECT COUNT(*) FROM dirty_days") == "0"
        }
        nodes[name] = try await sandbox.startNode(name, log: "\(name)-3")
        try await sandbox.eventually("the edges drain") {
            let stored = try await sandbox.storedURLs().count
            return try sandbox.edgeDepth("edge-1") == 0 && sandbox.edgeDepth("edge-2") == 0 && stored >= sent.count
        }
        try await sandbox.eventually("every day is aggregated") { try await sandbox.psql("SELECT COUNT(*) FROM dirty_days") == "0" }

        // Every acknowledged hit once.
        let stored = try await sandbox.storedURLs()
        #expect(stored.count == sent.count, "the database holds \(stored.count) hits for \(sent.count) acknowledged")
        #expect(Set(stored).count == stored.count, "no hit is stored twice")
        #expect(Set(stored) == sent, "every acknowledged hit is stored")
        // Every day aggregated: the daily aggregates count every stored pageview.
        let aggregated = try await sandbox.psql("SELECT COALESCE(SUM(pageviews), 0) FROM daily_rows WHERE report = 'pages'")
        #expect(aggregated == String(sent.count), "the pages aggregates count \(aggregated) pageviews for \(sent.count) hits")

        // Every scheduled e-mail once: each due (schedule, period) sent, each by one node.
        try await sandbox.eventually("the due reports are sent") {
            let (pending, queued) = (try await sandbox.psql("SELECT COUNT(*) FROM send_log WHERE status <> 'sent'"), try await sandbox.psql("SELECT COUNT(*) FROM send_log"))
            return pending == "0" && Int(queued) ?? 0 >= 2
        }
        let sentLog = try await sandbox.psql("SELECT schedule || ' ' || period_start FROM send_log ORDER BY 1").split(separator: "\n")
        let mails = try FileManager.default.contentsOfDirectory(atPath: sandbox.path + "/mail").filter { $0.hasSuffix(".eml") }
        let messageIDs = try mails.map { file -> String in
            let text = try String(contentsOfFile: sandbox.path + "/mail/" + file, encoding: .utf8)
            return text.split(separator: "\r\n").first { $0.lowercased().hasPrefix("message-id:") }.map(String.init) ?? ""
        }
        #expect(mails.count == sentLog.count, "\(mails.count) messages for \(sentLog)")
        #expect(Set(messageIDs).count == messageIDs.count, "no report is sent twice: \(messageIDs)")
        #expect(Set(sentLog.map { $0.split(separator: " ")[0] }) == ["daily", "weekly"])

        // Privacy at rest: no address or user agent in the database files or the nodes' logs.
        if let directory = ProcessInfo.processInfo.environment["TALLY_TEST_POSTGRES_DIR"] {
            let grep = try await EdgeProcess.command(["-rlaF", "-e", "198.51.100.1", "-e", "ShipMarker", directory + "/data"], executable: "/usr/bin/grep")
            #expect(grep.status == 1 && grep.output.isEmpty, "found in \(grep.output)")
        }
        let logs = try await EdgeProcess.command(["-rlaF", "-e", "198.51.100.1", "-e", "ShipMarker", "--include=*.log", sandbox.path], executable: "/usr/bin/grep")
        #expect(logs.status == 1 && logs.output.isEmpty, "found in \(logs.output)")

        for process in edges + Array(nodes.values) { process.signal(SIGTERM) }
        for process in edges + Array(nodes.values) { #expect(await process.waitForExit() == 0, "\(process.logPath)") }
        proxy.signal(SIGTERM)
        smtp.signal(SIGTERM)
        _ = await proxy.waitForExit()
        _ = await smtp.waitForExit()
    }
}
