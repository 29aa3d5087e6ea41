import ArgumentParser
import Foundation
import TallyCore

struct Keygen: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create the Ed25519 key that signs this edge's batches (mode 0600) and print its public key.",
        discussion: "Register the printed public key for this edge in central's configuration.")

    @Option(help: "Where to write the private key; the file must not exist yet.")
    var out: String

    func validate() throws {
        if FileManager.default.fileExists(atPath: out) {
            throw ValidationError("--out \(out) already exists; remove it first or choose another path.")
        }
    }

    func run() async throws {
        do {
            let key = try SigningKeyFile.generate(at: out)
            print(key.publicKey.rawRepresentation.base64EncodedString())
        } catch {
            fail(error)
        }
    }
}
