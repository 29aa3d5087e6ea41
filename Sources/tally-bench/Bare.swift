import ArgumentParser
import EdgeCollector
import NIOCore
import NIOHTTP1
import NIOPosix
import TallyHTTP

/// The edge's HTTP stack with nothing behind it: the listener's connection handlers as the edge sets them
/// up (NIO's request decoder, the connection guard) and a handler that answers 204 on the event loop with
/// the edge's usual headers. Measured under the same load as the edge, it shows how much of the edge's
/// time is the stack's.
struct Bare: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Serve 204 on every path with the edge's HTTP stack and nothing behind it.")

    @Option(help: "Port on 127.0.0.1.") var port: Int

    final class Handler: ChannelInboundHandler, Sendable {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = ByteBuffer

        private static let answer = ByteBuffer(
            string: "HTTP/1.1 204 No Content\r\nCache-Control: no-store\r\nAccess-Control-Allow-Origin: *\r\nContent-Length: 0\r\n\r\n")

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard case .end = unwrapInboundIn(data) else { return }
            context.writeAndFlush(wrapOutboundOut(Self.answer), promise: nil)
        }
    }

    func run() throws {
        let connections = ClientConnections(limit: ListenerLimits().maxConnectionsPerClient)
        let channel = try ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try EdgeHTTPServer.addHTTPHandlers(to: channel, limits: ListenerLimits(), connections: connections)
                    try channel.pipeline.syncOperations.addHandler(Handler())
                }
            }
            .bind(host: "127.0.0.1", port: port).wait()
        try channel.closeFuture.wait()
    }
}
