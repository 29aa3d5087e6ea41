import ArgumentParser
import EdgeCollector
import Foundation

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the buffer's depth, the oldest hit's age and the drops by reason.")

    @OptionGroup var options: ConfigOptions

    func run() async throws {
        let config = try options.load()
        let now = Date()
        let status: BufferStatus
        let shipping: ShippingStatus
        do {
            status = try BufferStatus.read(bufferAt: config.bufferPath, now: now)
            shipping = try ShippingStatus.read(bufferAt: config.bufferPath)
        } catch {
            fail(error)
        }
        print("Edge \(config.edgeID), buffer \(config.bufferPath)")
        print("Buffered hits:   \(status.depth) (\(status.payloadBytes) bytes of \(config.buffer.maxBufferBytes))")
        if let age = status.oldestAge(now: now) {
            print("Oldest hit age:  \(Int(age.rounded())) s")
        } else {
            print("Oldest hit age:  - (buffer empty)")
        }
        if config.shipping == nil {
            print("Shipping:        not configured")
        } else {
            let last = shipping.lastAcknowledgedAt.map { "batch \(shipping.lastAcknowledgedSequence ?? 0), \(Int(now.timeIntervalSince($0).rounded())) s ago" } ?? "none yet"
            print("Last shipment:   \(last)")
            print("Shipped:         \(shipping.shippedHits) hits in \(shipping.shippedBatches) batches")
            print("Backlog:         \(shipping.unassignedHits) hits not yet batched, \(shipping.pendingBatches) batches awaiting acknowledgement")
            print("Quarantined:     \(shipping.quarantinedBatches) batches, \(shipping.quarantinedRecords) records")
            print("Batch stream:    \(shipping.stream.isEmpty ? "(unnamed)" : shipping.stream)")
            print("Send failures:   \(shipping.failures)")
        }
        if status.drops.isEmpty {
            print("Drops:           none")
        } else {
            print("Drops by reason:")
            for (reason, count) in status.drops.sorted(by: { $0.key < $1.key }) {
                print("  \(reason.rawValue.padding(toLength: 22, withPad: " ", startingAt: 0)) \(count)")
            }
        }
    }
}
