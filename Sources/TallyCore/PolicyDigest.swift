import Crypto
import Foundation

/// SHA-256 of a policy's canonical text. Every hit is stamped with the digest of the effective policy it
/// was collected under, and every batch carries it, so an auditor can tell which rules produced which data.
public struct PolicyDigest: Hashable, Sendable, CustomStringConvertible {
    /// Lower-case hex of the 32 digest bytes.
    public let hex: String

    public init(canonicalText: String) {
        hex = SHA256.hash(data: Data(canonicalText.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    public var description: String { "sha256:\(hex)" }
}
