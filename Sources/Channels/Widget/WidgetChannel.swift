public import Foundation
import Logging
public import SwitchboardChannelKit
public import SwitchboardCore

/// Registers the website chat widget under `type: widget`: one line in the gateway's channel list.
public let widgetChannelType = ChannelType(name: "widget", configuration: WidgetChannel.Configuration.self) { configuration, environment in
    try WidgetChannel(configuration: configuration, environment: environment)
}

/// A chat widget on the business's website, served by the gateway itself.
///
/// One `<script>` tag loads `/widget/<id>/widget.js`, which draws a launcher and a chat panel.
/// The page gets a signed visitor token from `POST /widget/<id>/session` and talks over a
/// WebSocket at `/widget/<id>/ws` (docs/widget-protocol.md). A visitor is often offline:
/// everything the employee writes is stored and each page is sent what it has not seen, in
/// order, on every (re)connect — so reminders written while the visitor was away arrive when
/// they come back, once each, and the chat records when they did.
public struct WidgetChannel: BrowserChannel, RedactedDescription {
    public let id: String
    public let configuration: Configuration
    /// A visitor may be away for days; replies and reminders wait in the store for them.
    public var capabilities: ChannelCapabilities { ChannelCapabilities(recipientMayBeOffline: true) }

    let runtime: WidgetRuntime
    let origins: OriginPolicy
    let assets: WidgetAssets
    /// The gateway's running channels, where `email_fallback` is looked up at send time (it may
    /// start after this one, or be reloaded).
    let channels: ChannelSenders?

    /// - Parameter realNow: real time, for token ages (tests move it).
    public init(configuration: Configuration, environment: ChannelEnvironment, realNow: @escaping @Sendable () -> Date = { Date() }) throws {
        guard let history = environment.history else {
            throw WidgetChannelError("the widget channel needs the gateway's conversation history (ChannelEnvironment.history)")
        }
        self.id = environment.channelID
        self.configuration = configuration
        var logger = environment.logger
        logger[metadataKey: "channel.id"] = "\(environment.channelID)"
        self.channels = environment.channels
        self.origins = OriginPolicy(allowed: configuration.allowedOrigins)
        self.assets = WidgetAssets(channelID: environment.channelID, configuration: configuration, employeeName: environment.employeeName)
        self.runtime = WidgetRuntime(
            channelID: environment.channelID, configuration: configuration, employeeName: environment.employeeName, history: history,
            intake: environment.intake, clock: environment.clock, realNow: realNow,
            keyring: TokenKeyring(configured: configuration.tokenSecret, cursors: environment.cursors, channelID: environment.channelID),
            profiles: VisitorProfiles(cursors: environment.cursors, channelID: environment.channelID), hub: WidgetHub(),
            messageLimiter: SharedRateLimiter(
                name: "widget:\(environment.channelID):messages", capacity: configuration.messageBurst, perSecond: Double(configuration.messagesPerMinute) / 60,
                shared: environment.shared, logger: logger),
            // Far above any person: a ping every 25 s and a few messages a minute.
            frameLimiter: KeyedRateLimiter(capacity: 40, perSecond: 2),
            newVisitorLimiter: SharedRateLimiter(
                name: "widget:\(environment.channelID):new-visitors", capacity: configuration.newVisitorBurst,
                perSecond: Double(configuration.newVisitorsPerHour) / 3600, shared: environment.shared, logger: logger),
            logger: logger)
    }

    /// Short, for logs (service lists print their services).
    /// Described by id and redacted settings, never by the hub that holds the signing key.
    public var redactedFields: KeyValuePairs<String, Any> { ["id": id, "configuration": configuration] }

    /// Authenticated sockets open in this process.
    public var connectionCount: Int { runtime.hub.connectionCount }

    /// The size of `widget.js` as served.
    public var scriptByteCount: Int { assets.script.count }

    /// Loads (or creates) the token key at start, so a store problem shows up now, not at the
    /// first visitor.
    public func run() async throws {
        _ = try await runtime.keyring.key()
    }

    /// The widget has no provider calling a webhook.
    public func handleWebhook(_ request: WebhookRequest) async -> WebhookResult {
        .respond(.text(404, "the widget channel has no webhook; see /widget/\(id)/demo"))
    }

    // MARK: - Outbound

    /// Hands the message to the visitor's open pages, if any: they read it from the store as
    /// soon as it is recorded. `delivered` says whether a page was open; one that was not gets
    /// it on its next connection — and a reminder also by mail, when `email_fallback` is set and
    /// the visitor left an address (its Message-ID is the receipt's second id).
    public func send(_ message: OutboundMessage) async throws -> DeliveryReceipt {
        let providerID = "w_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        let online = runtime.hub.isOnline(message.conversationKey)
        runtime.hub.poke(visitorID: message.conversationKey, expecting: providerID)
        var ids = [providerID]
        if !online, message.purpose == .reminder, let mailID = await emailToOfflineVisitor(message) { ids.append(mailID) }
        return DeliveryReceipt(providerMessageIDs: ids, delivered: online)
    }

