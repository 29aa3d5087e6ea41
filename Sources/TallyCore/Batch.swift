import Crypto
import Foundation

/// The header of a batch: who sent it, its place in the edge's sequence, and what it holds.
public struct BatchHeader: Codable, Sendable, Equatable {
    public var edgeID: String
    /// The numbering the sequence belongs to: 16 lower-case hex digits chosen at random when an edge's
    /// buffer is created, or empty for the one unnamed stream of buffers made before streams existed.
    /// A buffer lost and replaced starts a new stream, so its numbers never collide with the old ones.
    public var stream: String
    /// 1, 2, 3, … per stream, persisted by the edge; central stores each (edge, stream, sequence) once.
    public var sequence: Int64
    /// Milliseconds since 1970 UTC.
    public var createdAt: Int64
    public var hitCount: Int
    /// Hex SHA-256 of the effective policy every hit in the batch was collected under.
    public var policyDigest: String
    /// Length of the uncompressed body, which the reader checks before trusting the inflate.
    public var bodyBytes: Int
    /// `zlib`: the body is RFC 1950 zlib over JSON Lines.
    public var compression: String

    public init(
        edgeID: String, stream: String = "", sequence: Int64, createdAt: Int64, hitCount: Int, policyDigest: String, bodyBytes: Int,
        compression: String = "zlib"
    ) {
        self.edgeID = edgeID
        self.stream = stream
        self.sequence = sequence
        self.createdAt = createdAt
        self.hitCount = hitCount
        self.policyDigest = policyDigest
        self.bodyBytes = bodyBytes
        self.compression = compression
    }

    enum CodingKeys: String, CodingKey {
        case edgeID = "edge_id", stream, sequence, createdAt = "created_at", hitCount = "hit_count"
        case policyDigest = "policy_digest", bodyBytes = "body_bytes", compression
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        edgeID = try c.decode(String.self, forKey: .edgeID)
        stream = try c.decodeIfPresent(String.self, forKey: .stream) ?? ""
        sequence = try c.decode(Int64.self, forKey: .sequence)
        createdAt = try c.decode(Int64.self, forKey: .createdAt)
        hitCount = try c.decode(Int.self, forKey: .hitCount)
        policyDigest = try c.decode(String.self, forKey: .policyDigest)
        bodyBytes = try c.decode(Int.self, forKey: .bodyBytes)
        compression = try c.decode(String.self, forKey: .compression)
    }

    /// The unnamed stream is written as no `stream` key at all, so its headers are byte for byte those of
    /// buffers made before streams existed.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(edgeID, forKey: .edgeID)
        if !stream.isEmpty { try c.encode(stream, forKey: .stream) }
        try c.encode(sequence, forKey: .sequence)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encode(hitCount, forKey: .hitCount)
        try c.encode(policyDigest, forKey: .policyDigest)
        try c.encode(bodyBytes, forKey: .bodyBytes)
        try c.encode(compression, forKey: .compression)
    }

    /// A fresh stream id: 64 random bits as 16 lower-case hex digits.
    public static func newStream() -> String {
        var generator = SystemRandomNumberGenerator()
        let value = generator.next() as UInt64
        let hex = String(value, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    /// Whether `text` is a stream id a header may carry.
    public static func isValidStream(_ text: String) -> Bool {
        text.isEmpty || (text.utf8.count == 16 && text.utf8.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains($0) })
    }
}

/// Bounds a reader enforces before it allocates or inflates anything.
public struct BatchLimits: Sendable, Equatable {
    public var maxBatchBytes = 32 << 20
    public var maxBodyBytes = 128 << 20
    public var maxHits = 100_000

    public init() {}
}

/// The batch wire format, version 1 (docs/batch-format.md):
///
///     "TLYB" | version (1 byte) | header length H (u16 BE) | header (H bytes, JSON)
///            | body length C (u32 BE) | body (C bytes, zlib of JSON Lines) | Ed25519 signature (64 bytes)
///
/// The signature covers every byte before it, exactly as sent.
public enum BatchFormat {
    public static let magic: [UInt8] = Array("TLYB".utf8)
    public static let version: UInt8 = 1
    public static let signatureBytes = 64
    static let maxHeaderBytes = 4096

    /// Builds and signs a batch of hits.
    public static func encode(hits: [Hit], header: BatchHeader, key: Curve25519.Signing.PrivateKey) throws -> Data {
        var body = Data()
        for hit in hits {
            body.append(try hit.encodedJSON())
            body.append(UInt8(ascii: "\n"))
        }
        var header = header
        header.hitCount = hits.count
        header.bodyBytes = body.count
        header.compression = "zlib"
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let headerBytes = try encoder.encode(header)
        let compressed = try Zlib.compress(body)

        var out = Data(magic)
        out.append(version)
        out.append(contentsOf: UInt16(headerBytes.count).bigEndianBytes)
        out.append(headerBytes)
        out.append(contentsOf: UInt32(compressed.count).bigEndianBytes)
        out.append(compressed)
        out.append(try key.signature(for: out))
        return out
    }
}

/// A batch as received: its header parsed and checked, its signature not yet verified, its body not yet
/// inflated. Reading is in that order so nothing expensive happens for an unauthenticated sender.
public struct ReceivedBatch: Sendable {
    public let header: BatchHeader
    let signed: Data
    let signature: Data
    let compressedBody: Data
    let limits: BatchLimits

