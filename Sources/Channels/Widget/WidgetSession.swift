import Foundation
import Logging
import SwitchboardChannelKit
import SwitchboardCore
import Synchronization

/// What every socket of one widget channel shares.
struct WidgetRuntime: Sendable {
    var channelID: String
    var configuration: WidgetChannel.Configuration
    var employeeName: String?
    var history: any ConversationHistory
    var intake: any InboundIntake
    /// Gateway time (scaled in demos): message times and delivery marks.
    var clock: any WallClock
    /// Real time, for token ages: a token outlives a demo's fast-forwarded days.
    var realNow: @Sendable () -> Date
    var keyring: TokenKeyring
    var profiles: VisitorProfiles
    var hub: WidgetHub
    /// Per visitor, shared by their tabs: messages they may send.
    var messageLimiter: SharedRateLimiter
    /// Per visitor: frames of any kind. Counted in this process only: a flood is stopped where
    /// it arrives, without a database write per frame.
    var frameLimiter: KeyedRateLimiter
    /// Per client address: new visitors (fresh tokens) it may start.
    var newVisitorLimiter: SharedRateLimiter
    var logger: Logger

    var tokenTTL: TimeInterval { TimeInterval(configuration.tokenTTLDays) * 86400 }

    static func chatTitle(name: String?, visitorID: String) -> String {
        name ?? "Visitor \(String(visitorID.prefix(4)).uppercased())"
    }
}

/// One browser connection: authenticates it, turns its frames into stored messages, and sends
/// it every message of its chat it has not seen, in order, exactly once.
///
/// Four child tasks: the reader (frames in), the pump (messages out — the only writer of
/// `message` frames, so `seq` order holds), a watchdog (the `auth` deadline) and the control
/// frame counter (pings and pongs, which the host answers, count toward the flood limit). The
/// session ends when the first of them does.
final class WidgetSession: Sendable {
    private enum Phase: Sendable {
        case awaitingAuth
        case authenticated(visitorID: String)
        case closed
    }

    private struct State: Sendable {
        var phase = Phase.awaitingAuth
        var chatID: String?
        /// The highest `seq` this page has: from `auth`, then from every message sent. `nil`:
        /// a fresh page, which gets the latest `history_limit` messages.
        var lastSentSeq: Int64?
        var sentReady = false
        var hasMore = false
        var profile = WidgetProtocol.Profile()
        /// Provider ids of messages being recorded right now (sent by this process's scheduler).
        var expecting: Set<String> = []
    }

    private let runtime: WidgetRuntime
    private let socket: any ChannelSocket
    private let state = Mutex(State())
    private let wakeups: AsyncStream<Void>
    private let wakeupContinuation: AsyncStream<Void>.Continuation
    /// The frame limiter's key until the visitor is known: one connection's frames before `auth`.
    private let connectionKey = "connection:\(UUID().uuidString)"

    init(runtime: WidgetRuntime, socket: any ChannelSocket) {
        self.runtime = runtime
        self.socket = socket
        (wakeups, wakeupContinuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    private var visitorID: String? {
        state.withLock {
            if case .authenticated(let id) = $0.phase { return id }
            return nil
        }
    }

    private var isClosed: Bool {
        state.withLock {
            if case .closed = $0.phase { return true }
            return false
        }
    }

    // MARK: - Lifecycle

    func run<Inbound: AsyncSequence & Sendable>(_ inbound: Inbound) async where Inbound.Element == SocketMessage {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.read(inbound) }
            group.addTask { await self.pump() }
            group.addTask { await self.watchdog() }
            group.addTask { await self.countControlFrames() }
            _ = await group.next()
            finish()
            group.cancelAll()
        }
    }

    /// Closes with `code` unless already closed. The close frame goes out before the session's
    /// tasks are told to stop: stopping cancels the task that may be running this.
    func close(_ code: WidgetProtocol.CloseCode, _ reason: String) async {
        guard markClosed() else { return }
        await socket.close(code: code.rawValue, reason: reason)
        wakeupContinuation.finish()
    }

    /// Closes from a task other than the reader and leaves ending the session to the reader and
    /// the pump (see `pump`), so the close frame goes out before the connection does.
    private func closeAndWait(_ code: WidgetProtocol.CloseCode, _ reason: String) async {
        await close(code, reason)
        while !Task.isCancelled { try? await Task.sleep(for: .seconds(3600)) }
    }

