import ArgumentParser
import CentralReporter
import Foundation

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show each registered edge's last batch sequence and last contact, and the store's size.")

    @OptionGroup var options: ConfigOptions

    func run() async throws {
        let config = options.load()
        let store = await openStore(config)
        let now = Date()
        let contacts = try await store.edgeContacts()
        let (hits, batches) = try await store.counts()
        print("Store \(config.store.describe(sqlitePath: config.storePath)): \(hits) hits in \(batches) batches")
        let formatter = ISO8601DateFormatter()
        let known = Set(config.edges.map(\.id))
        for edge in config.edges.map(\.id) + Set(contacts.map(\.edgeID)).subtracting(known).sorted() {
            let streams = contacts.filter { $0.edgeID == edge }
            let registration = known.contains(edge) ? "" : " (no longer registered)"
            guard !streams.isEmpty else {
                print("Edge \(edge)\(registration): no batch received yet")
                continue
            }
            print("Edge \(edge)\(registration):")
            // Oldest stream first: a new stream means the edge's buffer was replaced.
            for stream in streams {
                let age = Int(now.timeIntervalSince(stream.lastContact).rounded())
                print("  stream \(stream.stream.isEmpty ? "(unnamed)" : stream.stream): last sequence \(stream.lastSequence), "
                    + "\(stream.batches) batches, last contact \(formatter.string(from: stream.lastContact)) (\(age) s ago)")
            }
        }
    }
}
