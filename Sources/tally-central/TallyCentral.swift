import ArgumentParser

@main
struct TallyCentral: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tally-central",
        abstract: "Receives signed batches from Tally edges and stores them exactly once.",
        subcommands: [Run.self, CheckConfig.self, Status.self, Report.self, Aggregate.self, Purge.self, Token.self, Audit.self, Privacy.self, SendReports.self, MigrateStore.self]
    )
}