    /// Ends the session after its first task ended.
    private func finish() {
        markClosed()
        wakeupContinuation.finish()
    }

    /// Marks the session closed and leaves the hub; `false` when it already was.
    @discardableResult
    private func markClosed() -> Bool {
        let visitor: String?? = state.withLock { state in
            switch state.phase {
            case .closed: return .none
            case .awaitingAuth:
                state.phase = .closed
                return .some(nil)
            case .authenticated(let id):
                state.phase = .closed
                return .some(id)
            }
        }
        guard let visitor else { return false }
        if let visitor { runtime.hub.unregister(self, visitorID: visitor) }
        return true
    }

    /// Asks the pump to look for new messages.
    func wake(expecting providerMessageID: String? = nil) {
        if let providerMessageID { state.withLock { _ = $0.expecting.insert(providerMessageID) } }
        wakeupContinuation.yield()
    }

    private func watchdog() async {
        try? await Task.sleep(for: .seconds(runtime.configuration.authTimeout))
        guard !Task.isCancelled else { return }
        if visitorID == nil, !isClosed {
            await closeAndWait(.authTimeout, "no auth frame within \(runtime.configuration.authTimeout) s")
            return
        }
        // Authenticated: nothing more to watch; wait to be cancelled with the others.
        while !Task.isCancelled { try? await Task.sleep(for: .seconds(3600)) }
    }

    /// Ping and pong frames cost the gateway a pong each and never reach `handle`: they count
    /// toward the same flood limit as every other frame — the visitor's once authenticated, this
    /// connection's before.
    private func countControlFrames() async {
        for await _ in socket.controlFrames {
            if isClosed { return }
            if runtime.frameLimiter.take(visitorID ?? connectionKey) != nil {
                runtime.logger.notice("widget socket closed: control frame flood", metadata: ["widget.close": "4429"])
                await closeAndWait(.rateLimited, "too many frames; slow down")
                return
            }
        }
        // The host reports no more: wait to be cancelled with the others.
        while !Task.isCancelled { try? await Task.sleep(for: .seconds(3600)) }
    }

    // MARK: - Frames in

    private func read<Inbound: AsyncSequence>(_ inbound: Inbound) async where Inbound.Element == SocketMessage {
        do {
            for try await message in inbound {
                await handle(message)
                if isClosed { return }
            }
        } catch {
            // The connection broke; there is nobody to tell.
        }
    }

    func handle(_ message: SocketMessage) async {
        guard case .text(let text) = message else {
            await close(.unsupportedData, "the widget protocol is JSON text frames")
            return
        }
        // Before `auth` there is one frame to judge; after it, the visitor's frames are counted
        // across their tabs.
        if let visitorID, runtime.frameLimiter.take(visitorID) != nil {
            runtime.logger.notice("widget socket closed: frame flood", metadata: ["widget.close": "4429"])
            await close(.rateLimited, "too many frames; slow down")
            return
        }
        guard let frame = WidgetProtocol.decode(text) else {
            await close(.malformed, "every frame is a JSON object with a string \"type\"")
            return
        }
        guard let visitorID else {
            if frame.type == "auth" {
                await authenticate(frame)
            } else {
                await close(.unauthorized, "the first frame must be auth")
            }
            return
        }
        switch frame.type {
        case "message": await receive(frame, visitorID: visitorID)
        case "profile": await updateProfile(frame, visitorID: visitorID)
        case "ping":
            await send(WidgetProtocol.Pong())
            // A cheap look at the store: messages another gateway process sent arrive this way.
            wake()
        case "auth": await sendError("already_authenticated", "this socket is already authenticated")
        default: await sendError("unknown_type", "unknown frame type")
        }
    }

