import Foundation
import GRDB
import Synchronization
import TallyCore
import TallyTestSupport
import Testing
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Tells load workers to stop, and counts the hits they had acknowledged so far.
final class StopFlag: Sendable {
    private let value = Mutex(false)
    private let answered = Mutex((count: 0, waiter: (target: Int, continuation: CheckedContinuation<Void, Never>)?.none))
    var isSet: Bool { value.withLock { $0 } }
    func set() { value.withLock { $0 = true } }

    func countAcknowledged() {
        let reached = answered.withLock { state -> CheckedContinuation<Void, Never>? in
            state.count += 1
            guard let waiter = state.waiter, state.count >= waiter.target else { return nil }
            state.waiter = nil
            return waiter.continuation
        }
        reached?.resume()
    }

    var acknowledgedSoFar: Int { answered.withLock { $0.count } }

    /// Waits until the load has been acknowledged `count` times, so a signal lands mid-load however slowly
    /// the machine started the clients; woken by the acknowledgement itself. `timeout` only guards
    /// against a hung edge.
    func waitForAcknowledged(_ count: Int, timeout: TimeInterval = 120) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let already = answered.withLock { state -> Bool in
                if state.count >= count { return true }
                state.waiter = (count, continuation)
                return false
            }
            if already { continuation.resume(); return }
            DispatchQueue.global().asyncAfter(deadline: .now() + timeout) { [self] in
                let waiter = answered.withLock { state -> CheckedContinuation<Void, Never>? in
                    defer { state.waiter = nil }
                    return state.waiter?.continuation
                }
                waiter?.resume()
            }
        }
    }
}

@Suite("A real tally-edge process", .serialized)
struct EdgeCrashTests {
    static let userAgent = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"

    /// The page URLs stored in a buffer file, and its integrity check.
    static func buffer(_ path: String) throws -> (urls: Set<String>, integrity: String) {
        let queue = try DatabaseQueue(path: path)
        return try queue.read { db in
            let payloads = try Data.fetchAll(db, sql: "SELECT payload FROM hits")
            let urls = Set(try payloads.compactMap { try Hit.decodeJSON($0).url })
            return (urls, try String.fetchOne(db, sql: "PRAGMA integrity_check") ?? "")
        }
    }

    /// Sends hits from `workers` concurrent clients until `stop` is set; returns the URLs answered 200.
    static func load(edge: EdgeProcess, workers: Int, label: String, stop: StopFlag) async -> Set<String> {
        let session = URLSession(configuration: .ephemeral)
        return await withTaskGroup(of: [String].self) { group in
            for worker in 0..<workers {
                group.addTask {
                    var acknowledged: [String] = []
                    var n = 0
                    while !stop.isSet {
                        let url = "https://example.com/\(label)/\(worker)/\(n)"
                        let query = "idsite=1&rec=1&url=" + url.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
                        let status = await edge.get(
                            "/matomo.php?\(query)",
                            headers: ["User-Agent": userAgent, "X-Forwarded-For": "203.0.113.\(worker % 250)"], session: session)
                        if status == 200 {
                            acknowledged.append(url)
                            stop.countAcknowledged()
                        }
                        // No answer (a slow first request on a loaded machine, or the edge killed): go on
                        // until the test says stop, which it does once the killed edge has exited.
                        n += 1
                    }
                    return acknowledged
                }
            }
            var all = Set<String>()
            for await urls in group { all.formUnion(urls) }
            return all
        }
    }

    @Test("kill -9 under concurrent load loses no acknowledged hit and corrupts nothing")
    func killUnderLoad() async throws {
        let sandbox = try await EdgeSandbox()
        defer { sandbox.remove() }
        var acknowledged = Set<String>()
        for round in 0..<3 {
            let edge = try await EdgeProcess.run(config: sandbox.configPath, logPath: sandbox.path + "/edge-\(round).log")
            let stop = StopFlag()
            async let answered = Self.load(edge: edge, workers: 16, label: "r\(round)", stop: stop)
            await stop.waitForAcknowledged(1000)
            edge.signal(SIGKILL)
            #expect(await edge.waitForExit() != nil)
            stop.set()
            let got = await answered
            #expect(got.count > 10, "the load reached the edge (\(got.count) acknowledged in round \(round)); its log ends: \(edge.log.suffix(3_000))")
            acknowledged.formUnion(got)
        }

        // Restart on the crashed files: the edge opens them, serves, and stops cleanly.
        let edge = try await EdgeProcess.run(config: sandbox.configPath, logPath: sandbox.path + "/edge-final.log")
        let session = URLSession(configuration: .ephemeral)
        #expect(await edge.get("/healthz", session: session) == 200)
        edge.signal(SIGTERM)
        #expect(await edge.waitForExit() == 0)

        let (stored, integrity) = try Self.buffer(sandbox.bufferPath)
        #expect(integrity == "ok")
        let lost = acknowledged.subtracting(stored)
        #expect(lost.isEmpty, "\(lost.count) acknowledged hits lost, e.g. \(Array(lost.prefix(3)))")
    }

