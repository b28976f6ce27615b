import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import Metrics
import NIOCore
import NIOHTTP1
import Synchronization

/// The server-wide limits on every connection, from `server:` in config.yaml: how long a client
/// may take to send a request's head and its body, how long a kept-alive connection may sit
/// idle, how many connections may be open at once, and how large a request head may be.
///
/// Without them one client with no credentials could hold any number of sockets open forever
/// (half-sent heads, bodies that never finish) and starve the providers' real webhooks.
struct ConnectionLimits: Sendable {
    /// From connect until the request's head (request line and headers) is complete. Default 10 s.
    var headerTimeout: Duration = .seconds(10)
    /// From the head until the last byte of the body. Default 30 s.
    var bodyTimeout: Duration = .seconds(30)
    /// Between a response and the next request on a kept-alive connection. Default 60 s.
    var idleTimeout: Duration = .seconds(60)
    /// Open connections (WebSockets included) beyond which a new one gets `503` and is closed.
    var maxConnections = 1000
    /// The largest request head; a larger one gets `400`.
    var maxHeaderBytes = 32 * 1024
}

/// What a connection's timers decide, kept apart from NIO so the rules can be tested without
/// sockets or sleeps: events in (request parts read, response parts written, a timer firing),
/// the timer to arm and what to do when one fires out.
struct RequestTimeoutState: Equatable {
    enum Timer: Equatable { case header, body, idle }
    /// What to do when a timer fires.
    enum Expiry: Equatable {
        /// Answer `408 Request Timeout` (nothing of a response has been written) and close.
        case answerAndClose
        /// Close without a word: a response is under way, or an idle connection simply expires.
        case close
    }

    /// The timer running now, if any; a new one replaces it.
    private(set) var armed: Timer? = nil
    /// Between a request's head and its end.
    private(set) var readingRequest = false
    /// Requests whose head was read and whose response has not ended.
    private(set) var unanswered = 0
    /// Whether the response to the newest request has begun.
    private(set) var responseStarted = false

    /// A new connection has until the header timeout to send a whole head.
    mutating func connected() -> Timer? {
        armed = .header
        return armed
    }

    mutating func readHead() -> Timer? {
        readingRequest = true
        unanswered += 1
        responseStarted = false
        armed = .body
        return armed
    }

    /// The request is complete: no timer while the gateway answers (that is the gateway's time).
    mutating func readEnd() -> Timer? {
        readingRequest = false
        armed = nil
        return nil
    }

    mutating func wroteHead() { responseStarted = true }

    /// The response is complete; with nothing left to answer the connection starts idling.
    /// Returns the timer to arm, or `nil` to leave the current one running.
    mutating func wroteEnd() -> Timer? {
        unanswered = max(0, unanswered - 1)
        guard unanswered == 0, !readingRequest else { return nil }
        armed = .idle
        return armed
    }

    mutating func fired(_ timer: Timer) -> Expiry? {
        guard armed == timer else { return nil }
        armed = nil
        switch timer {
        case .idle: return .close
        case .header: return unanswered == 0 ? .answerAndClose : .close
        case .body: return unanswered == 1 && !responseStarted ? .answerAndClose : .close
        }
    }

    /// A malformed request can still be told so when no response is being written.
    var canAnswer: Bool { unanswered == 0 || (unanswered == 1 && !responseStarted) }
}

