import ArgumentParser
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// How steadily the machine runs a fixed piece of work: one thread repeats the same memory-bound walk
/// (random reads over 4 MiB, beyond the per-core caches) and times each repetition. Repetitions during
/// which the thread was switched out are left out, so what remains is how fast the processor itself ran
/// it. On a quiet machine with its own cores the spread is small; on a shared virtual machine the same
/// work takes several times longer now and then, and every latency tail measured there inherits it.
/// `scripts/bench/edge.sh` runs it before the servers start and prints it beside the latency figures.
struct Steadiness: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Time a fixed memory-bound piece of work many times and print the spread (µs).")

    @Option(help: "How long to measure, in seconds.") var seconds: Double = 3
    @Option(help: "Reads per repetition.") var reads: Int = 20_000

    func validate() throws {
        guard seconds > 0, seconds <= 600 else {
            throw ValidationError("--seconds is \(seconds); give a duration of more than 0 and at most 600 seconds.")
        }
        guard reads > 0, reads <= 100_000_000 else {
            throw ValidationError("--reads is \(reads); give a count from 1 to 100,000,000.")
        }
    }

    func run() throws {
        let size = 1 << 20
        var table = [UInt32](repeating: 0, count: size)
        for index in table.indices { table[index] = UInt32(truncatingIfNeeded: index &* 2_654_435_761) }
        var timings: [Double] = []
        var state: UInt32 = 1
        var skipped = 0
        let end = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        table.withUnsafeBufferPointer { table in
            while ContinuousClock.now < end {
                let switchesBefore = Self.contextSwitches()
                let started = ContinuousClock.now
                for step in 0..<reads {
                    state = table[Int((state ^ UInt32(truncatingIfNeeded: step)) & UInt32(size - 1))] &+ state &* 31
                }
                let took = ContinuousClock.now - started
                if Self.contextSwitches() == switchesBefore {
                    timings.append(Double(took.components.attoseconds) / 1e12 + Double(took.components.seconds) * 1e6)
                } else {
                    skipped += 1
                }
            }
        }
        guard !timings.isEmpty else {
            throw ValidationError("Every repetition was interrupted by a context switch; run it on a less busy machine.")
        }
        timings.sort()
        func at(_ fraction: Double) -> Double { timings[min(timings.count - 1, Int(Double(timings.count) * fraction))] }
        let median = at(0.5)
        print(String(
            format: "repetitions %d (%d left out for a context switch), µs: p50 %.1f p90 %.1f p99 %.1f p99.9 %.1f max %.1f; p99/p50 %.1f (checksum %u)",
            timings.count, skipped, median, at(0.9), at(0.99), at(0.999), timings[timings.count - 1], at(0.99) / median, state))
    }

    /// Voluntary and involuntary context switches of the calling thread so far.
    private static func contextSwitches() -> Int {
        var usage = rusage()
        // RUSAGE_THREAD (1, linux/resource.h): Swift's Glibc module leaves the GNU extension out.
        getrusage(__rusage_who_t(1), &usage)
        return usage.ru_nvcsw + usage.ru_nivcsw
    }
}
