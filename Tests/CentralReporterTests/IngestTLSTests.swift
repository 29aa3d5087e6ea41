import CentralReporter
import Crypto
import Foundation
import TallyCore
import Testing

@Suite("Central ingest over mutual TLS", .serialized)
struct IngestTLSTests {
    @Test("Handshakes without a certificate, from another CA, with an expired certificate, or below TLS 1.3 fail; nothing is stored")
    func refusedHandshakes() async throws {
        let sandbox = try await CentralSandbox()
        let central = try await RunningCentral.start(sandbox)
        let file = try sandbox.write(try sandbox.batch(sequence: 1), "good.batch")
        let pki = sandbox.pki

        let noCertificate = try await central.post(file, certificate: nil, key: nil, sandbox: sandbox)
        #expect(noCertificate.curl != 0 && noCertificate.http == 0, "\(noCertificate)")
        let otherCA = try await central.post(file, certificate: pki + "/other-edge.crt", key: pki + "/other-edge.key", sandbox: sandbox)
        #expect(otherCA.curl != 0 && otherCA.http == 0, "\(otherCA)")
        let expired = try await central.post(file, certificate: pki + "/expired-edge-1.crt", key: pki + "/expired-edge-1.key", sandbox: sandbox)
        #expect(expired.curl != 0 && expired.http == 0, "\(expired)")
        let tls12 = try await central.post(file, certificate: pki + "/edge-edge-1.crt", key: pki + "/edge-edge-1.key", sandbox: sandbox, extra: ["--tls-max", "1.2"])
        #expect(tls12.curl != 0 && tls12.http == 0, "\(tls12)")
        // openssl s_client without a certificate: the server demands one and the handshake fails.
        // In TLS 1.3 the server's verdict on the client arrives after the client's Finished, so send a
        // request and read the answer: the alert (-quiet ignores the end of its input and reads until the
        // server closes).
        let (_, sClient) = try await run("/bin/sh", ["-c", "printf 'POST /v1/batches HTTP/1.1\\r\\nHost: localhost\\r\\nContent-Length: 0\\r\\n\\r\\n' | openssl s_client -quiet -connect 127.0.0.1:\(central.port) -CAfile \(pki)/central-ca.crt -tls1_3 2>&1"])
        #expect(sClient.contains("alert certificate required"), "\(sClient)")

        #expect(try await central.components.store.counts() == (0, 0))
        // The same batch with edge-1's certificate is accepted, so the refusals were about the client.
        let good = try await central.post(file, certificate: pki + "/edge-edge-1.crt", key: pki + "/edge-edge-1.key", sandbox: sandbox)
        #expect(good.http == 200, "\(good)")
        #expect(try await central.components.store.counts() == (3, 1))
        try await central.stop()
    }

    @Test("A valid edge-1 certificate sending a batch that claims edge-2 is refused")
    func impersonation() async throws {
        let sandbox = try await CentralSandbox()
        let central = try await RunningCentral.start(sandbox)
        let claimsEdge2 = try sandbox.write(try sandbox.batch(edge: "edge-2", sequence: 1), "edge2.batch")
        let result = try await central.post(claimsEdge2, certificate: sandbox.pki + "/edge-edge-1.crt", key: sandbox.pki + "/edge-edge-1.key", sandbox: sandbox)
        #expect(result.http == 403)
        #expect(result.body.contains("claims edge edge-2 but the certificate names edge-1"))
        #expect(try await central.components.store.counts() == (0, 0))
        try await central.stop()
    }