/// Enforces the header, body and idle timeouts on one HTTP/1 connection and answers malformed
/// framing (a negative, non-numeric or repeated `Content-Length`, an oversized head, broken
/// chunking) with `400` and a closed connection instead of silence.
///
/// Sits right after NIO's request decoder, so it sees parsed request parts and the decoder's
/// errors. A WebSocket upgrade (`101`) removes it: the widget's sockets have their own pings and
/// limits.
final class RequestTimeoutHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private let limits: ConnectionLimits
    private let events: ConnectionEvents
    private var state = RequestTimeoutState()
    private var scheduled: Scheduled<Void>?
    private var closing = false
    private var started = false
    private var failedRequest = false
    /// A `101` was written: from here on the bytes are WebSocket frames, not HTTP parts.
    private var upgraded = false
    private var removed = false

    init(limits: ConnectionLimits, events: ConnectionEvents) {
        self.limits = limits
        self.events = events
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { start(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context)
        context.fireChannelActive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        scheduled?.cancel()
        scheduled = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        scheduled?.cancel()
        scheduled = nil
        failIncompleteRequest(context)
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed? = event as? ChannelEvent { failIncompleteRequest(context) }
        context.fireUserInboundEventTriggered(event)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !upgraded else { return context.fireChannelRead(data) }
        switch unwrapInboundIn(data) {
        case .head: arm(state.readHead(), context)
        case .body: break
        case .end: arm(state.readEnd(), context)
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard !upgraded else { return context.write(data, promise: promise) }
        switch unwrapOutboundIn(data) {
        case .head(let head):
            state.wroteHead()
            context.write(data, promise: promise)
            if head.status == .switchingProtocols {
                // The connection becomes a WebSocket; HTTP timeouts no longer apply. The handler
                // leaves at the flush that follows: leaving inside `write` would swallow that flush.
                upgraded = true
                scheduled?.cancel()
                scheduled = nil
            }
        case .body:
            context.write(data, promise: promise)
        case .end:
            if let timer = state.wroteEnd() { arm(timer, context) }
            context.write(data, promise: promise)
        }
    }

    func flush(context: ChannelHandlerContext) {
        context.flush()
        if upgraded, !removed {
            removed = true
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard error is HTTPParserError || error is ByteToMessageDecoderError else {
            context.fireErrorCaught(error)
            return
        }
        // The decoder refuses everything after its first error; answer once and close.
        guard !closing else { return }
        events.closed(.malformed)
        finish(context, answer: state.canAnswer ? (.badRequest, "malformed HTTP request\n") : nil)
    }

    private func start(_ context: ChannelHandlerContext) {
        guard !started else { return }
        started = true
        arm(state.connected(), context)
    }

    private func arm(_ timer: RequestTimeoutState.Timer?, _ context: ChannelHandlerContext) {
        scheduled?.cancel()
        scheduled = nil
        guard let timer else { return }
        let delay: Duration
        switch timer {
        case .header: delay = limits.headerTimeout
        case .body: delay = limits.bodyTimeout
        case .idle: delay = limits.idleTimeout
        }
        scheduled = context.eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(delay)) { [self] in
            scheduled = nil
            guard !closing, let expiry = state.fired(timer) else { return }
            switch timer {
            case .header: events.closed(.headerTimeout)
            case .body: events.closed(.bodyTimeout)
            case .idle: break
            }
            finish(context, answer: expiry == .answerAndClose ? (.requestTimeout, "request not received in time\n") : nil)
        }
    }

    /// Writes a short answer, if any, and closes the connection.
    private func finish(_ context: ChannelHandlerContext, answer: (HTTPResponseStatus, String)?) {
        closing = true
        scheduled?.cancel()
        scheduled = nil
        guard let (status, text) = answer else {
            close(context)
            return
        }
        let body = context.channel.allocator.buffer(string: text)
        let head = HTTPResponseHead(
            version: .http1_1, status: status,
            headers: ["Content-Type": "text/plain; charset=utf-8", "Content-Length": "\(body.readableBytes)", "Connection": "close"])
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { [self] _ in close(context) }
    }

    /// Hummingbird treats a request body cut short by a closed connection as complete; a route
    /// would then act on part of a body. Ending the request stream with an error instead makes
    /// every reader of the body throw.
    private func failIncompleteRequest(_ context: ChannelHandlerContext) {
        guard state.readingRequest, !failedRequest else { return }
        failedRequest = true
        context.fireErrorCaught(IncompleteRequest())
    }

    private func close(_ context: ChannelHandlerContext) {
        failIncompleteRequest(context)
        // Tell the handlers behind us that no more request is coming before closing: Hummingbird
        // reports a connection closed under a pending WebSocket-upgrade check as an error, one
        // log line per malformed or stalled request, which a flood would turn into a log flood.
        context.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        context.close(promise: nil)
    }
}

@available(*, unavailable)
extension RequestTimeoutHandler: Sendable {}

/// A request whose body ended before its end: the connection closed, timed out or broke.
struct IncompleteRequest: HTTPResponseError {
    var status: HTTPResponse.Status { .badRequest }
    func response(from request: Request, context: some RequestContext) throws -> Response {
        Response(status: status, body: .init(byteBuffer: ByteBuffer(string: "request body incomplete\n")))
    }
}

/// Counts open connections against `server.max_connections` and reports connections the server
/// closed on its own: one warning line a minute at most when the cap is reached, and a metric.
final class ConnectionEvents: Sendable {
    enum Reason: String { case maxConnections = "max_connections", headerTimeout = "header_timeout", bodyTimeout = "body_timeout", malformed }

    private struct State {
        var open = 0
        var refusedSinceReport = 0
        var lastReport: ContinuousClock.Instant?
    }

    let maxConnections: Int
    private let state = Mutex(State())
    private let logger: Logger
    private let metrics: GatewayMetrics?
    /// How often the cap's warning may be repeated while connections keep being refused.
    private let reportInterval: Duration

    init(maxConnections: Int, logger: Logger, metrics: GatewayMetrics?, reportInterval: Duration = .seconds(60)) {
        self.maxConnections = maxConnections
        self.logger = logger
        self.metrics = metrics
        self.reportInterval = reportInterval
    }

    var openConnections: Int { state.withLock { $0.open } }

    /// Admits a new connection, or refuses it when the cap is reached.
    func open() -> Bool {
        let now = ContinuousClock.now
        let (admitted, report): (Bool, Int?) = state.withLock { state in
            if state.open < maxConnections {
                state.open += 1
                return (true, nil)
            }
            state.refusedSinceReport += 1
            if let last = state.lastReport, last.duration(to: now) < reportInterval { return (false, nil) }
            let refused = state.refusedSinceReport
            state.refusedSinceReport = 0
            state.lastReport = now
            return (false, refused)
        }
        if !admitted { metrics?.connectionClosed(reason: Reason.maxConnections.rawValue) }
        if let report {
            logger.warning(
                "connections refused: server.max_connections (\(maxConnections)) open connections reached; new ones get 503 until some close",
                metadata: ["server.refused": "\(report)"])
        }
        return admitted
    }

    func release() { state.withLock { $0.open -= 1 } }

    func closed(_ reason: Reason) { metrics?.connectionClosed(reason: reason.rawValue) }
}

/// Wraps the server's child channel (HTTP/1 with WebSocket upgrades): admits the connection
/// against `server.max_connections` and puts a `RequestTimeoutHandler` right after the request
/// decoder. A refused connection is answered `503` and closed at once — not left waiting in the
/// listen backlog, where a client cannot tell a full server from a dead one.
struct GuardedChildChannel<Base: ServerChildChannel>: ServerChildChannel {
    enum Value: ServerChildChannelValue {
        case admitted(Base.Value)
        case refused(any Channel)

        var channel: any Channel {
            switch self {
            case .admitted(let value): value.channel
            case .refused(let channel): channel
            }
        }
    }

    let base: Base
    let limits: ConnectionLimits
    let events: ConnectionEvents

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        guard events.open() else { return channel.eventLoop.makeSucceededFuture(.refused(channel)) }
        let events = self.events
        channel.closeFuture.whenComplete { _ in events.release() }
        let limits = self.limits
        return base.setup(channel: channel, logger: logger).flatMapThrowing { value in
            let decoder = try channel.pipeline.syncOperations.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)
            try channel.pipeline.syncOperations.addHandler(RequestTimeoutHandler(limits: limits, events: events), position: .after(decoder))
            return .admitted(value)
        }
    }

    func handle(value: Value, logger: Logger) async {
        switch value {
        case .admitted(let value):
            await base.handle(value: value, logger: logger)
        case .refused(let channel):
            let text = "too many connections; try again shortly\n"
            let response =
                "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: \(text.utf8.count)\r\n"
                + "Retry-After: 1\r\nConnection: close\r\n\r\n\(text)"
            try? await channel.writeAndFlush(ByteBuffer(string: response))
            try? await channel.close()
        }
    }
}

extension GatewayMetrics {
    /// Connections the server closed on its own, by reason (bounded: the four `ConnectionEvents.Reason`s).
    func connectionClosed(reason: String) {
        Metrics.Counter(label: "switchboard_connections_closed_total", dimensions: [("reason", reason)], factory: factory).increment()
    }
}
