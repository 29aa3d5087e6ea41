import Crypto
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Ed25519 keys in files: the private key as one line of base64 (the 32-byte seed), written with mode
/// 0600 and refused when group- or world-accessible; public keys as base64 of their 32 bytes, the form
/// central's configuration registers.
public enum SigningKeyFile {
    public static func generate(at path: String) throws(BatchError) -> Curve25519.Signing.PrivateKey {
        guard !FileManager.default.fileExists(atPath: path) else {
            throw .key("\(path) already exists; remove it first or choose another path")
        }
        let key = Curve25519.Signing.PrivateKey()
        let text = Data((key.rawRepresentation.base64EncodedString() + "\n").utf8)
        guard FileManager.default.createFile(atPath: path, contents: text, attributes: [.posixPermissions: 0o600]) else {
            throw .key("\(path) could not be created")
        }
        return key
    }

    public static func load(path: String) throws(BatchError) -> Curve25519.Signing.PrivateKey {
        if let problem = SecretFile.problem(path) { throw .key("\(path) \(problem)") }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8),
              let raw = Data(base64Encoded: text.trimmingCharacters(in: .whitespacesAndNewlines)),
              let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: raw)
        else { throw .key("\(path) does not hold a base64 Ed25519 key from tally-edge keygen") }
        return key
    }

    public static func publicKey(base64 text: String) -> Curve25519.Signing.PublicKey? {
        Data(base64Encoded: text).flatMap { try? Curve25519.Signing.PublicKey(rawRepresentation: $0) }
    }
}

/// Secrets (keys, salts) must be accessible by their owner only.
public enum SecretFile {
    /// Why the file cannot serve as a secret, or `nil` when it can.
    public static func problem(_ path: String) -> String? {
        var info = stat()
        guard stat(path, &info) == 0 else { return "cannot be read (\(String(cString: strerror(errno))))" }
        if info.st_mode & 0o077 != 0 {
            return "is accessible by group or others (mode \(String(info.st_mode & 0o777, radix: 8))); run chmod 600 on it"
        }
        return nil
    }
}

/// Database files hold what Tally keeps; they are readable by their owner only.
public enum PrivateDatabaseFile {
    /// Creates the database file with mode 0600 if it does not exist, and brings an existing one and its
    /// `-wal` and `-shm` companions to 0600. SQLite creates the companions with the database file's own
    /// mode (https://sqlite.org/tempfiles.html), so they follow.
    public static func prepare(_ path: String) {
        let fd = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0o600)
        if fd >= 0 { close(fd) }
        for file in [path, path + "-wal", path + "-shm"] { chmod(file, 0o600) }
    }
}