    /// Parses the framing and the header; every field is validated.
    public init(bytes: Data, limits: BatchLimits = BatchLimits()) throws(BatchError) {
        let bytes = Data(bytes)  // re-base indices at 0
        guard bytes.count <= limits.maxBatchBytes else {
            throw .tooLarge("\(bytes.count) bytes, more than \(limits.maxBatchBytes)")
        }
        var reader = ByteReader(bytes)
        guard try reader.take(4) == Data(BatchFormat.magic) else { throw .malformed("it does not start with TLYB") }
        let version = try reader.take(1)[0]
        guard version == BatchFormat.version else { throw .unsupportedVersion(version) }
        let headerLength = Int(try reader.uint16())
        guard headerLength > 0, headerLength <= BatchFormat.maxHeaderBytes else {
            throw .malformed("header length \(headerLength) is outside 1…\(BatchFormat.maxHeaderBytes)")
        }
        let headerBytes = try reader.take(headerLength)
        let header: BatchHeader
        do {
            header = try JSONDecoder().decode(BatchHeader.self, from: headerBytes)
        } catch {
            throw .malformed("the header is not the expected JSON")
        }
        try Self.validate(header, limits: limits)
        let bodyLength = Int(try reader.uint32())
        guard bodyLength > 0, bodyLength <= limits.maxBatchBytes else { throw .malformed("body length \(bodyLength) is out of range") }
        compressedBody = try reader.take(bodyLength)
        signed = bytes.prefix(reader.offset)
        signature = try reader.take(BatchFormat.signatureBytes)
        guard reader.remaining == 0 else { throw .malformed("\(reader.remaining) unexpected bytes after the signature") }
        self.header = header
        self.limits = limits
    }

    static func validate(_ h: BatchHeader, limits: BatchLimits) throws(BatchError) {
        guard h.edgeID.range(of: "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", options: .regularExpression) != nil else {
            throw .malformed("edge_id \"\(h.edgeID)\" is not an edge id")
        }
        guard BatchHeader.isValidStream(h.stream) else { throw .malformed("stream \"\(h.stream)\" is not 16 lower-case hex digits") }
        guard h.sequence >= 1 else { throw .malformed("sequence \(h.sequence) is not positive") }
        guard h.createdAt > 0 else { throw .malformed("created_at \(h.createdAt) is not a time") }
        guard h.hitCount >= 1 else { throw .malformed("hit_count \(h.hitCount) is not positive") }
        guard h.hitCount <= limits.maxHits else { throw .tooLarge("\(h.hitCount) hits, more than \(limits.maxHits)") }
        guard h.policyDigest.count == 64, h.policyDigest.allSatisfy({ $0.isHexDigit && !$0.isUppercase }) else {
            throw .malformed("policy_digest is not 64 lower-case hex digits")
        }
        guard h.bodyBytes > 0 else { throw .malformed("body_bytes \(h.bodyBytes) is not positive") }
        guard h.bodyBytes <= limits.maxBodyBytes else { throw .tooLarge("a body of \(h.bodyBytes) bytes, more than \(limits.maxBodyBytes)") }
        guard h.compression == "zlib" else { throw .malformed("compression \"\(h.compression)\" is not zlib") }
    }

    /// Checks the Ed25519 signature over the exact received bytes.
    public func verify(publicKey: Curve25519.Signing.PublicKey) throws(BatchError) {
        guard publicKey.isValidSignature(signature, for: signed) else { throw .badSignature }
    }

    /// Inflates and decodes the hits; the count and every record must match the header.
    public func hits() throws(BatchError) -> [Hit] {
        let body = try Zlib.decompress(compressedBody, expectedSize: header.bodyBytes)
        guard body.last == UInt8(ascii: "\n") else { throw .malformed("the body does not end with a newline") }
        var hits: [Hit] = []
        hits.reserveCapacity(header.hitCount)
        let result: Result<Void, BatchError> = body.withUnsafeBytes { raw in
            Result { () throws(BatchError) in
                var start = 0
                while start < raw.count {
                    var end = raw.count
                    if let base = raw.baseAddress, let newline = memchr(base + start, Int32(UInt8(ascii: "\n")), raw.count - start) {
                        end = base.distance(to: UnsafeRawPointer(newline))
                    }
                    guard hits.count < header.hitCount else { throw .malformed("the body holds more than hit_count \(header.hitCount) hits") }
                    do {
                        hits.append(try Hit.readJSON(UnsafeRawBufferPointer(rebasing: raw[start..<end])))
                    } catch {
                        throw .malformed("hit \(hits.count + 1) is not a valid record (\(error))")
                    }
                    start = end + 1
                }
            }
        }
        try result.get()
        guard hits.count == header.hitCount else {
            throw .malformed("the body holds \(hits.count) hits, not the declared \(header.hitCount)")
        }
        return hits
    }
}

/// Reads big-endian fields from the front of a buffer, throwing on truncation.
struct ByteReader {
    let data: Data
    private(set) var offset = 0

    init(_ data: Data) { self.data = data }

    var remaining: Int { data.count - offset }

    mutating func take(_ count: Int) throws(BatchError) -> Data {
        guard count >= 0, remaining >= count else { throw .malformed("it is truncated at byte \(data.count)") }
        defer { offset += count }
        return data.subdata(in: offset..<(offset + count))
    }

    mutating func uint16() throws(BatchError) -> UInt16 {
        let bytes = try take(2)
        return UInt16(bytes[0]) << 8 | UInt16(bytes[1])
    }

    mutating func uint32() throws(BatchError) -> UInt32 {
        let bytes = try take(4)
        return bytes.reduce(0) { $0 << 8 | UInt32($1) }
    }
}

extension FixedWidthInteger {
    var bigEndianBytes: [UInt8] { withUnsafeBytes(of: bigEndian) { Array($0) } }
}