    /// Sends a reminder to an offline visitor's email address through the `email_fallback`
    /// channel, which threads every mail to one address. Best effort: the reminder is the
    /// widget's either way (the visitor sees it on the next visit), so a mail that cannot go is
    /// a note in the chat for the admin, never the widget message's failure or retry.
    private func emailToOfflineVisitor(_ message: OutboundMessage) async -> String? {
        guard let fallback = configuration.emailFallback else { return nil }
        let address: String
        do {
            guard let email = try await runtime.profiles.load(message.conversationKey).email else { return nil }
            address = email
        } catch {
            await noteEmailNotSent(message, why: "the visitor's profile could not be read: \(error)")
            return nil
        }
        guard let mailbox = channels?.sender(forChannel: fallback) else {
            await noteEmailNotSent(message, to: address, why: "the email channel '\(fallback)' (email_fallback) is not running")
            return nil
        }
        do {
            let receipt = try await mailbox.send(
                OutboundMessage(
                    chatID: message.chatID, channelID: fallback, conversationKey: address, text: message.text, purpose: .reminder,
                    followUpStep: message.followUpStep, idempotencyKey: message.idempotencyKey.map { "\($0):email" }))
            runtime.logger.info("reminder emailed to an offline widget visitor", metadata: ["widget.email_fallback": "\(fallback)"])
            return receipt.providerMessageIDs.first
        } catch {
            await noteEmailNotSent(message, to: address, why: "\(error)")
            return nil
        }
    }

    private func noteEmailNotSent(_ message: OutboundMessage, to address: String? = nil, why: String) async {
        runtime.logger.warning("could not email a reminder to an offline widget visitor", metadata: ["error": "\(why)"])
        let text = "The reminder was not emailed" + (address.map { " to \($0)" } ?? "") + " (email_fallback): \(why)"
        let note = InboundMessage(
            channelID: id, conversationKey: message.conversationKey,
            providerMessageID: "email-fallback-failed:" + (message.idempotencyKey ?? UUID().uuidString), receivedAt: runtime.clock.now(),
            kind: .system, text: text, event: .note)
        do {
            try await runtime.intake.receive([note])
        } catch {
            runtime.logger.error("could not record why a reminder was not emailed", metadata: ["error": "\(error)"])
        }
    }

    // MARK: - Browser routes

    public var maxSocketMessageBytes: Int { configuration.maxFrameBytes }

    public var browserPages: [BrowserPage] {
        configuration.demo ? [BrowserPage(title: "\(configuration.title) — widget demo", path: "demo")] : []
    }

    public func acceptsSocket(_ handshake: BrowserRequest) -> Bool {
        let verdict = origins.judge(origin: handshake.header("origin"), host: handshake.header("host"))
        if verdict == .refused {
            runtime.logger.notice("widget socket refused: origin not allowed", metadata: ["widget.origin": "\(handshake.header("origin") ?? "")"])
        }
        return verdict != .refused
    }

    public func serveSocket<Inbound: AsyncSequence & Sendable>(_ socket: any ChannelSocket, inbound: Inbound, handshake: BrowserRequest) async
    where Inbound.Element == SocketMessage {
        await WidgetSession(runtime: runtime, socket: socket).run(inbound)
    }

    public func handleBrowserRequest(_ request: BrowserRequest) async -> BrowserResponse {
        switch (request.method, request.path) {
        case ("GET", "widget.js"), ("HEAD", "widget.js"):
            var headers = [
                "Content-Type": "text/javascript; charset=utf-8", "Cache-Control": "public, max-age=300", "ETag": assets.scriptETag,
                // Pages that isolate themselves (COEP) may still load it.
                "Cross-Origin-Resource-Policy": "cross-origin", "X-Content-Type-Options": "nosniff",
            ]
            if request.header("if-none-match") == assets.scriptETag { return BrowserResponse(status: 304, headers: headers) }
            headers["Content-Length"] = "\(assets.script.count)"
            return BrowserResponse(status: 200, headers: headers, body: request.method == "HEAD" ? [] : assets.script)
        case ("GET", "demo"), ("GET", "demo/"), ("HEAD", "demo"):
            guard configuration.demo else { return .notFound }
            return BrowserResponse(
                status: 200, headers: ["Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"],
                body: request.method == "HEAD" ? [] : assets.demoPage)
        case ("POST", "session"):
            return await session(request)
        case ("OPTIONS", "session"):
            return preflight(request)
        case (_, "ws"):
            return BrowserResponse(status: 426, headers: ["Upgrade": "websocket", "Content-Type": "text/plain; charset=utf-8"],
                                   body: Array("this is the widget's WebSocket endpoint".utf8))
        default:
            return .notFound
        }
    }

