import Foundation
import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOWebSocket
import SwitchboardChannelKit

/// The request context of WebSocket upgrades: Hummingbird's basics, the connection's peer (for
/// per-address limits) and its NIO channel, which the upgraded socket keeps: the host watches
/// its control frames there.
struct BrowserSocketRequestContext: RequestContext, WebSocketRequestContext, RemoteAddressRequestContext {
    var coreContext: CoreRequestContextStorage
    let webSocket: WebSocketHandlerReference<Self>
    let remoteAddress: SocketAddress?
    let connection: any NIOCore.Channel

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        webSocket = .init()
        remoteAddress = source.channel.remoteAddress
        connection = source.channel
    }
}

/// A browser's WebSocket messages as a channel reads them: data frames joined into messages, and
/// a message larger than `maxSize` — whether in one frame or in many fragments — closes the
/// socket with 1009 and ends the sequence.
///
/// hummingbird-websocket limits each *frame* (`maxFrameSize`, the largest of every channel's
/// limit), and its own message assembly reports an oversized fragmented message as an error
/// the handler would have to turn into a close code itself; joining here keeps one rule, the
/// channel's, for both shapes.
struct BrowserSocketMessages: AsyncSequence, Sendable {
    typealias Element = SocketMessage

    let frames: WebSocketInboundStream
    let outbound: WebSocketOutboundWriter
    let maxSize: Int

    struct AsyncIterator: AsyncIteratorProtocol {
        var frames: WebSocketInboundStream.AsyncIterator
        let outbound: WebSocketOutboundWriter
        let maxSize: Int
        var done = false

        mutating func next() async throws -> SocketMessage? {
            guard !done else { return nil }
            var opcode: WebSocketDataFrame.Opcode?
            var buffer = ByteBuffer()
            while let frame = try await frames.next() {
                switch (frame.opcode, opcode) {
                case (.text, nil), (.binary, nil):
                    opcode = frame.opcode
                case (.continuation, .some):
                    break
                default:
                    // A continuation with nothing to continue, or a new message inside one.
                    return try await end(.protocolError, "unexpected continuation frame")
                }
                guard buffer.readableBytes + frame.data.readableBytes <= maxSize else {
                    return try await end(.messageTooLarge, "messages are at most \(maxSize) bytes")
                }
                var data = frame.data
                buffer.writeBuffer(&data)
                guard frame.fin else { continue }
                if opcode == .binary { return .binary(byteCount: buffer.readableBytes) }
                guard let text = String(validating: buffer.readableBytesView, as: UTF8.self) else {
                    return try await end(.dataInconsistentWithMessage, "text frames are UTF-8")
                }
                return .text(text)
            }
            done = true
            return nil
        }

        private mutating func end(_ code: WebSocketErrorCode, _ reason: String) async throws -> SocketMessage? {
            done = true
            try? await outbound.close(code, reason: reason)
            return nil
        }
    }

    func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(frames: frames.makeAsyncIterator(), outbound: outbound, maxSize: maxSize)
    }
}

/// Passes every WebSocket frame on and reports each ping and pong the browser sends: the
/// WebSocket layer answers them before any application code sees a frame, so without this a
/// flood of pings would cost a pong each and count toward no limit.
final class ControlFrameWatcher: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = WebSocketFrame
    typealias InboundOut = WebSocketFrame

    private let continuation: AsyncStream<Void>.Continuation

    init(_ continuation: AsyncStream<Void>.Continuation) { self.continuation = continuation }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        if frame.opcode == .ping || frame.opcode == .pong { continuation.yield() }
        context.fireChannelRead(data)
    }

    func channelInactive(context: ChannelHandlerContext) {
        continuation.finish()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) { continuation.finish() }

    /// Puts a watcher right after the WebSocket frame decoder of an upgraded connection and
    /// returns what it reports; an empty, finished stream when the pipeline is not the one
    /// expected (nothing is counted, nothing breaks).
    static func install(on connection: any NIOCore.Channel) async -> AsyncStream<Void> {
        // Bounded: a consumer that falls behind a flood loses counts it no longer needs.
        let (stream, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(256))
        do {
            try await connection.eventLoop.submit {
                let pipeline = connection.pipeline.syncOperations
                let decoder = try pipeline.handler(type: ByteToMessageHandler<WebSocketFrameDecoder>.self)
                try pipeline.addHandler(ControlFrameWatcher(continuation), position: .after(decoder))
            }.get()
        } catch {
            continuation.finish()
        }
        return stream
    }
}

/// A hummingbird-websocket outbound writer as a channel sees a socket.
struct HummingbirdChannelSocket: ChannelSocket {
    let outbound: WebSocketOutboundWriter
    let controlFrames: AsyncStream<Void>

    func send(_ text: String) async throws {
        try await outbound.write(.text(text))
    }

    func close(code: Int, reason: String) async {
        try? await outbound.close(.init(codeNumber: code), reason: reason)
    }
}
