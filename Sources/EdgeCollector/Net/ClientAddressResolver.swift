import TrackingInput
import Foundation

/// Finds the client's address: the socket peer, unless the peer is a trusted proxy, in which case the
/// right-most address in `X-Forwarded-For` (or `Forwarded: for=`, RFC 7239) that is not itself a trusted
/// proxy. Walking from the right means a client cannot forge its address by prepending entries.
public struct ClientAddressResolver: Sendable {
    let trustedProxies: [CIDRRange]

    public init(trustedProxies: [CIDRRange]) { self.trustedProxies = trustedProxies }

    func isTrusted(_ address: IPAddress) -> Bool { trustedProxies.contains { $0.contains(address) } }

    public func resolve(peer: IPAddress, forwardedFor: String?, forwarded: String?) -> IPAddress {
        guard isTrusted(peer) else { return peer }
        let chain: [IPAddress]
        if let forwarded, !forwarded.isEmpty {
            chain = Self.parseForwarded(forwarded)
        } else if let forwardedFor, !forwardedFor.isEmpty {
            // One address (a proxy in front of the edge) is the usual case: no list to build.
            chain = forwardedFor.utf8.contains(UInt8(ascii: ","))
                ? forwardedFor.split(separator: ",").compactMap { IPAddress($0.trimmingBlanks()) }
                : IPAddress(forwardedFor.trimmingBlanks()).map { [$0] } ?? []
        } else {
            return peer
        }
        for address in chain.reversed() where !isTrusted(address) { return address }
        return chain.first ?? peer
    }

    /// The `for=` addresses of a `Forwarded` header, in order: `for=192.0.2.60`, `for="[2001:db8::1]:4711"`.
    static func parseForwarded(_ header: String) -> [IPAddress] {
        header.split(separator: ",").compactMap { element in
            for pair in element.split(separator: ";") {
                let parts = pair.split(separator: "=", maxSplits: 1)
                guard parts.count == 2, parts[0].trimmingCharacters(in: .whitespaces).lowercased() == "for" else { continue }
                var value = parts[1].trimmingCharacters(in: .whitespaces)
                value = value.trimmingCharacters(in: CharacterSet(charactersIn: "\""))
                if value.hasPrefix("["), let close = value.firstIndex(of: "]") {
                    return IPAddress(value[value.index(after: value.startIndex)..<close])
                }
                if let colon = value.firstIndex(of: ":"), value.filter({ $0 == ":" }).count == 1 {
                    value = String(value[..<colon])
                }
                return IPAddress(value)
            }
            return nil
        }
    }
}
