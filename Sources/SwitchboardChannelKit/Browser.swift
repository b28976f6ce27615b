public import Foundation
public import SwitchboardCore

/// A channel whose clients are web browsers: it serves its own scripts and pages under
/// `/widget/<channel-id>/…` and holds WebSocket connections at `/widget/<channel-id>/ws`.
///
/// The host (the gateway's HTTP server) does the HTTP and WebSocket plumbing and nothing else:
/// it hands the channel plain requests, and each accepted socket as a `ChannelSocket` plus the
/// stream of messages the browser sends. Everything the channel decides — which origins may
/// connect, what a frame means, when to close — stays in the channel, testable without a server.
public protocol BrowserChannel: Channel {
    /// The largest WebSocket message the channel reads — counted over the whole message, however
    /// many fragments (continuation frames) it arrives in; the host closes the socket with 1009
    /// ("message too big") when a browser sends more.
    var maxSocketMessageBytes: Int { get }

    /// Pages worth linking from the gateway's index, such as a demo page.
    var browserPages: [BrowserPage] { get }

    /// Answers a request below `/widget/<channel-id>/` (`GET`, `HEAD`, `POST` or `OPTIONS`).
    /// Never throws: every outcome is an HTTP answer, 404 for paths the channel does not serve.
    func handleBrowserRequest(_ request: BrowserRequest) async -> BrowserResponse

    /// Whether to upgrade a WebSocket handshake at `/widget/<channel-id>/ws` (checks `Origin`).
    /// A refused handshake is answered without upgrading.
    func acceptsSocket(_ handshake: BrowserRequest) -> Bool

    /// Serves one accepted socket until the browser goes away, the channel closes it, or the
    /// task is cancelled.
    func serveSocket<Inbound: AsyncSequence & Sendable>(_ socket: any ChannelSocket, inbound: Inbound, handshake: BrowserRequest) async
    where Inbound.Element == SocketMessage
}

/// A link the gateway's index shows for a browser channel.
public struct BrowserPage: Sendable, Hashable {
    public var title: String
    /// Below `/widget/<channel-id>/`, e.g. `demo`.
    public var path: String

    public init(title: String, path: String) {
        self.title = title
        self.path = path
    }
}

/// An HTTP request to a browser channel, or the handshake of a WebSocket.
public struct BrowserRequest: Sendable {
    public var method: String
    /// The path below `/widget/<channel-id>/`, without a leading slash (`widget.js`, `demo`, `ws`).
    public var path: String
    /// Query parameters (first value wins).
    public var query: [String: String]
    /// Header names lowercased.
    public var headers: [String: String]
    public var body: [UInt8]
    /// The client's IP address as the host resolved it: the TCP peer, or — when that peer is one
    /// of the gateway's trusted proxies — the address the proxy reported. `nil` when the host
    /// does not know (a test); per-address limits then share one key.
    public var clientAddress: String?

    public init(
        method: String, path: String, query: [String: String] = [:], headers: [String: String] = [:], body: [UInt8] = [], clientAddress: String? = nil
    ) {
        self.method = method.uppercased()
        self.path = path
        self.query = query
        self.headers = Dictionary(headers.map { ($0.key.lowercased(), $0.value) }, uniquingKeysWith: { first, _ in first })
        self.body = body
        self.clientAddress = clientAddress
    }

    public func header(_ name: String) -> String? { headers[name.lowercased()] }
}

/// A browser channel's answer.
public struct BrowserResponse: Sendable, Hashable {
    public var status: Int
    /// Header names as they should be sent; `Content-Type` included.
    public var headers: [String: String]
    public var body: [UInt8]

    public init(status: Int, headers: [String: String] = [:], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public static func text(_ status: Int, _ text: String) -> BrowserResponse {
        BrowserResponse(status: status, headers: ["Content-Type": "text/plain; charset=utf-8"], body: Array(text.utf8))
    }

    public static func json(_ status: Int, _ body: [UInt8], headers: [String: String] = [:]) -> BrowserResponse {
        BrowserResponse(status: status, headers: headers.merging(["Content-Type": "application/json"]) { $1 }, body: body)
    }

    public static let notFound = BrowserResponse.text(404, "not found")
}

/// One message a browser sent over a WebSocket (fragments already joined, the whole message
/// within the channel's `maxSocketMessageBytes`).
public enum SocketMessage: Sendable, Hashable {
    case text(String)
    /// Binary data, which the channel may refuse; only the size is kept.
    case binary(byteCount: Int)
}

/// The sending half of an accepted WebSocket, as the host offers it to a channel.
public protocol ChannelSocket: Sendable {
    /// Sends one text message. Throws once the socket is closed.
    func send(_ text: String) async throws
    /// Sends a close frame with `code` (1000–1015 or the private range 4000–4999) and `reason`.
    func close(code: Int, reason: String) async
    /// One element for each ping or pong frame the browser sends. The host answers pings itself,
    /// below the messages a channel reads, so this is how a channel counts them toward its flood
    /// limits. Iterated once; finishes when the socket does. Default: a host that reports none.
    var controlFrames: AsyncStream<Void> { get }
}

extension ChannelSocket {
    public var controlFrames: AsyncStream<Void> { AsyncStream { $0.finish() } }
}

/// The stored conversations of one channel, for channels whose clients fetch what they missed
/// themselves. Sequence numbers are the store's message ids, so any gateway process sharing
/// the store answers the same way.
public protocol ConversationHistory: Sendable {
    func chat(channelID: String, conversationKey: String) async throws -> Chat?
    /// The latest `limit` messages, oldest first.
    func messages(chatID: String, limit: Int) async throws -> [StoredMessage]
    /// The first `limit` messages after `afterID`, oldest first.
    func messages(chatID: String, after afterID: Int64, limit: Int) async throws -> [StoredMessage]
    /// Records that the recipient got these messages; the first delivery counts.
    func markDelivered(chatID: String, messageIDs: [Int64], at: Date) async throws
}

/// `ConversationHistory` over the gateway's store.
public struct StoreConversationHistory: ConversationHistory {
    let store: any Store

    public init(_ store: any Store) { self.store = store }

    public func chat(channelID: String, conversationKey: String) async throws -> Chat? {
        try await store.chat(channelID: channelID, conversationKey: conversationKey)
    }

    public func messages(chatID: String, limit: Int) async throws -> [StoredMessage] {
        try await store.messages(chatID: chatID, limit: limit)
    }

    public func messages(chatID: String, after afterID: Int64, limit: Int) async throws -> [StoredMessage] {
        try await store.messages(chatID: chatID, after: afterID, limit: limit)
    }

    public func markDelivered(chatID: String, messageIDs: [Int64], at: Date) async throws {
        try await store.markDelivered(chatID: chatID, messageIDs: messageIDs, at: at)
    }
}
