import Hummingbird

/// Per-request context: the socket peer's address, established once where the connection is known.
public struct EdgeRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The TCP peer (a proxy, when the edge sits behind nginx); `ClientAddressResolver` finds the client.
    public let peerAddress: IPAddress?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        peerAddress = source.channel.remoteAddress?.ipAddress.flatMap { IPAddress($0) }
    }
}
