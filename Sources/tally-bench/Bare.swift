import ArgumentParser
import Hummingbird

/// A Hummingbird server whose collection routes do nothing but answer 204: the HTTP stack Tally's edge is
/// built on, measured under the same load as the edge, shows how much of the edge's time is the framework's.
struct Bare: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Serve 204 on /matomo.php with nothing behind it.")

    @Option(help: "Port on 127.0.0.1.") var port: Int

    func run() async throws {
        let router = Router()
        router.get("/matomo.php") { _, _ in Response(status: .noContent) }
        router.post("/matomo.php") { _, _ in Response(status: .noContent) }
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: nil))
        try await app.runService()
    }
}
