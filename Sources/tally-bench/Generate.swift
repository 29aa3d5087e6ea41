import ArgumentParser
import CentralReporter
import Foundation
import TallyCore

/// Fills a central store with synthetic hits through the same path batches take (`CentralStore.store`),
/// leaving every day dirty, as after ingest: the starting point of the aggregation benchmark.
struct Generate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Store synthetic hits in a central database, spread over days and sites.")

    @Option(help: "The central.sqlite to create or extend.") var store: String
    @Option(help: "How many hits, about.") var hits = 10_000_000
    @Option(help: "Over how many UTC days, ending with --last-day.") var days = 90
    @Option(help: "Over how many sites (ids 1…N).") var sites = 5
    @Option(help: "The last day, YYYY-MM-DD.") var lastDay = "2026-11-22"
    @Option(help: "Hits per stored batch.") var batchSize = 10_000

    func run() async throws {
        guard let last = LocalDay(lastDay) else { throw ValidationError("--last-day \(lastDay) is not a date; use YYYY-MM-DD.") }
        let utc = TimeZone(identifier: "UTC")!
        let central = try SQLiteCentralStore.open(path: store)
        var generator = SyntheticHits(seed: 42)
        let perSiteDay = hits / (days * sites)
        var sequence: Int64 = 0
        var stored = 0
        let started = ContinuousClock.now
        for offset in stride(from: days - 1, through: 0, by: -1) {
            let dayStart = last.adding(days: -offset).bounds(in: utc).start.millisecondsSince1970
            for site in 1...sites {
                let dayHits = generator.day(site: site, dayStart: dayStart, count: perSiteDay)
                for chunk in stride(from: 0, to: dayHits.count, by: batchSize) {
                    let batch = Array(dayHits[chunk..<min(chunk + batchSize, dayHits.count)])
                    sequence += 1
                    let header = BatchHeader(edgeID: "bench", sequence: sequence, createdAt: dayStart, hitCount: batch.count,
                                             policyDigest: String(repeating: "0", count: 64), bodyBytes: 0)
                    _ = try await central.store(header, hits: batch, contentSHA256: "\(sequence)", receivedAt: Date())
                    stored += batch.count
                }
            }
            FileHandle.standardError.write(Data("\rStored \(stored) hits …".utf8))
        }
        FileHandle.standardError.write(Data("\n".utf8))
        print("Stored \(stored) hits over \(days) days and \(sites) sites in \(started.duration(to: .now)).")
    }
}