    private func authenticate(_ frame: WidgetProtocol.ClientFrame) async {
        guard let text = frame.visitorToken, !text.isEmpty else {
            await close(.unauthorized, "missing visitor token")
            return
        }
        if let last = frame.lastSeq, last < 0 {
            await close(.malformed, "last_seq must be a sequence number or null")
            return
        }
        let token: VisitorToken
        do {
            let key = try await runtime.keyring.key()
            token = try VisitorToken.verify(text, channelID: runtime.channelID, key: key, now: runtime.realNow(), ttl: runtime.tokenTTL)
        } catch let rejection as VisitorToken.Rejection {
            // The token itself is never logged.
            runtime.logger.notice("widget socket refused a visitor token", metadata: ["widget.token": "\(rejection.rawValue)"])
            await close(.unauthorized, "invalid or expired visitor token")
            return
        } catch {
            runtime.logger.error("widget token key unavailable", metadata: ["error": "\(error)"])
            await close(.internalError, "try again later")
            return
        }
        let profile: WidgetProtocol.Profile
        do {
            profile = try await runtime.profiles.load(token.visitorID)
        } catch {
            runtime.logger.error("widget could not read a visitor profile", metadata: ["error": "\(error)"])
            await close(.internalError, "try again later")
            return
        }
        let authenticated = state.withLock { state -> Bool in
            guard case .awaitingAuth = state.phase else { return false }
            state.phase = .authenticated(visitorID: token.visitorID)
            state.lastSentSeq = frame.lastSeq
            state.profile = profile
            return true
        }
        guard authenticated else { return }
        let evicted = runtime.hub.register(self, visitorID: token.visitorID, limit: runtime.configuration.maxConnectionsPerVisitor)
        for older in evicted { await older.close(.replaced, "the visitor opened a newer connection") }
        wake()
    }

