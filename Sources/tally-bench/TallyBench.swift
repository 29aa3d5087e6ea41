import ArgumentParser

/// Helpers for the benchmark scripts in `scripts/bench/`: synthetic hits, signed batches, and a client that
/// posts them to central. Not installed; the scripts build it.
@main
struct TallyBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tally-bench",
        abstract: "Synthetic workloads for Tally's benchmarks.",
        subcommands: [Generate.self, Batches.self, Post.self, Bare.self, Pipeline.self, Detect.self, Steadiness.self]
    )
}