    @Test("Tampered, unregistered-key, truncated, oversized and malformed batches are refused with a clear status; nothing stored")
    func badBatches() async throws {
        let sandbox = try await CentralSandbox()
        let central = try await RunningCentral.start(sandbox)
        let good = try sandbox.batch(sequence: 7, hits: 5)
        var flipped = good
        flipped[flipped.count / 2] ^= 0x01
        var badHeader = good
        badHeader[12] = UInt8(ascii: "{")
        let cases: [(String, Data, Int, String)] = [
            ("flipped", flipped, 403, "signature does not verify"),
            ("unregistered key", try sandbox.batch(sequence: 8, key: Curve25519.Signing.PrivateKey()), 403, "signature does not verify"),
            ("truncated", good.prefix(good.count - 10), 400, "truncated"),
            ("oversized", try sandbox.batch(sequence: 9, hits: 3000, distinctTitles: true), 413, "larger than 65536 bytes"),
            ("malformed header", badHeader, 400, "header"),
            ("not a batch", Data("hello".utf8), 400, "does not start with TLYB"),
        ]
        for (name, bytes, status, message) in cases {
            let file = try sandbox.write(bytes, name + ".batch")
            let result = try await central.post(file, certificate: sandbox.pki + "/edge-edge-1.crt", key: sandbox.pki + "/edge-edge-1.key", sandbox: sandbox)
            #expect(result.http == status, "\(name): \(result)")
            #expect(result.body.contains(message), "\(name): \(result.body)")
            #expect(result.body.split(separator: "\n").count == 1)
        }
        #expect(try await central.components.store.counts() == (0, 0))
        #expect(try await central.components.store.auditEvents().filter { $0 == "edge_rejected" }.count == cases.count)
        try await central.stop()
    }

    @Test("A replayed batch is acknowledged as a duplicate and changes nothing; a conflicting one is refused")
    func replay() async throws {
        let sandbox = try await CentralSandbox()
        let central = try await RunningCentral.start(sandbox)
        let file = try sandbox.write(try sandbox.batch(sequence: 1, hits: 4), "one.batch")
        let certificate = sandbox.pki + "/edge-edge-1.crt", key = sandbox.pki + "/edge-edge-1.key"
        let first = try await central.post(file, certificate: certificate, key: key, sandbox: sandbox)
        #expect(first.http == 200 && first.body.contains(#""status":"stored""#), "\(first)")
        let again = try await central.post(file, certificate: certificate, key: key, sandbox: sandbox)
        #expect(again.http == 200 && again.body.contains(#""status":"duplicate""#), "\(again)")
        #expect(try await central.components.store.counts() == (4, 1))
        let conflicting = try sandbox.write(try sandbox.batch(sequence: 1, hits: 2), "conflict.batch")
        let refused = try await central.post(conflicting, certificate: certificate, key: key, sandbox: sandbox)
        #expect(refused.http == 409, "\(refused)")
        #expect(try await central.components.store.counts() == (4, 1))
        try await central.stop()
    }
}

@Suite("Central configuration")
struct CentralConfigTests {
    @Test("The example configuration parses")
    func example() throws {
        let config = try CentralConfig.load(path: Paths.packageRoot.appendingPathComponent("central/central.example.toml").path)
        #expect(config.ingest.port == 8443)
        #expect(config.edges.map(\.id) == ["edge-1"])
    }

    @Test("Bad configuration: one sentence naming key and value", arguments: [
        ("data_dir = \"/x\"", "[ingest] is required but missing"),
        ("data_dir = \"/x\"\n[ingest]\ncertificate_file = \"a\"\nkey_file = \"b\"\nedge_ca_file = \"c\"\n[[edges]]\nid = \"e\"\npublic_key = \"nope\"", "edges[0].public_key = \"nope\" is not valid"),
        ("data_dir = \"/x\"\n[ingest]\nlisten = \"8443\"\ncertificate_file = \"a\"\nkey_file = \"b\"\nedge_ca_file = \"c\"", "ingest.listen = \"8443\" is not valid"),
        ("data_dir = \"/x\"\n[ingest]\ncertificate_file = \"a\"\nkey_file = \"b\"\nedge_ca_file = \"c\"\nclient_ca = \"d\"", "ingest.client_ca is not a known setting"),
    ])
    func bad(_ toml: String, _ message: String) {
        do {
            _ = try CentralConfig.parse(toml: toml)
            Issue.record("accepted")
        } catch {
            #expect("\(error)".contains(message), "\(error)")
        }
    }

    @Test("A group-readable TLS key is refused at start-up")
    func keyPermissions() async throws {
        let sandbox = try await CentralSandbox()
        chmod(sandbox.pki + "/central.key", 0o640)
        await #expect(throws: CentralError.self) {
            _ = try await CentralComponents(config: try CentralConfig.parse(toml: sandbox.configTOML), logger: .init(label: "t"))
        }
    }
}
