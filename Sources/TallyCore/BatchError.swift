/// Why a batch could not be built, read or trusted. Every case says what is wrong with the bytes.
public enum BatchError: Error, Equatable, CustomStringConvertible {
    /// The bytes are not a well-formed batch (truncated, bad magic, bad header, body mismatch).
    case malformed(String)
    /// A size is beyond the reader's limits.
    case tooLarge(String)
    /// The format version is newer than this reader.
    case unsupportedVersion(UInt8)
    /// The Ed25519 signature does not verify with the edge's registered key.
    case badSignature
    case compression(String)
    case key(String)

    public var description: String {
        switch self {
        case let .malformed(reason): "The batch is malformed: \(reason)."
        case let .tooLarge(reason): "The batch is too large: \(reason)."
        case let .unsupportedVersion(version): "The batch has format version \(version), which this reader does not know; upgrade it."
        case .badSignature: "The batch signature does not verify with the edge's registered public key."
        case let .compression(reason): "The batch body could not be compressed: \(reason)."
        case let .key(reason): "The signing key cannot be used: \(reason)."
        }
    }
}
