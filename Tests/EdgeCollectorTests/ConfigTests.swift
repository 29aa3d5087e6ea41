import EdgeCollector
import Foundation
import Testing

@Suite("Configuration")
struct ConfigTests {
    @Test("The example configuration is valid and has the documented defaults")
    func example() throws {
        let config = try EdgeConfig.load(path: Fixtures.packageRoot.appendingPathComponent("edge/edge.example.toml").path)
        #expect(config.edgeID == "edge-1")
        #expect(config.listenPort == 8081)
        #expect(config.globalPolicy == PrivacyPolicy())
        #expect(config.sites.map(\.id) == [1])
        #expect(config.buffer.ack == .durable)
        #expect(config.buffer.commitDelayMilliseconds == BufferSettings().commitDelayMilliseconds)
    }

    @Test("Per-site overrides change only their keys")
    func overrides() throws {
        let config = try Fixtures.config(dataDir: "/tmp/x", privacy: "geo = \"country\"", site1Privacy: "dnt = \"count_only\"")
        #expect(config.site(id: 1)?.policy.dnt == .countOnly)
        #expect(config.site(id: 1)?.policy.geo == .country)
        #expect(config.site(id: 2)?.policy.dnt == .drop)
        #expect(config.site(id: 1)?.policy.digest != config.site(id: 2)?.policy.digest)
    }

    struct Bad: Sendable, CustomTestStringConvertible {
        var toml: String
        var message: String
        var testDescription: String { message }
    }

    static let base = "edge_id = \"e\"\ndata_dir = \"/tmp/x\"\n"
    static let site = "\n[[sites]]\nid = 1\n"

    static let bad: [Bad] = [
        Bad(toml: "edge_id = \"e\"\n[[sites]]\nid = 1", message: "data_dir is required but missing"),
        Bad(toml: base, message: "[[sites]] is required but missing"),
        Bad(toml: base + "listen = \"localhost\"" + site, message: "listen = \"localhost\" is not valid: expected host:port"),
        Bad(toml: base + "[privacy]\nipv4_mask_bytes = 7" + site, message: "privacy.ipv4_mask_bytes = 7 is not valid: expected a whole number from 0 to 4"),
        Bad(toml: base + "[privacy]\ndnt = \"maybe\"" + site, message: "privacy.dnt = \"maybe\" is not valid: expected one of \"drop\", \"count_only\", \"ignore\""),
        Bad(toml: base + "[privacy]\nexcluded_ips = [\"10.0.0.0/33\"]" + site, message: "privacy.excluded_ips = \"10.0.0.0/33\" is not valid"),
        Bad(toml: base + "[privacy]\nredact_patterns = [\"(unclosed\"]" + site, message: "privacy.redact_patterns = \"(unclosed\" is not valid"),
        Bad(toml: base + "[privacy]\ndnt_mode = \"drop\"" + site, message: "privacy.dnt_mode is not a known setting"),
        Bad(toml: base + site + "time_zone = \"Mars/Olympus\"", message: "sites[0].time_zone = \"Mars/Olympus\" is not valid"),
        Bad(toml: base + site + "[sites.privacy]\ngeo = \"street\"", message: "sites[0].privacy.geo = \"street\" is not valid"),
        Bad(toml: base + site + "\n[[sites]]\nid = 1", message: "sites[1].id = 1 is not valid: expected a site id not used by another site"),
        Bad(toml: base + "[buffer]\nack = \"later\"" + site, message: "buffer.ack = \"later\" is not valid"),
        Bad(toml: base + "[buffer]\ncommit_delay_ms = 500" + site, message: "buffer.commit_delay_ms = 500 is not valid: expected a whole number from 0 to 100"),
        Bad(toml: base + "[shipping]\ncentral_url = \"http://c\"" + site, message: "shipping.central_url = \"http://c\" is not valid: expected an https:// URL"),
        Bad(toml: base + "edge_id = \"x\"", message: "is not valid TOML"),
        Bad(toml: "edge_id = \"has space\"\ndata_dir = \"/x\"" + site, message: "edge_id = \"has space\" is not valid"),
    ]

    @Test("Malformed configuration: one sentence naming the key and value", arguments: bad)
    func malformed(_ c: Bad) {
        do {
            _ = try EdgeConfig.parse(toml: c.toml)
            Issue.record("accepted: \(c.toml)")
        } catch {
            let message = "\(error)"
            #expect(message.contains(c.message), "\(message)")
            #expect(!message.contains("\n"))
        }
    }

    @Test("check-config warns about policies weaker than common guidance and lists the data inventory")
    func warnings() throws {
        let config = try Fixtures.config(
            dataDir: "/tmp/x",
            privacy: "ipv4_mask_bytes = 1\ndnt = \"ignore\"\nuser_id = \"keep\"\nstore_masked_ip = true")
        let report = config.policyReport()
        #expect(report.contains("WARNING: ipv4_mask_bytes = 1 keeps more than half of an IPv4 address"))
        #expect(report.contains("WARNING: dnt = \"ignore\" disregards"))
        #expect(report.contains("WARNING: user_id = \"keep\" stores user ids in clear"))
        #expect(report.contains("masked_ip"))
        #expect(report.contains("IPv4 first 3 byte(s)"))
        #expect(report.contains("Never stored: full IP address, raw user agent, salts"))
        let clean = try Fixtures.config(dataDir: "/tmp/x").policyReport()
        #expect(!clean.contains("WARNING"))
        #expect(!clean.contains("IPv4 first"))
    }
}
