import ArgumentParser

@main
struct TallyEdge: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tally-edge",
        abstract: "Privacy-first collector for Matomo tracking requests.",
        subcommands: [Run.self, CheckConfig.self, Explain.self, Status.self, Keygen.self]
    )
}
