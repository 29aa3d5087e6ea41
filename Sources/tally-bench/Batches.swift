import ArgumentParser
import Crypto
import Foundation
import TallyCore

/// Writes signed, compressed batches of synthetic hits as an edge would ship them, plus the same hits as
/// canonical JSON Lines for the plain-SQLite baseline.
struct Batches: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Write signed batches of synthetic hits and the same hits as JSON Lines.")

    @Option(help: "Directory for batch-NNNNNN.tlyb and hits.jsonl.") var out: String
    @Option(help: "How many hits, about.") var hits = 200_000
    @Option(help: "Hits per batch.") var batchSize = 1000
    @Option(help: "The edge's Ed25519 signing key (tally-edge keygen).") var signingKey: String
    @Option(help: "The edge id the batches claim.") var edgeID = "edge-1"
    @Option(help: "The UTC day of the hits, YYYY-MM-DD.") var day = "2026-11-22"
    @Option(help: "The first sequence number.") var firstSequence: Int64 = 1

    func run() throws {
        guard let date = LocalDay(day) else { throw ValidationError("--day \(day) is not a date; use YYYY-MM-DD.") }
        let key = try SigningKeyFile.load(path: signingKey)
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        var generator = SyntheticHits(seed: 7)
        let dayStart = date.bounds(in: TimeZone(identifier: "UTC")!).start.millisecondsSince1970
        var all: [Hit] = []
        for site in 1...5 { all += generator.day(site: site, dayStart: dayStart, count: hits / 5) }
        all.sort { $0.timestamp < $1.timestamp }

        var lines = Data()
        var sequence = firstSequence
        for chunk in stride(from: 0, to: all.count, by: batchSize) {
            let batch = Array(all[chunk..<min(chunk + batchSize, all.count)])
            let header = BatchHeader(edgeID: edgeID, sequence: sequence, createdAt: dayStart, hitCount: batch.count,
                                     policyDigest: String(repeating: "0", count: 64), bodyBytes: 0)
            let bytes = try BatchFormat.encode(hits: batch, header: header, key: key)
            try bytes.write(to: URL(fileURLWithPath: out + String(format: "/batch-%06d.tlyb", sequence)))
            for hit in batch {
                lines.append(try hit.encodedJSON())
                lines.append(UInt8(ascii: "\n"))
            }
            sequence += 1
        }
        try lines.write(to: URL(fileURLWithPath: out + "/hits.jsonl"))
        print("\(all.count) hits in \(sequence - firstSequence) batches of up to \(batchSize).")
    }
}
