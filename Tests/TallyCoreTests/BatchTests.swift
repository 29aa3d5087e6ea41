import Crypto
import Foundation
import TallyCore
import TallyTestSupport
import Testing

@Suite("Batch format")
struct BatchTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let vectorPath = root.appendingPathComponent("Tests/TallyCoreTests/Fixtures/batch-v1.hex").path
    static let vectorPublicKey = "ebVWLo/mVPlAeLES6KmLp5AfhTrmlb7X4OORC60ElmQ="

    static func vectorBytes() throws -> Data {
        let hex = try String(contentsOfFile: vectorPath, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        var data = Data()
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            data.append(UInt8(hex[index..<next], radix: 16)!)
            index = next
        }
        return data
    }

    @Test("The documented test vector decodes, verifies with its public key and holds the documented hits")
    func vector() throws {
        #expect(BatchVector.privateKey.publicKey.rawRepresentation.base64EncodedString() == Self.vectorPublicKey)
        let batch = try ReceivedBatch(bytes: try Self.vectorBytes())
        #expect(batch.header.edgeID == "edge-1")
        #expect(batch.header.sequence == 42)
        #expect(batch.header.hitCount == 2)
        try batch.verify(publicKey: SigningKeyFile.publicKey(base64: Self.vectorPublicKey)!)
        #expect(try batch.hits() == BatchVector.hits)
    }

    @Test("A third party (Python's cryptography and zlib) verifies the vector and a fresh batch")
    func thirdParty() throws {
        let directory = NSTemporaryDirectory() + "tally-batch-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let key = Curve25519.Signing.PrivateKey()
        let fresh = try BatchFormat.encode(hits: BatchVector.hits, header: BatchVector.header, key: key)
        try fresh.write(to: URL(fileURLWithPath: directory + "/fresh.batch"))
        var tampered = fresh
        tampered[tampered.count - 70] ^= 0x01
        try tampered.write(to: URL(fileURLWithPath: directory + "/tampered.batch"))

        func python(_ file: String, _ publicKey: String) throws -> (Int32, String) {
            let run = try runToCompletion("/usr/bin/env", ["python3", Self.root.appendingPathComponent("scripts/verify-batch.py").path, file, publicKey])
            return (run.status, run.text)
        }
        let vector = try python(Self.vectorPath, Self.vectorPublicKey)
        #expect(vector.0 == 0, "\(vector.1)")
        #expect(vector.1.contains(#""sequence": 42"#))
        let publicKey = key.publicKey.rawRepresentation.base64EncodedString()
        #expect(try python(directory + "/fresh.batch", publicKey).0 == 0)
        let bad = try python(directory + "/tampered.batch", publicKey)
        #expect(bad.0 == 1 && bad.1.contains("signature does not verify"))
    }

    @Test("Encode and decode round-trip, and the signature binds the sender's key")
    func roundTrip() throws {
        let key = Curve25519.Signing.PrivateKey()
        let bytes = try BatchFormat.encode(hits: BatchVector.hits, header: BatchVector.header, key: key)
        let batch = try ReceivedBatch(bytes: bytes)
        try batch.verify(publicKey: key.publicKey)
        #expect(try batch.hits() == BatchVector.hits)
        #expect(throws: BatchError.badSignature) { try batch.verify(publicKey: Curve25519.Signing.PrivateKey().publicKey) }
    }

    @Test("Every flipped byte is caught: by the framing, the header checks or the signature")
    func flippedBytes() throws {
        let key = Curve25519.Signing.PrivateKey()
        let bytes = try BatchFormat.encode(hits: BatchVector.hits, header: BatchVector.header, key: key)
        for index in bytes.indices {
            var tampered = bytes
            tampered[index] ^= 0x20
            let accepted = (try? ReceivedBatch(bytes: tampered)).flatMap { batch in
                (try? batch.verify(publicKey: key.publicKey)).map { batch }
            }
            #expect(accepted == nil, "flipping byte \(index) went unnoticed")
        }
    }

    /// A batch with a header that lies, properly signed: the reader must still refuse it.
    static func signed(_ header: BatchHeader, body: Data, key: Curve25519.Signing.PrivateKey) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let headerBytes = try encoder.encode(header)
        var out = Data("TLYB".utf8)
        out.append(1)
        out.append(contentsOf: [UInt8(headerBytes.count >> 8), UInt8(headerBytes.count & 0xff)])
        out.append(headerBytes)
        out.append(contentsOf: withUnsafeBytes(of: UInt32(body.count).bigEndian) { Array($0) })
        out.append(body)
        out.append(try key.signature(for: out))
        return out
    }

    @Test("Malformed, truncated, oversized and lying batches are refused with a typed error")
    func malformed() throws {
        let key = Curve25519.Signing.PrivateKey()
        let good = try BatchFormat.encode(hits: BatchVector.hits, header: BatchVector.header, key: key)
        var limits = BatchLimits()
        limits.maxBatchBytes = 200

        func reason(_ bytes: Data, limits: BatchLimits = BatchLimits()) -> String {
            do {
                let batch = try ReceivedBatch(bytes: bytes, limits: limits)
                try batch.verify(publicKey: key.publicKey)
                _ = try batch.hits()
                return "accepted"
            } catch {
                return error.description
            }
        }
        #expect(reason(good.prefix(good.count - 1)).contains("truncated"))
        #expect(reason(good.prefix(3)).contains("truncated"))
        #expect(reason(Data()).contains("truncated"))
        #expect(reason(good + Data([0])).contains("unexpected bytes after the signature"))
        #expect(reason(good, limits: limits).contains("too large"))
        var wrongMagic = good
        wrongMagic[0] = UInt8(ascii: "X")
        #expect(reason(wrongMagic).contains("does not start with TLYB"))
        var version2 = good
        version2[4] = 2
        #expect(reason(version2).contains("format version 2"))

        // A forged 10 MB zero body compresses to a few KB; a header declaring 100 bytes must stop the inflate.
        let bomb = try Self.signed(
            BatchHeader(edgeID: "edge-1", sequence: 1, createdAt: 1, hitCount: 1, policyDigest: String(repeating: "a", count: 64), bodyBytes: 100),
            body: try zlibOf(Data(count: 10_000_000)), key: key)
        #expect(reason(bomb).contains("expands beyond its declared size"))

        let hits = try BatchVector.hits.map { try $0.encodedJSON() + Data([0x0a]) }.reduce(Data(), +)
        let lyingCount = try Self.signed(
            BatchHeader(edgeID: "edge-1", sequence: 1, createdAt: 1, hitCount: 3, policyDigest: String(repeating: "a", count: 64), bodyBytes: hits.count),
            body: try zlibOf(hits), key: key)
        #expect(reason(lyingCount).contains("holds 2 hits, not the declared 3"))

        let badEdge = try Self.signed(
            BatchHeader(edgeID: "../etc", sequence: 1, createdAt: 1, hitCount: 2, policyDigest: String(repeating: "a", count: 64), bodyBytes: hits.count),
            body: try zlibOf(hits), key: key)
        #expect(reason(badEdge).contains("edge_id \"../etc\" is not an edge id"))

        let zeroSequence = try Self.signed(
            BatchHeader(edgeID: "edge-1", sequence: 0, createdAt: 1, hitCount: 2, policyDigest: String(repeating: "a", count: 64), bodyBytes: hits.count),
            body: try zlibOf(hits), key: key)
        #expect(reason(zeroSequence).contains("sequence 0 is not positive"))

        let notJSON = try Self.signed(
            BatchHeader(edgeID: "edge-1", sequence: 1, createdAt: 1, hitCount: 1, policyDigest: String(repeating: "a", count: 64), bodyBytes: 9),
            body: try zlibOf(Data("not json\n".utf8)), key: key)
        #expect(reason(notJSON).contains("hit 1 is not a valid record"))
    }

    /// zlib through a batch of our own, to build forged bodies.
    func zlibOf(_ data: Data) throws -> Data {
        try runToCompletion(
            "/usr/bin/env", ["python3", "-c", "import sys, zlib; sys.stdout.buffer.write(zlib.compress(sys.stdin.buffer.read()))"],
            input: data, withErrors: false
        ).output
    }
}