    private struct SessionRequest: Decodable {
        var visitorToken: String?
        enum CodingKeys: String, CodingKey { case visitorToken = "visitor_token" }
    }

    private struct SessionAnswer: Encodable {
        var visitorToken: String
        var visitorID: String
        var newVisitor: Bool
        var socketPath: String
        var employeeName: String?
        enum CodingKeys: String, CodingKey {
            case visitorToken = "visitor_token", visitorID = "visitor_id", newVisitor = "new_visitor", socketPath = "socket_path"
            case employeeName = "employee_name"
        }
    }

    /// `POST /widget/<id>/session`: the stored token back (renewed after a day), or a new
    /// visitor's. The page then authenticates its socket with it.
    private func session(_ request: BrowserRequest) async -> BrowserResponse {
        let origin = request.header("origin")
        let verdict = origins.judge(origin: origin, host: request.header("host"))
        // The page may read the answer — even a refusal, so it stops trying.
        var headers = ["Cache-Control": "no-store", "Vary": "Origin"]
        if let origin, verdict != .noOrigin { headers["Access-Control-Allow-Origin"] = origin }
        guard verdict != .refused else {
            return .json(403, Array(#"{"error":"origin_not_allowed","message":"this site is not in the widget's allowed_origins"}"#.utf8), headers: headers)
        }
        guard request.body.count <= 4096 else { return .json(413, Array(#"{"error":"body_too_large"}"#.utf8), headers: headers) }
        let presented: String?
        if request.body.allSatisfy({ $0 == 0x20 || $0 == 0x0a || $0 == 0x0d || $0 == 0x09 }) {
            presented = nil
        } else if let body = try? JSONDecoder().decode(SessionRequest.self, from: Data(request.body)) {
            presented = body.visitorToken
        } else {
            return .json(400, Array(#"{"error":"bad_request","message":"send {\"visitor_token\": <stored token or null>}"}"#.utf8), headers: headers)
        }
        let key: TokenKey
        do {
            key = try await runtime.keyring.key()
        } catch {
            runtime.logger.error("widget token key unavailable", metadata: ["error": "\(error)"])
            headers["Retry-After"] = "5"
            return .json(503, Array(#"{"error":"unavailable"}"#.utf8), headers: headers)
        }
        let now = runtime.realNow()
        var token: VisitorToken
        var isNew = false
        if let presented, let valid = try? VisitorToken.verify(presented, channelID: id, key: key, now: now, ttl: runtime.tokenTTL) {
            token = valid
            // Sliding expiry: a visitor who keeps coming back keeps their chat.
            if now.timeIntervalSince(token.issuedAt) > 86400 { token.issuedAt = now }
        } else {
            // Every new visitor is a new chat the AI answers: one address may start only so many.
            if let wait = await runtime.newVisitorLimiter.take(request.clientAddress ?? "unknown", now: now) {
                let milliseconds = max(1, Int(wait.components.seconds) * 1000 + Int(wait.components.attoseconds / 1_000_000_000_000_000))
                headers["Retry-After"] = "\((milliseconds + 999) / 1000)"
                // A cross-site page may read only the body and the headers it is allowed to.
                headers["Access-Control-Expose-Headers"] = "Retry-After"
                runtime.logger.notice("widget refused a new visitor: too many from one address", metadata: ["widget.refusal": "new_visitor_rate"])
                return .json(
                    429, Array(#"{"error":"rate_limited","message":"too many new chats from this address; try again later","retry_after_ms":\#(milliseconds)}"#.utf8),
                    headers: headers)
            }
            token = VisitorToken(visitorID: VisitorToken.newVisitorID(), issuedAt: now)
            isNew = true
        }
        let answer = SessionAnswer(
            visitorToken: token.encoded(channelID: id, key: key), visitorID: token.visitorID, newVisitor: isNew, socketPath: "/widget/\(id)/ws",
            employeeName: runtime.employeeName)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return .json(200, (try? encoder.encode(answer)).map(Array.init) ?? [], headers: headers)
    }

    /// CORS preflight for pages that send `Content-Type: application/json`.
    private func preflight(_ request: BrowserRequest) -> BrowserResponse {
        let origin = request.header("origin")
        guard let origin, origins.judge(origin: origin, host: request.header("host")) != .refused else {
            return BrowserResponse(status: 403, headers: ["Vary": "Origin"])
        }
        return BrowserResponse(
            status: 204,
            headers: [
                "Access-Control-Allow-Origin": origin, "Access-Control-Allow-Methods": "POST", "Access-Control-Allow-Headers": "content-type",
                "Access-Control-Max-Age": "600", "Vary": "Origin",
            ])
    }
}

/// A widget channel that cannot be built.
public struct WidgetChannelError: Error, Sendable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