    private func receive(_ frame: WidgetProtocol.ClientFrame, visitorID: String) async {
        guard let clientMsgID = frame.clientMsgID, ClientMessageID.isValid(clientMsgID) else {
            await sendError("bad_client_msg_id", "client_msg_id must be 1–64 characters of A-Z a-z 0-9 _ -", clientMsgID: nil)
            return
        }
        let text = (frame.text ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty else {
            await sendError("empty_text", "a message needs text", clientMsgID: clientMsgID)
            return
        }
        guard text.count <= runtime.configuration.maxTextLength else {
            await sendError("text_too_long", "messages are at most \(runtime.configuration.maxTextLength) characters", clientMsgID: clientMsgID)
            return
        }
        if let wait = await runtime.messageLimiter.take(visitorID, now: runtime.realNow()) {
            let milliseconds = Int(wait.components.seconds) * 1000 + Int(wait.components.attoseconds / 1_000_000_000_000_000) + 1
            await sendError("rate_limited", "too many messages; try again shortly", clientMsgID: clientMsgID, retryAfterMs: milliseconds)
            return
        }
        let name = state.withLock { $0.profile.name }
        let message = InboundMessage(
            channelID: runtime.channelID, conversationKey: visitorID,
            providerMessageID: ClientMessageID.providerID(visitorID: visitorID, clientMsgID: clientMsgID), senderName: name,
            chatTitle: WidgetRuntime.chatTitle(name: name, visitorID: visitorID), receivedAt: runtime.clock.now(), kind: .text, text: text)
        do {
            try await runtime.intake.receive([message])
        } catch {
            runtime.logger.error("widget message could not be stored", metadata: ["error": "\(error)"])
            await sendError("unavailable", "the message was not stored; it will be sent again", clientMsgID: clientMsgID, retryAfterMs: 2000)
            return
        }
        await send(WidgetProtocol.Ack(clientMsgID: clientMsgID))
        // Every tab of the visitor shows it (this one as the ack's `seq`).
        runtime.hub.poke(visitorID: visitorID)
    }

    private func updateProfile(_ frame: WidgetProtocol.ClientFrame, visitorID: String) async {
        guard let profile = VisitorProfiles.validated(name: frame.name, email: frame.email) else {
            await sendError("invalid_profile", "a name is at most 80 characters; an email looks like name@example.com")
            return
        }
        do {
            try await runtime.profiles.save(profile, for: visitorID)
        } catch {
            await sendError("unavailable", "could not save; try again")
            return
        }
        state.withLock { $0.profile = profile }
        var echo = profile
        echo.type = "profile"
        await send(echo)
    }

    // MARK: - Frames out

    private func send(_ frame: some Encodable) async {
        try? await socket.send(WidgetProtocol.encode(frame))
    }

    private func sendError(_ code: String, _ message: String, clientMsgID: String? = nil, retryAfterMs: Int? = nil) async {
        await send(WidgetProtocol.ErrorFrame(code: code, message: message, clientMsgID: clientMsgID, retryAfterMs: retryAfterMs))
    }

    private func pump() async {
        for await _ in wakeups {
            guard visitorID != nil else { continue }
            await catchUp()
        }
        // Closed. The session ends when the reader does — the browser answered the close frame —
        // or after a few seconds if it does not. Ending at once would cancel the reader in the
        // middle of a read, and the WebSocket layer would then drop the connection, possibly
        // before the close frame (queued behind other frames) went out.
        try? await Task.sleep(for: .seconds(5))
    }

    /// Sends what the page has not seen; when a message this process is recording right now is
    /// not visible yet, looks again for a few seconds.
    private func catchUp() async {
        let started = ContinuousClock.now
        var pause = Duration.milliseconds(5)
        while !isClosed {
            do {
                try await sendUnseen()
            } catch is SocketGone {
                await close(.normal, "gone")
                return
            } catch {
                runtime.logger.error("widget could not read the chat history", metadata: ["error": "\(error)"])
            }
            let (needsReady, waiting) = state.withLock { state -> (WidgetProtocol.Ready?, Bool) in
                var ready: WidgetProtocol.Ready?
                if !state.sentReady, case .authenticated(let visitorID) = state.phase {
                    state.sentReady = true
                    ready = WidgetProtocol.Ready(
                        visitorID: visitorID, chatTitle: WidgetRuntime.chatTitle(name: state.profile.name, visitorID: visitorID),
                        employeeName: runtime.employeeName, lastSeq: state.lastSentSeq, hasMore: state.hasMore, profile: state.profile)
                }
                return (ready, !state.expecting.isEmpty)
            }
            if let needsReady { await send(needsReady) }
            guard waiting else { return }
            guard ContinuousClock.now - started < .seconds(5) else {
                // Not recorded after all (or recorded by a process that died); the next wake-up
                // or reconnect finds it if it ever is.
                state.withLock { $0.expecting.removeAll() }
                return
            }
            try? await Task.sleep(for: pause)
            pause = min(pause * 2, .milliseconds(200))
        }
    }

    private struct SocketGone: Error {}

    private func sendUnseen() async throws {
        let snapshot = state.withLock { state -> (String, String?, Int64?)? in
            guard case .authenticated(let visitorID) = state.phase else { return nil }
            return (visitorID, state.chatID, state.lastSentSeq)
        }
        guard let (visitorID, knownChat, lastSent) = snapshot else { return }
        var chatID = knownChat
        if chatID == nil {
            chatID = try await runtime.history.chat(channelID: runtime.channelID, conversationKey: visitorID)?.id
            state.withLock { $0.chatID = chatID }
        }
        guard let chatID else { return }
        if let lastSent {
            var after = lastSent
            while true {
                let batch = try await runtime.history.messages(chatID: chatID, after: after, limit: 100)
                try await deliver(batch, chatID: chatID, visitorID: visitorID)
                guard batch.count == 100, let last = batch.last else { return }
                after = last.id
            }
        } else {
            let limit = runtime.configuration.historyLimit
            let recent = try await runtime.history.messages(chatID: chatID, limit: limit + 1)
            state.withLock { $0.hasMore = recent.count > limit }
            try await deliver(Array(recent.suffix(limit)), chatID: chatID, visitorID: visitorID)
            // A chat exists: from now on this page has seen everything up to the last id.
            state.withLock { state in
                if state.lastSentSeq == nil { state.lastSentSeq = recent.last?.id ?? 0 }
            }
        }
    }

    /// Writes messages to the socket in order, then records the employee's as delivered.
    private func deliver(_ messages: [StoredMessage], chatID: String, visitorID: String) async throws {
        var delivered: [Int64] = []
        for message in messages {
            // Never send a message twice, nor out of order, even if two passes overlap.
            let fresh = state.withLock { state -> Bool in
                if let last = state.lastSentSeq, message.id <= last { return false }
                if let providerID = message.providerMessageID { state.expecting.remove(providerID) }
                return true
            }
            guard fresh else { continue }
            if let frame = WidgetProtocol.frame(for: message, visitorID: visitorID) {
                do {
                    try await socket.send(WidgetProtocol.encode(frame))
                } catch {
                    throw SocketGone()
                }
                if message.author != .client, message.deliveredAt == nil { delivered.append(message.id) }
            }
            state.withLock { $0.lastSentSeq = message.id }
        }
        guard !delivered.isEmpty else { return }
        do {
            try await runtime.history.markDelivered(chatID: chatID, messageIDs: delivered, at: runtime.clock.now())
        } catch {
            runtime.logger.error("widget could not record a delivery", metadata: ["error": "\(error)"])
        }
    }
}
