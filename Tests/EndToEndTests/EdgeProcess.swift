import Foundation
import TallyTestSupport
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A real `tally-edge` process, started from the build folder, with its standard error in a file.
final class EdgeProcess: @unchecked Sendable {
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// A binary built beside the test bundle (`swift build --build-tests` builds them all).
    static func binary(_ name: String) -> String {
        let besideTests = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
            .deletingLastPathComponent().appendingPathComponent(name).path
        if FileManager.default.isExecutableFile(atPath: besideTests) { return besideTests }
        return packageRoot.appendingPathComponent(".build/debug/\(name)").path
    }

    static let executable = binary("tally-edge")

    let process = Process()
    let logPath: String
    private(set) var port = 0

    init(arguments: [String], logPath: String, executable: String = EdgeProcess.executable) {
        self.logPath = logPath
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
    }

    /// A test that stops early (a failed requirement) leaves no daemon behind.
    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    /// Starts `tally-edge run` (or another Tally binary's `run`) and waits until it logs the port it listens on.
    static func run(config: String, logPath: String, executable: String = EdgeProcess.executable) async throws -> EdgeProcess {
        let edge = EdgeProcess(arguments: ["run", "-c", config], logPath: logPath, executable: executable)
        try edge.start()
        try await offThread { try edge.waitForPort() }
        return edge
    }

    func start() throws {
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        log.seekToEndOfFile()
        process.standardError = log
        process.standardOutput = log
        try process.run()
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    private func waitForPort() throws {
        let deadline = Date().addingTimeInterval(120)  // a guard against a hung run, not a timing assumption
        let changes = FileChanges(under: (logPath as NSString).deletingLastPathComponent)
        while Date() < deadline {
            if let range = log.range(of: #"address=127\.0\.0\.1:(\d+)"#, options: .regularExpression) {
                port = Int(log[range].split(separator: ":").last!)!
                return
            }
            guard process.isRunning else { throw EdgeProcessError.exited(log) }
            changes.waitForNext()
        }
        throw EdgeProcessError.timeout(log)
    }

    func signal(_ signal: Int32) { kill(process.processIdentifier, signal) }

    /// Waits for the process to exit and returns its status (nil if it has not after `timeout`, a guard
    /// against a hung process).
    func waitForExit(timeout: TimeInterval = 120) async -> Int32? {
        let process = process
        return try? await offThread {
            let exited = DispatchSemaphore(value: 0)
            DispatchQueue.global().async {
                process.waitUntilExit()
                exited.signal()
            }
            guard exited.wait(timeout: .now() + timeout) == .success else { return nil }
            return process.terminationStatus
        }
    }

    /// Runs a one-shot command (`check-config`, `status`) and returns its exit status and output.
    static func command(_ arguments: [String], executable: String = EdgeProcess.executable) async throws -> (status: Int32, output: String) {
        let run = try await offThread { try runToCompletion(executable, arguments) }
        return (run.status, run.text)
    }

    /// A GET with headers; the status code, or nil when the connection failed.
    func get(_ path: String, headers: [String: String] = [:], session: URLSession) async -> Int? {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
        request.timeoutInterval = 10
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        guard let (_, response) = try? await session.data(for: request) else { return nil }
        return (response as? HTTPURLResponse)?.statusCode
    }
}

enum EdgeProcessError: Error {
    case exited(String)
    case timeout(String)
}

/// A scratch directory with an edge configuration in it.
struct EdgeSandbox {
    let path: String
    var configPath: String { path + "/edge.toml" }
    var dataDir: String { path + "/data" }
    var bufferPath: String { dataDir + "/buffer.sqlite" }

    init(extra: String = "", privacy: String = "") async throws {
        path = NSTemporaryDirectory() + "tally-e2e-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let geo = path + "/geo.mmdb"
        try await offThread {
            let perl = Process()
            perl.executableURL = URL(fileURLWithPath: "/usr/bin/perl")
            perl.arguments = [EdgeProcess.packageRoot.appendingPathComponent("scripts/make-test-geoip.pl").path, geo]
            try perl.run()
            perl.waitUntilExit()
        }
        let toml = """
            edge_id = "e2e-edge"
            listen = "127.0.0.1:0"
            data_dir = "\(dataDir)"
            geoip_database = "\(geo)"
            trusted_proxies = ["127.0.0.1"]
            \(extra)

            [privacy]
            \(privacy)

            [[sites]]
            id = 1
            domains = ["example.com"]
            """
        try toml.write(toFile: configPath, atomically: true, encoding: .utf8)
    }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}
