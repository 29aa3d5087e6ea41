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
        let key = try salts.key(for: rotation, at: date)
        var hmac = HMAC<SHA256>(key: key)
        withUnsafeBytes(of: Int64(siteID).bigEndian) { hmac.update(data: $0) }
        hmac.update(data: [UInt8(address.bytes.count)])
        hmac.update(data: address.bytes)
        hmac.update(data: Array(userAgent.utf8))
        return Hex.string(Array(hmac.finalize()).prefix(8))
    }
}

/// User ids under `user_id = "hash"`: HMAC-SHA-256 keyed per site, 128 bits in hex. The key derives from
/// one secret file (`user_id_key_file`) that central also holds, so a data subject's records can be found
/// (hash the id again) and deleted, while the stored value alone does not reveal the id.
public struct UserIDHasher: Sendable {
    private let masterKey: Data

    public init(masterKey: Data) { self.masterKey = masterKey }

    /// Reads the secret, or creates it (32 random bytes, mode 0600) when the file does not exist.
    public static func load(path: String) throws -> UserIDHasher {
        if !FileManager.default.fileExists(atPath: path) {
            let key = SymmetricKey(size: .bits256)
            let data = key.withUnsafeBytes { Data($0) }
            guard FileManager.default.createFile(atPath: path, contents: data, attributes: [.posixPermissions: 0o600]) else {
                throw EdgeError.keyFile(path: path, reason: "could not be created")
            }
        }
        try KeyFilePermissions.requirePrivate(path)
        guard let data = FileManager.default.contents(atPath: path), data.count >= 16 else {
            throw EdgeError.keyFile(path: path, reason: "holds fewer than 16 bytes")
        }
        return UserIDHasher(masterKey: data)
    }

    public func hash(userID: String, siteID: Int) -> String {
        let siteKey = SymmetricKey(data: HMAC<SHA256>.authenticationCode(
            for: Data("tally-user-id:site:\(siteID)".utf8), using: SymmetricKey(data: masterKey)))
        let mac = HMAC<SHA256>.authenticationCode(for: Data(userID.utf8), using: siteKey)
        return Hex.string(Array(mac).prefix(16))
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
