import HummingbirdCore
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import Synchronization
import TallyCore

/// Bounds on every connection of a listener, so a slow or greedy client cannot hold the daemon's
/// connections: the request head must arrive within `headerTimeout` of the connection opening (or of
/// the previous response, within `idleTimeout` on a kept-alive connection), the body within
/// `bodyTimeout` of the head, and one client address may hold at most `maxConnectionsPerClient`.
public struct ListenerLimits: Sendable, Equatable {
    public var headerTimeoutSeconds = 10
    public var bodyTimeoutSeconds = 30
    /// Longer than nginx's default upstream `keepalive_timeout` (60 s), so a proxy closes its idle
    /// connections first and never sends a request into a connection being closed.
    public var idleTimeoutSeconds = 75
    public var maxConnectionsPerClient = 64

    public init() {}
}

/// The open connections of one listener by client address, shared by the listener's guards.
public final class ClientConnections: Sendable {
    private let counts = Mutex<[String: Int]>([:])
    let limit: Int
    /// Addresses the cap does not apply to (a trusted reverse proxy carries many clients).
    let isExempt: @Sendable (String) -> Bool

    public init(limit: Int, isExempt: @escaping @Sendable (String) -> Bool = { _ in false }) {
        self.limit = limit
        self.isExempt = isExempt
    }

    /// Counts a new connection from `client`, or refuses it when the client is at its cap.
    func admit(_ client: String) -> Bool {
        if isExempt(client) { return true }
        return counts.withLock { counts in
            let open = counts[client, default: 0]
            guard open < limit else { return false }
            counts[client] = open + 1
            return true
        }
    }

    func release(_ client: String) {
        if isExempt(client) { return }
        counts.withLock { counts in
            let open = counts[client, default: 0] - 1
            counts[client] = open > 0 ? open : nil
        }
    }

    /// Connections `client` holds now (for tests and diagnostics).
    public func open(for client: String) -> Int { counts.withLock { $0[client, default: 0] } }
}

/// Where a request part stands: the guard needs no more of it than that.
public enum RequestPartKind: Sendable { case head, body, end }

/// A request part either HTTP representation can give: Swift HTTP Types' (central, under Hummingbird) or
/// NIOHTTP1's (the edge's own listener).
public protocol GuardedRequestPart: Sendable { var partKind: RequestPartKind { get } }
/// A response part; the guard only needs to know when the response is complete.
public protocol GuardedResponsePart: Sendable { var isEnd: Bool { get } }

extension HTTPRequestPart: GuardedRequestPart {
    public var partKind: RequestPartKind {
        switch self {
        case .head: .head
        case .body: .body
        case .end: .end
        }
    }
}

extension HTTPResponsePart: GuardedResponsePart {
    public var isEnd: Bool { if case .end = self { true } else { false } }
}

extension HTTPPart: GuardedRequestPart where HeadT == HTTPRequestHead, BodyT == ByteBuffer {
    public var partKind: RequestPartKind {
        switch self {
        case .head: .head
        case .body: .body
        case .end: .end
        }
    }
}

extension HTTPPart: GuardedResponsePart where HeadT == HTTPResponseHead, BodyT == IOData {
    public var isEnd: Bool { if case .end = self { true } else { false } }
}

/// The edge writes each answer whole, as one buffer of HTTP bytes.
extension ByteBuffer: GuardedResponsePart {
    public var isEnd: Bool { true }
}

