/// 64-bit FNV-1a: a tag for short names (query parameters, record keys) that is cheaper than hashing
/// into a dictionary or comparing whole strings. Not for anything an adversary could exploit on its
/// own: every use compares the full name after a tag matches.
public enum FNV1a {
    @inlinable
    public static func hash(_ bytes: some Sequence<UInt8>) -> UInt64 {
        // Contiguous bytes (a native string's, an array's) are read in place, not through an iterator.
        if let hash = bytes.withContiguousStorageIfAvailable({ hashBytes($0) }) { return hash }
        return hashBytes(bytes)
    }

    @inlinable
    static func hashBytes(_ bytes: some Sequence<UInt8>) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
        return hash
    }
}
