import ArgumentParser
import Foundation
import Synchronization
import TallyCore

/// Posts every batch of a directory to central over mutual TLS from several connections at once and times
/// it, from the first request to the last acknowledgement.
struct Post: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Post batch files to central and print the time taken.")

    @Option(help: "Directory of batch-NNNNNN.tlyb files.") var dir: String
    @Option(help: "Central's batch URL.") var url: String
    @Option(help: "The edge's client certificate.") var certificate: String
    @Option(help: "The edge's client key.") var key: String
    @Option(help: "The CA that signed central's certificate.") var ca: String
    @Option(help: "Concurrent connections.") var connections = 2

    func run() async throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".tlyb") }.sorted()
        let batches = try names.map { try Data(contentsOf: URL(fileURLWithPath: dir + "/" + $0)) }
        let next = NextIndex()
        let started = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<connections {
                let curl = try Curl()
                group.addTask {
                    while let index = next.take(below: batches.count) {
                        let (status, body) = try await curl.post(
                            url: url, body: batches[index], certificateFile: certificate, keyFile: key, caFile: ca, timeoutSeconds: 60)
                        guard status == 200 else { throw ValidationError("\(names[index]) was answered \(status): \(body)") }
                    }
                }
            }
            try await group.waitForAll()
        }
        let elapsed = started.duration(to: .now)
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        print(String(format: "%.3f", seconds))
    }
}

/// Hands out batch indices to the connections.
final class NextIndex: Sendable {
    private let value = Mutex(0)
    func take(below limit: Int) -> Int? {
        value.withLock { index in
            guard index < limit else { return nil }
            defer { index += 1 }
            return index
        }
    }
}