/// The per-connection handler enforcing `ListenerLimits`, placed after HTTP decoding, so it sees request
/// heads, bodies and ends, and responses going out. A connection that misses a deadline is closed;
/// nothing is answered to a client that never finished asking.
///
/// The deadline moves with every request part, so it is kept as a time, not as a timer: one timer per
/// connection fires at the earliest deadline that may apply and, when the deadline has moved on since,
/// is set again for the new one. Setting and cancelling a timer on every request cost a quarter of the
/// throughput of an HTTP server that does nothing else (docs/performance.md).
public final class ConnectionGuard<Request: GuardedRequestPart, Response: GuardedResponsePart>: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = Request
    public typealias InboundOut = Request
    public typealias OutboundIn = Response
    public typealias OutboundOut = Response

    private let limits: ListenerLimits
    private let connections: ClientConnections
    private var client: String?
    /// When the connection is closed unless the client gets on; nil while a response is being prepared
    /// (the server's own time is not the client's fault).
    private var deadline: NIODeadline?
    private var timer: Scheduled<Void>?
    private var timerDeadline: NIODeadline?
    /// Requests received whole and not yet answered (more than one when the client pipelines).
    private var unanswered = 0

    public init(limits: ListenerLimits, connections: ClientConnections) {
        self.limits = limits
        self.connections = connections
    }

    /// The listener adds the guard while it sets a new connection up, before the connection is active;
    /// counting and deadlines start when it becomes active (closing earlier would not take effect).
    public func channelActive(context: ChannelHandlerContext) {
        start(context)
        context.fireChannelActive()
    }

    private func start(_ context: ChannelHandlerContext) {
        let address = context.channel.remoteAddress?.ipAddress ?? "unknown"
        guard connections.admit(address) else {
            context.close(promise: nil)
            return
        }
        client = address
        arm(context, seconds: limits.headerTimeoutSeconds)
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data).partKind {
        case .head:
            arm(context, seconds: limits.bodyTimeoutSeconds)
        case .body:
            break
        case .end:
            unanswered += 1
            deadline = nil
        }
        context.fireChannelRead(data)
    }

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if unanswered > 0, unwrapOutboundIn(data).isEnd {
            unanswered -= 1
            // Every request is answered: the connection may wait for the next one, but not forever.
            if unanswered == 0 { arm(context, seconds: limits.idleTimeoutSeconds) }
        }
        context.write(data, promise: promise)
    }

    public func channelInactive(context: ChannelHandlerContext) {
        finish()
        context.fireChannelInactive()
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        finish()
    }

    private func arm(_ context: ChannelHandlerContext, seconds: Int) {
        let next = NIODeadline.now() + .seconds(Int64(seconds))
        deadline = next
        // A timer already set for this deadline or an earlier one will find the new deadline when it fires.
        if let timerDeadline, timerDeadline <= next, timer != nil { return }
        schedule(context, at: next)
    }

    private func schedule(_ context: ChannelHandlerContext, at time: NIODeadline) {
        timer?.cancel()
        timerDeadline = time
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(deadline: time) {
            let (guard_, context) = loopBound.value
            guard_.fired(context)
        }
    }

    private func fired(_ context: ChannelHandlerContext) {
        timer = nil
        timerDeadline = nil
        guard let deadline else { return }  // responding: the next arm sets a timer again
        if deadline > .now() {
            schedule(context, at: deadline)
        } else {
            context.close(promise: nil)
        }
    }

    private func finish() {
        timer?.cancel()
        timer = nil
        timerDeadline = nil
        deadline = nil
        if let client {
            connections.release(client)
            self.client = nil
        }
    }
}

extension ListenerLimits {
    /// Reads the four keys wherever a configuration keeps them (`[limits]` on the edge, `[connections]`
    /// on central); absent keys keep their defaults.
    public mutating func read(_ reader: inout TOMLReader) throws {
        if let v = try reader.int("header_timeout_seconds", in: 1...3600) { headerTimeoutSeconds = v }
        if let v = try reader.int("body_timeout_seconds", in: 1...3600) { bodyTimeoutSeconds = v }
        if let v = try reader.int("idle_timeout_seconds", in: 1...3600) { idleTimeoutSeconds = v }
        if let v = try reader.int("max_connections_per_client", in: 1...100_000) { maxConnectionsPerClient = v }
    }
}

extension HTTP1Channel.Configuration {
    /// Hummingbird's HTTP/1 channel with a `ConnectionGuard` on every connection of the listener.
    public static func guarded(_ limits: ListenerLimits, connections: ClientConnections) -> HTTP1Channel.Configuration {
        HTTP1Channel.Configuration(
            additionalChannelHandlers: [ConnectionGuard<HTTPRequestPart, HTTPResponsePart>(limits: limits, connections: connections)],
            idleTimeout: .seconds(Int64(limits.idleTimeoutSeconds)))
    }
}
