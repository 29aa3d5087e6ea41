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
/// Each connection: NIO's HTTP/1 request decoder, the `ConnectionGuard` (deadlines, per-client cap), then
/// `EdgeHTTPHandler`, which answers in order and writes each answer as one buffer of HTTP bytes. On graceful shutdown the listener stops accepting, lets
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

    /// The event loops the listener serves its connections on (NIO's shared group, one per core).
    static var eventLoops: MultiThreadedEventLoopGroup { .singleton }

    public func run() async throws {
        let group = Self.eventLoops
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
                        try Self.addHTTPHandlers(to: channel, limits: limits, connections: connections)
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

    /// What every connection of the listener has before the handler that answers: NIO's HTTP/1 request
    /// decoder (a header field, and all of them together, up to 80 KiB; larger is answered 400) and the
    /// `ConnectionGuard`. Answers go out as whole buffers of HTTP bytes. Public for `tally-bench bare`,
    /// which measures this stack alone.
    public static func addHTTPHandlers(to channel: any Channel, limits: ListenerLimits, connections: ClientConnections) throws {
        var decoderLimits = NIOHTTPDecoderLimitConfiguration()
        decoderLimits.maxHeaderFieldSize = 80 * 1024
        decoderLimits.maxHeaderListSize = 80 * 1024
        try channel.pipeline.syncOperations.addHandler(
            ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes, limitConfiguration: decoderLimits)))
        try channel.pipeline.syncOperations.addHandler(ConnectionGuard<HTTPServerRequestPart, ByteBuffer>(limits: limits, connections: connections))
    }
}

/// One connection's requests, answered in order. The head and body are gathered (the body up to the
/// limit, beyond it read and dropped so the answer can be 413), the route is called, and its answer is
/// written on the event loop as one buffer of HTTP/1.x bytes.
///
/// What NIO's server helpers did per request in four handlers is done here in one place, because each
/// handler a response passes through costs time on every hit (docs/performance.md):
/// - Pipelining: a request that arrives whole while another is being answered waits its turn, and the
///   connection is not read further until it has had it, so answers leave in the order asked.
/// - A request the decoder cannot parse is answered 400 and the connection closed; behind requests that
///   are still being answered, the connection closes after their answers instead.
/// - On graceful shutdown an idle connection closes at once, a busy one after answering what it received.
final class EdgeHTTPHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let routes: EdgeRoutes
    private let maxBodyBytes: Int
    private var peer: IPAddress?
    private var head: HTTPRequestHead?
    private var body: ByteBuffer?
    private var bodyTooLarge = false
    private var date = HTTPDate()
    /// A request is with its route and its answer not yet written.
    private var answering = false
    /// Requests received whole while another was being answered.
    private var waiting = CircularBuffer<EdgeRequest>()
    /// A read asked for while requests were waiting, to be done once they have been answered.
    private var readHeld = false
    /// The connection closes once every request received is answered, the one being received included
    /// (shutdown, or a malformed request behind them); nothing more is read.
    private var closeWhenAnswered = false

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
            if answering || !waiting.isEmpty {
                waiting.append(request)
            } else {
                answer(request, context: context)
            }
        }
    }

    /// Reads wait while requests wait, and stop once the connection is to close.
    func read(context: ChannelHandlerContext) {
        if waiting.isEmpty, !closeWhenAnswered { context.read() } else { readHeld = true }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard error is HTTPParserError || error is ByteToMessageDecoderError else {
            context.close(promise: nil)
            return
        }
        // The decoder gives up on the connection: what it read before is answered, then it closes.
        if answering {
            closeWhenAnswered = true
        } else {
            context.writeAndFlush(wrapOutboundOut(Self.badRequest), promise: nil)
            context.close(promise: nil)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is ChannelShouldQuiesceEvent else { return context.fireUserInboundEventTriggered(event) }
        if answering || head != nil {
            closeWhenAnswered = true
        } else {
            context.close(promise: nil)
        }
    }

    private static let badRequest = ByteBuffer(string: "HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")

    private func answer(_ request: EdgeRequest, context: ChannelHandlerContext) {
        answering = true
        let loop = context.eventLoop
        let bound = NIOLoopBound((self, context), eventLoop: loop)
        routes.handle(request) { response in
            if loop.inEventLoop {
                let (handler, context) = bound.value
                handler.write(response, for: request.head, context: context)
            } else {
                loop.execute {
                    let (handler, context) = bound.value
                    handler.write(response, for: request.head, context: context)
                }
            }
        }
    }

    private func write(_ response: EdgeResponse, for request: HTTPRequestHead, context: ChannelHandlerContext) {
        answering = false
        guard context.channel.isActive else { return }
        let close = !request.isKeepAlive || (closeWhenAnswered && waiting.isEmpty)
        var bytes = context.channel.allocator.buffer(capacity: 256 + (response.body?.readableBytes ?? 0))
        response.encode(into: &bytes, for: request, date: date.now(), close: close)
        if close {
            waiting.removeAll()
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(bytes)).whenComplete { _ in channel.close(promise: nil) }
            return
        }
        context.writeAndFlush(wrapOutboundOut(bytes), promise: nil)
        if let next = waiting.popFirst() {
            answer(next, context: context)
        } else if readHeld {
            readHeld = false
            context.read()
        }
    }
}

extension EdgeResponse {
    /// The answer as HTTP/1.x bytes: the status line in the request's version, the headers with
    /// `Content-Length` and `Date` (and `Connection` where it differs from the version's default), then
    /// the body unless the request was `HEAD`. A header whose name or value holds CR, LF or NUL is left
    /// out rather than let it split the answer.
    func encode(into bytes: inout ByteBuffer, for request: HTTPRequestHead, date: String, close: Bool) {
        let version = request.version
        bytes.writeStaticString("HTTP/")
        bytes.writeString("\(version.major).\(version.minor) \(status.code) \(status.reasonPhrase)\r\n")
        for (name, value) in headers where Self.isSafe(name) && Self.isSafe(value) {
            bytes.writeString(name)
            bytes.writeStaticString(": ")
            bytes.writeString(value)
            bytes.writeStaticString("\r\n")
        }
        bytes.writeStaticString("Content-Length: ")
        bytes.writeString(String(body?.readableBytes ?? 0))
        bytes.writeStaticString("\r\nDate: ")
        bytes.writeString(date)
        if close {
            bytes.writeStaticString("\r\nConnection: close")
        } else if version.major == 1, version.minor == 0 {
            bytes.writeStaticString("\r\nConnection: keep-alive")
        }
        bytes.writeStaticString("\r\n\r\n")
        if let body, request.method != .HEAD { bytes.writeImmutableBuffer(body) }
    }

    private static func isSafe(_ text: String) -> Bool {
        !text.utf8.contains { $0 == UInt8(ascii: "\r") || $0 == UInt8(ascii: "\n") || $0 == 0 }
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
