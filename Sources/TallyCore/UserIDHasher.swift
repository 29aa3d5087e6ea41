import Crypto
import Foundation

/// User ids under `user_id = "hash"`: HMAC-SHA-256 keyed per site, 128 bits in hex. The key derives from
/// one secret file (`user_id_key_file`) that central also holds, so a data subject's records can be found
/// (hash the id again) and deleted, while the stored value alone does not reveal the id.
public struct UserIDHasher: Sendable {
    private let masterKey: Data

    public init(masterKey: Data) { self.masterKey = masterKey }

    /// Reads the secret, or — with `create` — creates it (32 random bytes, mode 0600) when the file does
    /// not exist. Central never creates it: it must use the edges' file.
    public static func load(path: String, create: Bool = true) throws -> UserIDHasher {
        if !FileManager.default.fileExists(atPath: path) {
            guard create else {
                throw UserIDKeyError(description: "The user-id key \(path) does not exist; copy the edges' user-id.key there.")
            }
            let key = SymmetricKey(size: .bits256)
            let data = key.withUnsafeBytes { Data($0) }
            guard FileManager.default.createFile(atPath: path, contents: data, attributes: [.posixPermissions: 0o600]) else {
                throw UserIDKeyError(description: "The user-id key \(path) could not be created; check the directory's permissions.")
            }
        }
        if let problem = SecretFile.problem(path) { throw UserIDKeyError(description: "The user-id key \(path) \(problem).") }
        guard let data = FileManager.default.contents(atPath: path), data.count >= 16 else {
            throw UserIDKeyError(description: "The user-id key \(path) holds fewer than 16 bytes; use the file the edge created.")
        }
        return UserIDHasher(masterKey: data)
    }

    public func hash(userID: String, siteID: Int) -> String {
        let siteKey = SymmetricKey(data: HMAC<SHA256>.authenticationCode(
            for: Data("tally-user-id:site:\(siteID)".utf8), using: SymmetricKey(data: masterKey)))
        let mac = HMAC<SHA256>.authenticationCode(for: Data(userID.utf8), using: siteKey)
        return Array(mac).prefix(16).map { String(format: "%02x", $0) }.joined()
    }
}

public struct UserIDKeyError: Error, CustomStringConvertible {
    public let description: String
}
