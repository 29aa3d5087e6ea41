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
        do {
            status = try BufferStatus.read(bufferAt: config.bufferPath, now: now)
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
        print("Last shipment:   \(config.shipping == nil ? "shipping not configured" : "none yet")")
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
