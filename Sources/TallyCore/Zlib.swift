import CZlib
import Foundation

/// zlib (RFC 1950) compression of batch bodies. The only file that imports the C module.
enum Zlib {
    static func compress(_ data: Data) throws(BatchError) -> Data {
        var capacity = compressBound(uLong(data.count))
        var out = Data(count: Int(capacity))
        let status = out.withUnsafeMutableBytes { dst in
            data.withUnsafeBytes { src in
                compress2(
                    dst.baseAddress!.assumingMemoryBound(to: Bytef.self), &capacity,
                    src.baseAddress?.assumingMemoryBound(to: Bytef.self) ?? UnsafePointer(bitPattern: 1), uLong(data.count),
                    Z_BEST_SPEED)
            }
        }
        guard status == Z_OK else { throw .compression("zlib compress2 failed with status \(status)") }
        out.count = Int(capacity)
        return out
    }

    /// Inflates `data`, which must expand to exactly `expectedSize` bytes: the declared size bounds the
    /// allocation, so a small "zip bomb" cannot make the reader allocate without limit.
    static func decompress(_ data: Data, expectedSize: Int) throws(BatchError) -> Data {
        var size = uLongf(expectedSize)
        // One spare byte: a body longer than declared fills it, and is refused below.
        var out = Data(count: expectedSize + 1)
        size = uLongf(expectedSize + 1)
        let status = out.withUnsafeMutableBytes { dst in
            data.withUnsafeBytes { src in
                uncompress(
                    dst.baseAddress!.assumingMemoryBound(to: Bytef.self), &size,
                    src.baseAddress?.assumingMemoryBound(to: Bytef.self) ?? UnsafePointer(bitPattern: 1), uLong(data.count))
            }
        }
        guard status == Z_OK else {
            throw .malformed(status == Z_BUF_ERROR ? "the body expands beyond its declared size" : "the body is not valid zlib data (status \(status))")
        }
        guard Int(size) == expectedSize else {
            throw .malformed("the body expands to \(size) bytes, not the declared \(expectedSize)")
        }
        out.count = Int(size)
        return out
    }
}
