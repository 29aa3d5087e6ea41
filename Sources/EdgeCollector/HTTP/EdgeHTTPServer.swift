import Foundation
import Logging
import NIOCore
import NIOExtras
import NIOHTTP1
import NIOPosix
import ServiceLifecycle
import TallyHTTP

/// The edge's HTTP/1.1 listener, on SwiftNIO alone. A collection request is decoded, run through the
/// privacy pipeline and handed to the group committer on the connection's event loop; its answer is
/// written there when the hit is committed. Nothing hops between event loops and tasks per request,
/// which on two cores doubled what a server that does nothing can answer (docs/performance.md).
///
/// Each connection: NIO's HTTP/1 decoder and encoder with pipelining assistance (one request at a time,
/// answers in order) and its protocol-error handler (400 and close), the `ConnectionGuard` (deadlines,
/// per-client cap), then `EdgeHTTPHandler`. On graceful shutdown the listener stops accepting, lets
/// every open connection finish the request it is in, and returns once all are closed, so everything
/// acknowledged was handed to the committer before it stops.
public struct EdgeHTTPServer: Service, CustomStringConvertible {
    let host: String
    let port: Int
    let routes: EdgeRoutes
    let limits: ListenerLimits
    let maxBodyBytes: Int
    let connections: ClientConnections
    let logger: Logger
    let onServerRunning: @Sendable (Int) async -> Void

    /// How the service lifecycle names it in its log (the default would print the whole configuration).
    public var description: String { "EdgeHTTPServer(\(host):\(port))" }

    public func run() async throws {
        let group = MultiThreadedEventLoopGroup.singleton
        let quiesce = ServerQuiescingHelper(group: group)
        let (routes, limits, connections, maxBodyBytes) = (routes, limits, connections, maxBodyBytes)
        let channel: any Channel
        do {
            channel = try await ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 256)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .serverChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(quiesce.makeServerChannelHandler(channel: channel))
                    }
                }
                .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        var decoderLimits = NIOHTTPDecoderLimitConfiguration()
                        decoderLimits.maxHeaderFieldSize = 80 * 1024
                        decoderLimits.maxHeaderListSize = 80 * 1024
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline(
                            withPipeliningAssistance: true, withErrorHandling: true, withOutboundHeaderValidation: true,
                            withEncoderConfiguration: .init(), withDecoderLimitConfiguration: decoderLimits)
                        try channel.pipeline.syncOperations.addHandler(
                            ConnectionGuard<HTTPServerRequestPart, HTTPServerResponsePart>(limits: limits, connections: connections))
                        try channel.pipeline.syncOperations.addHandler(EdgeHTTPHandler(routes: routes, maxBodyBytes: maxBodyBytes))
                    }
                }
                .bind(host: host, port: port).get()
        } catch {
            throw EdgeError.listen(address: "\(host):\(port)", reason: "\(error)")
        }
        await onServerRunning(channel.localAddress?.port ?? port)
        let closed = group.next().makePromise(of: Void.self)
        await withGracefulShutdownHandler {
            try? await channel.closeFuture.get()
        } onGracefulShutdown: {
            quiesce.initiateShutdown(promise: closed)
        }
        // The listener closed by itself (not by a shutdown): close what is left the same way.
        if !Task.isShuttingDownGracefully { quiesce.initiateShutdown(promise: closed) }
        try await closed.futureResult.get()
    }
}

/// One connection's requests: the head and body gathered (the body up to the limit, beyond it read and
/// dropped so the answer can be 413), the route called, its answer written in order on the event loop.
final class EdgeHTTPHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let routes: EdgeRoutes
    private let maxBodyBytes: Int
    private var peer: IPAddress?
    private var head: HTTPRequestHead?
    private var body: ByteBuffer?
    private var bodyTooLarge = false
    private var date = HTTPDate()

    init(routes: EdgeRoutes, maxBodyBytes: Int) {
        self.routes = routes
        self.maxBodyBytes = maxBodyBytes
    }

    func handlerAdded(context: ChannelHandlerContext) {
        peer = context.channel.remoteAddress.flatMap(IPAddress.init(socketAddress:))
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case let .head(requestHead):
            head = requestHead
            body = nil
            bodyTooLarge = requestHead.headers.first(name: "content-length").flatMap(Int.init).map { $0 > maxBodyBytes } ?? false
        case var .body(part):
            guard !bodyTooLarge else { return }
            if (body?.readableBytes ?? 0) + part.readableBytes > maxBodyBytes {
                bodyTooLarge = true
                body = nil
            } else if body == nil {
                body = part
            } else {
                body!.writeBuffer(&part)
            }
        case .end:
            guard let requestHead = head else { return }
            head = nil
            let request = EdgeRequest(head: requestHead, body: body, bodyTooLarge: bodyTooLarge, peer: peer)
            body = nil
            let loop = context.eventLoop
            let bound = NIOLoopBound((self, context), eventLoop: loop)
            routes.handle(request) { response in
                if loop.inEventLoop {
                    let (handler, context) = bound.value
                    handler.write(response, for: requestHead, context: context)
                } else {
                    loop.execute {
                        let (handler, context) = bound.value
                        handler.write(response, for: requestHead, context: context)
                    }
                }
            }
        }
    }

    private func write(_ response: EdgeResponse, for request: HTTPRequestHead, context: ChannelHandlerContext) {
        guard context.channel.isActive else { return }
        var headers = response.headers
        headers.add(name: "Content-Length", value: String(response.body?.readableBytes ?? 0))
        headers.add(name: "Date", value: date.now())
        let keepAlive = request.isKeepAlive
        if !keepAlive {
            headers.add(name: "Connection", value: "close")
        } else if request.version.major == 1, request.version.minor == 0 {
            headers.add(name: "Connection", value: "keep-alive")
        }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: request.version, status: response.status, headers: headers))), promise: nil)
        if let body = response.body, body.readableBytes > 0, request.method != .HEAD {
            context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        }
        if keepAlive {
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        } else {
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
        }
    }
}

/// The `Date` header's value (RFC 9110 §6.6.1, IMF-fixdate), formatted again only when the second changes.
struct HTTPDate {
    private var second = -1
    private var text = ""

    private static let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    mutating func now() -> String {
        var seconds = time(nil)
        guard seconds != second else { return text }
        second = seconds
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        text = "\(Self.days[Int(parts.tm_wday)]), \(two(parts.tm_mday)) \(Self.months[Int(parts.tm_mon)]) \(parts.tm_year + 1900) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) GMT"
        return text
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
