import ArgumentParser
import NIOCore
import NIOHTTP1
import NIOPosix
import TallyHTTP

/// The edge's HTTP stack with nothing behind it: SwiftNIO's HTTP/1 server pipeline as the edge sets it up
/// (pipelining assistance, protocol-error handling, the connection guard) and a handler that answers 204
/// on the event loop. Measured under the same load as the edge, it shows how much of the edge's time is
/// the stack's.
struct Bare: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Serve 204 on every path with the edge's HTTP stack and nothing behind it.")

    @Option(help: "Port on 127.0.0.1.") var port: Int

    final class Handler: ChannelInboundHandler, Sendable {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard case .end = unwrapInboundIn(data) else { return }
            let head = HTTPResponseHead(version: .http1_1, status: .noContent, headers: ["Content-Length": "0"])
            context.write(wrapOutboundOut(.head(head)), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
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
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withPipeliningAssistance: true, withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(
                        ConnectionGuard<HTTPServerRequestPart, HTTPServerResponsePart>(limits: ListenerLimits(), connections: connections))
                    try channel.pipeline.syncOperations.addHandler(Handler())
                }
            }
            .bind(host: "127.0.0.1", port: port).wait()
        try channel.closeFuture.wait()
    }
}
