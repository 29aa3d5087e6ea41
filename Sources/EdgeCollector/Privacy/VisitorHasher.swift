import Crypto
import Foundation
import TallyCore

/// Visitor ids without cookies: HMAC-SHA-256 over site id, full IP and user agent, keyed with the current
/// period's random salt, truncated to 64 bits (16 hex digits, the width of Matomo's visitor id).
/// Without the salt, which never leaves the edge and is deleted after its period, an id cannot be linked
/// back to an address.
public struct VisitorHasher: Sendable {
    let salts: SaltStore

    public init(salts: SaltStore) { self.salts = salts }

    public func visitorID(siteID: Int, address: IPAddress, userAgent: String, rotation: PrivacyPolicy.SaltRotation, at date: Date) throws -> String {
        var hmac = try salts.hmac(for: rotation, at: date)
        // One update over the whole message: site id (8 bytes, big-endian), address length, address, user agent.
        var message: [UInt8] = []
        message.reserveCapacity(25 + userAgent.utf8.count)
        withUnsafeBytes(of: Int64(siteID).bigEndian) { message.append(contentsOf: $0) }
        message.append(UInt8(address.bytes.count))
        message.append(contentsOf: address.bytes)
        message.append(contentsOf: userAgent.utf8)
        hmac.update(data: message)
        return hmac.finalize().withUnsafeBytes { Hex.string($0.prefix(8)) }
    }
}

enum Hex {
    static func string(_ bytes: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// Secrets (keys, salts) must be accessible by their owner only.
enum KeyFilePermissions {
    static func requirePrivate(_ path: String) throws {
        if let problem = SecretFile.problem(path) { throw EdgeError.keyFile(path: path, reason: problem) }
    }
}
