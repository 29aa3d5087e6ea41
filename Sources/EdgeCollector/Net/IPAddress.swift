#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An IPv4 or IPv6 address as its network-order bytes (4 or 16).
///
/// A full client address is personal data: values of this type live only in request-scoped state and
/// are never encoded into a stored record (the type has no `Codable` conformance on purpose).
public struct IPAddress: Hashable, Sendable, CustomStringConvertible {
    public let bytes: [UInt8]

    public var isIPv4: Bool { bytes.count == 4 }

    /// Parses dotted IPv4 or textual IPv6 (RFC 4291 §2.2). IPv4-mapped IPv6 (`::ffff:a.b.c.d`), which
    /// dual-stack sockets report, becomes the IPv4 address so masking and CIDR rules apply as written.
    public init?(_ text: some StringProtocol) {
        // Bytewise: this runs for every request's client address.
        var text = String(text)
        if text.utf8.first == UInt8(ascii: "["), text.utf8.last == UInt8(ascii: "]") { text = String(text.dropFirst().dropLast()) }
        if let zone = text.utf8.firstIndex(of: UInt8(ascii: "%")) { text = String(text[..<zone]) }
        guard !text.isEmpty, text.utf8.count <= 45 else { return nil }
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            self.init(uncheckedBytes: withUnsafeBytes(of: &v4) { Array($0) })
            return
        }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, text, &v6) == 1 else { return nil }
        self.init(unmapping: withUnsafeBytes(of: &v6) { Array($0) })
    }

    public init?(bytes: [UInt8]) {
        guard bytes.count == 4 || bytes.count == 16 else { return nil }
        self.bytes = bytes
    }

    /// From a socket's 4 or 16 network-order bytes; IPv4-mapped IPv6 becomes the IPv4 address.
    public init?(unmapping bytes: [UInt8]) {
        if bytes.count == 16, bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xff, bytes[11] == 0xff {
            self.init(bytes: Array(bytes[12..<16]))
        } else {
            self.init(bytes: bytes)
        }
    }

    public var description: String {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let family = isIPv4 ? AF_INET : AF_INET6
        let ok = bytes.withUnsafeBytes { raw in
            inet_ntop(family, raw.baseAddress, &buffer, socklen_t(buffer.count)) != nil
        }
        guard ok else { return "" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The address with its last `bits` bits set to zero.
    public func zeroingLast(bits: Int) -> IPAddress {
        let total = bytes.count * 8
        let keep = max(0, total - min(max(bits, 0), total))
        var out = bytes
        for index in out.indices {
            let start = index * 8
            if start >= keep {
                out[index] = 0
            } else if start + 8 > keep {
                out[index] &= UInt8(truncatingIfNeeded: 0xff << (8 - (keep - start)))
            }
        }
        return IPAddress(uncheckedBytes: out)
    }

    /// Whether the first `prefixLength` bits equal those of `network` (same family only).
    func sharesPrefix(with network: IPAddress, length prefixLength: Int) -> Bool {
        guard bytes.count == network.bytes.count else { return false }
        var remaining = prefixLength
        for (a, b) in zip(bytes, network.bytes) where remaining > 0 {
            let n = min(remaining, 8)
            let mask = UInt8(truncatingIfNeeded: 0xff << (8 - n))
            if a & mask != b & mask { return false }
            remaining -= n
        }
        return true
    }

    private init(uncheckedBytes: [UInt8]) { self.bytes = uncheckedBytes }
}

/// A network in CIDR notation (`10.0.0.0/8`, `2001:db8::/32`); a bare address is a single host.
public struct CIDRRange: Hashable, Sendable, CustomStringConvertible {
    public let network: IPAddress
    public let prefixLength: Int

    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2, let address = IPAddress(parts[0]) else { return nil }
        let maxLength = address.bytes.count * 8
        if parts.count == 2 {
            guard let length = Int(parts[1]), (0...maxLength).contains(length) else { return nil }
            prefixLength = length
        } else {
            prefixLength = maxLength
        }
        network = address.zeroingLast(bits: maxLength - prefixLength)
    }

    public func contains(_ address: IPAddress) -> Bool {
        address.sharesPrefix(with: network, length: prefixLength)
    }

    public var description: String { "\(network)/\(prefixLength)" }
}