    @Test("SIGTERM commits what is pending (ack = fast) and exits 0")
    func gracefulShutdown() async throws {
        let sandbox = try await EdgeSandbox(extra: "[buffer]\nack = \"fast\"")
        defer { sandbox.remove() }
        let edge = try await EdgeProcess.run(config: sandbox.configPath, logPath: sandbox.path + "/edge.log")
        let stop = StopFlag()
        async let answered = Self.load(edge: edge, workers: 8, label: "term", stop: stop)
        await stop.waitForAcknowledged(300)
        edge.signal(SIGTERM)
        let status = await edge.waitForExit()
        stop.set()
        let acknowledged = await answered
        #expect(status == 0)
        #expect(acknowledged.count > 20)
        let (stored, integrity) = try Self.buffer(sandbox.bufferPath)
        #expect(integrity == "ok")
        #expect(acknowledged.subtracting(stored).isEmpty)
        #expect(edge.log.contains("pending hits committed"))
    }

    @Test("The process's buffer files and logs hold no test IP or user agent")
    func privacyAtRest() async throws {
        let sandbox = try await EdgeSandbox(extra: "log_level = \"trace\"")
        defer { sandbox.remove() }
        let edge = try await EdgeProcess.run(config: sandbox.configPath, logPath: sandbox.path + "/edge.log")
        let session = URLSession(configuration: .ephemeral)
        let clients = [("203.0.113.77", Self.userAgent), ("2001:db8:1:2::77", "Mozilla/5.0 (X11; Linux x86_64) E2EMarker/1.0 (agent-c0ffee)")]
        for (ip, ua) in clients {
            for page in 0..<3 {
                let status = await edge.get(
                    "/matomo.php?idsite=1&rec=1&url=https%3A%2F%2Fexample.com%2F\(page)",
                    headers: ["User-Agent": ua, "X-Forwarded-For": ip], session: session)
                #expect(status == 200)
            }
            _ = await edge.get("/matomo.php?idsite=5&rec=1", headers: ["User-Agent": ua, "X-Forwarded-For": ip], session: session)
        }
        // Drop counts ride along with the next transaction of hits, or are committed within a second.
        var status = try await EdgeProcess.command(["status", "-c", sandbox.configPath])
        let counted = try await FileChanges.wait(until: {
            status = try await EdgeProcess.command(["status", "-c", sandbox.configPath])
            return status.output.contains("unknown_site           2")
        }, watching: [sandbox.dataDir], limit: .seconds(600))
        #expect(counted, "both unknown-site drops counted: \(status.output)")
        #expect(edge.log.contains("Memory allocator: jemalloc"), "tally-edge allocates with jemalloc")
        #expect(status.status == 0)
        #expect(status.output.contains("Buffered hits:   6"))

        var files = [sandbox.path + "/edge.log"]
        for suffix in ["", "-wal", "-shm"] { files.append(sandbox.bufferPath + suffix) }
        let inspectBeforeShutdown = files.compactMap { path in FileManager.default.contents(atPath: path).map { (path, $0) } }
        edge.signal(SIGTERM)
        #expect(await edge.waitForExit() == 0)
        let inspectAfter = files.compactMap { path in FileManager.default.contents(atPath: path).map { (path, $0) } }
        #expect(inspectAfter.count >= 2)
        for (path, data) in inspectBeforeShutdown + inspectAfter {
            for (ip, ua) in clients {
                #expect(data.range(of: Data(ip.utf8)) == nil, "\(ip) in \(path)")
                #expect(data.range(of: Data(ua.utf8)) == nil, "user agent in \(path)")
            }
            #expect(data.range(of: Data("agent-c0ffee".utf8)) == nil, "user-agent fragment in \(path)")
        }
    }

    @Test("A malformed configuration stops start-up with one clear line and exit status 1")
    func malformedConfig() async throws {
        let sandbox = try await EdgeSandbox(privacy: "ipv4_mask_bytes = \"two\"")
        defer { sandbox.remove() }
        for command in ["run", "check-config"] {
            let result = try await EdgeProcess.command([command, "-c", sandbox.configPath])
            #expect(result.status == 1)
            #expect(result.output == "tally-edge: privacy.ipv4_mask_bytes = \"two\" is not valid: expected a whole number from 0 to 4.\n")
        }
        #expect(!FileManager.default.fileExists(atPath: sandbox.bufferPath))
    }
}
