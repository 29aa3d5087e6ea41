import Hummingbird
import NIOCore

/// Per-request context: the socket peer's address, established once where the connection is known.
public struct EdgeRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The TCP peer (a proxy, when the edge sits behind nginx); `ClientAddressResolver` finds the client.
    public let peerAddress: IPAddress?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        peerAddress = source.channel.remoteAddress.flatMap(IPAddress.init(socketAddress:))
    }
}

extension IPAddress {
    /// The socket's address, read from its bytes rather than through text.
    init?(socketAddress: SocketAddress) {
        switch socketAddress {
        case let .v4(address): self.init(unmapping: withUnsafeBytes(of: address.address.sin_addr) { Array($0) })
        case let .v6(address): self.init(unmapping: withUnsafeBytes(of: address.address.sin6_addr) { Array($0) })
        case .unixDomainSocket: return nil
        }
    }
}
