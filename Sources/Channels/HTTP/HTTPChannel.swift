import AsyncHTTPClient
import Crypto
public import Foundation
import Logging
import NIOCore
public import SwitchboardChannelKit
public import SwitchboardCore

/// Registers the generic adapter under `type: http`: one line in the gateway's channel list.
public let httpChannelType = ChannelType(name: "http", configuration: HTTPChannel.Configuration.self) { configuration, environment in
    HTTPChannel(configuration: configuration, environment: environment)
}

/// Connects any system that can send and receive signed JSON over HTTP (an SMS gateway, an
/// in-house app, a CRM) without an adapter of its own.
///
/// Inbound, it verifies `X-Switchboard-Signature` over the raw body, refuses stale timestamps
/// and replays, and maps each message to an `InboundMessage` deduplicated on `message_id`.
/// Receipts at `/webhooks/<id>/receipts` become delivery statuses. Outbound, it POSTs each
/// message to `outbound_url`, signed the same way, and classifies the receiver's answer for the
/// outbox, which retries and dead-letters. The protocol is in docs/http-channel.md.
public struct HTTPChannel: SwitchboardChannelKit.Channel {
    /// The most messages (or receipts) one batch may carry.
    public static let maxBatch = 1000
    /// How much of a refusing receiver's answer is kept in the error (and the dead letter).
    static let maxAnswerBytes = 500
    /// How much of an answer is read at most; receivers answer with a few bytes.
    static let maxDrainBytes = 1 << 20

    public let id: String
    public let configuration: Configuration
    public let capabilities: ChannelCapabilities

    let environment: ChannelEnvironment
    let logger: Logger
    let signer: Signer
    let replays: ReplayGuard
    /// Real time, for signature timestamps: the gateway's clock may run faster in a demo, but
    /// the other side signs with its wall clock. Tests move it.
    let realNow: @Sendable () -> Date

    public init(configuration: Configuration, environment: ChannelEnvironment, realNow: @escaping @Sendable () -> Date = { Date() }) {
        self.id = environment.channelID
        self.configuration = configuration
        self.environment = environment
        self.realNow = realNow
        var logger = environment.logger
        logger[metadataKey: "channel.id"] = "\(environment.channelID)"
        self.logger = logger
        self.signer = Signer(secret: configuration.secret.value)
        self.replays = ReplayGuard()
        self.capabilities = ChannelCapabilities(
            maxTextLength: configuration.maxText, freeFormWindow: configuration.window?.duration, pullIn: configuration.window?.pullIn ?? false,
            reengagementTemplate: configuration.window?.template, recipientMayBeOffline: configuration.offlineDelivery)
    }

    public var maxWebhookBodyBytes: Int? { configuration.maxBodyBytes }

    // MARK: - Inbound

    /// Verifies the signature over the raw bytes, then decodes messages (`/webhooks/<id>`) or
    /// receipts (`/webhooks/<id>/receipts`). Nothing is stored unless every element is valid.
    public func handleWebhook(_ request: WebhookRequest) async -> WebhookResult {
        let kind: BodyKind
        switch request.path {
        case "": kind = .messages
        case "receipts": kind = .receipts
        default: return .respond(.text(404, "an http channel serves /webhooks/\(id) and /webhooks/\(id)/receipts"))
        }
        guard request.method == "POST" else { return .respond(.text(405, "send a POST request")) }
        guard request.body.count <= configuration.maxBodyBytes else { return .respond(.text(413, "body larger than max_body_bytes")) }

        let now = realNow()
        let signature: String
        do throws(Signer.Refusal) {
            signature = try signer.verify(
                signature: request.header(Signer.signatureHeader), timestamp: request.header(Signer.timestampHeader), body: request.body, now: now)
        } catch {
            // The presented values are not logged: a near-miss signature says something about the secret.
            logger.notice("Rejected an unsigned or wrongly signed request", metadata: ["http.reason": "\(error.message)"])
            return .respond(.text(401, error.message))
        }
        let result =
            switch kind {
            case .messages: acceptMessages(request.body)
            case .receipts: acceptReceipts(request.body)
            }
        // Only a valid body is remembered, so the same malformed request gets the same 400.
        guard case .accept = result else { return result }
        guard await firstSight(signature, expires: now.addingTimeInterval(2 * Signer.tolerance), now: now) else {
            logger.notice("Rejected a replayed request")
            return .respond(
                .text(
                    409,
                    "this exact signed request was already received and stored; nothing to do (to send new content, sign a new request)"
                ))
        }
        return result
    }

    /// The gateway could not store an accepted request (it answered 503): its identical retry
    /// must be taken, not refused as a replay.
    public func webhookNotStored(_ request: WebhookRequest) {
        guard
            let signature = try? signer.verify(
                signature: request.header(Signer.signatureHeader), timestamp: request.header(Signer.timestampHeader), body: request.body, now: realNow())
        else { return }
        replays.forget(signature)
        if let shared = environment.shared {
            let name = seenName(signature)
            Task { try? await shared.updateShared(name, now: Date()) { $0 = nil } }
        }
    }

    /// Whether this signed request is new. Where gateway processes share a store, a replay may
    /// reach another process than the original: it is recognised in the shared state. Without
    /// one, or while the store cannot be reached, this process's memory decides.
    private func firstSight(_ signature: String, expires: Date, now: Date) async -> Bool {
        if let shared = environment.shared {
            do {
                return try await shared.updateShared(seenName(signature), now: now) { value in
                    guard value == nil else { return false }
                    value = SharedValue("seen", expires: expires)
                    return true
                }
            } catch {
                logger.warning("shared replay check unavailable; checking in this process", metadata: ["error": "\(error)"])
            }
        }
        return replays.firstSight(signature, expires: expires, now: now)
    }

    private func seenName(_ signature: String) -> String { "http:\(id):seen:\(signature)" }

    private enum BodyKind { case messages, receipts }

    private func acceptMessages(_ body: [UInt8]) -> WebhookResult {
        let wire: [InboundWireMessage]
        do throws(Malformed) {
            wire = try Self.decodeOneOrBatch(body, batchKey: "messages", single: InboundWireMessage.self)
        } catch {
            return .respond(.text(400, error.message))
        }
        let receivedAt = environment.clock.now()
        var messages: [InboundMessage] = []
        for (index, message) in wire.enumerated() {
            let at = wire.count > 1 ? "messages[\(index)]." : ""
            guard !message.text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
                return .respond(.text(400, "\(at)text is empty; send the client's words"))
            }
            let name = message.client?.name.flatMap { $0.trimmingCharacters(in: .whitespaces).isEmpty ? nil : $0 }
            messages.append(
                InboundMessage(
                    channelID: id, conversationKey: message.chatID, providerMessageID: message.messageID, senderName: name,
                    senderHandle: message.client?.id, chatTitle: name, receivedAt: receivedAt, text: message.text))
        }
        logger.debug("Webhook messages", metadata: ["http.messages": "\(messages.count)"])
        return .accept(messages, statuses: [], response: Self.accepted(messages.count))
    }

    private func acceptReceipts(_ body: [UInt8]) -> WebhookResult {
        let wire: [WireReceipt]
        do throws(Malformed) {
            wire = try Self.decodeOneOrBatch(body, batchKey: "receipts", single: WireReceipt.self)
        } catch {
            return .respond(.text(400, error.message))
        }
        let at = environment.clock.now()
        let updates = wire.map { receipt in
            let state: DeliveryState =
                switch receipt.status {
                case .delivered: .delivered
                case .read: .read
                case .failed: .failed
                }
            let error = receipt.error.map { String($0.prefix(Self.maxAnswerBytes)) }
            return DeliveryStatusUpdate(
                channelID: id, providerMessageID: receipt.messageID, state: state, at: at, error: state == .failed ? error : nil,
                windowClosed: state == .failed && receipt.error == Self.windowClosedError)
        }
        logger.debug("Webhook receipts", metadata: ["http.receipts": "\(updates.count)"])
        return .accept([], statuses: updates, response: Self.accepted(updates.count))
    }

    /// A failed receipt with this `error` says the receiver refused free-form text because the
    /// client's window had closed: the reminder goes the template path or is skipped.
    public static let windowClosedError = "window_closed"

    static func accepted(_ count: Int) -> WebhookResponse {
        WebhookResponse(status: 200, contentType: "application/json", body: Array(#"{"accepted":\#(count)}"#.utf8))
    }

    /// A malformed body, with where and what is wrong.
    struct Malformed: Error { var message: String }

    /// A single object, or `{"<batchKey>": [...]}` with at most ``maxBatch`` elements.
    static func decodeOneOrBatch<Single: Decodable>(_ body: [UInt8], batchKey: String, single: Single.Type) throws(Malformed) -> [Single] {
        let list: [Single]
        do {
            let decoder = JSONDecoder()
            decoder.userInfo[OneOrBatch<Single>.batchKey] = batchKey
            list = try decoder.decode(OneOrBatch<Single>.self, from: Data(body)).elements
        } catch let DecodingError.dataCorrupted(context) where context.codingPath.isEmpty && context.underlyingError != nil {
            throw Malformed(message: "body is not valid JSON")
        } catch let DecodingError.typeMismatch(_, context) where context.codingPath.isEmpty {
            throw Malformed(message: "body must be a JSON object")
        } catch {
            throw Malformed(message: Self.decodingSummary(error))
        }
        guard list.count <= maxBatch else {
            throw Malformed(message: "\(batchKey) has \(list.count) elements; send at most \(maxBatch) per request")
        }
        return list
    }

    /// Where decoding failed and why, without the payload (it is a client's message).
    static func decodingSummary(_ error: any Error) -> String {
        guard let error = error as? DecodingError else { return "body is not a valid message" }
        switch error {
        case .keyNotFound(let key, let context): return "\(path(context.codingPath + [key])) is missing"
        case .typeMismatch(_, let context), .valueNotFound(_, let context):
            let detail = context.debugDescription.hasPrefix("must") ? context.debugDescription : "has the wrong type"
            return "\(path(context.codingPath)) \(detail)"
        case .dataCorrupted(let context): return "\(path(context.codingPath)) \(context.debugDescription)"
        @unknown default: return "body is not a valid message"
        }
    }

    private static func path(_ keys: [any CodingKey]) -> String {
        guard !keys.isEmpty else { return "body" }
        var text = ""
        for key in keys {
            if let index = key.intValue {
                text += "[\(index)]"
            } else {
                text += text.isEmpty ? key.stringValue : ".\(key.stringValue)"
            }
        }
        return text
    }

    // MARK: - Outbound

    /// POSTs the message to `outbound_url`, signed, one request per part when `max_text` splits
    /// it. Each part's `message_id` and `Idempotency-Key` are derived from the outbox's key, so
    /// the outbox's retry of a message (all parts again) repeats the ids and the receiver can
    /// drop what it already has.
    public func send(_ message: OutboundMessage) async throws -> DeliveryReceipt {
        let parts = configuration.maxText.map { TextSplitter.split(message.text, limit: $0) } ?? [message.text]
        // Outside the outbox (a test, a tool) there is no stable key; a random one still gives
        // each part a unique id.
        let baseKey = message.idempotencyKey ?? "adhoc:\(UUID().uuidString)"
        var ids: [String] = []
        var anyHeld = false
        for (index, text) in parts.enumerated() {
            let key = parts.count == 1 ? baseKey : "\(baseKey):part-\(index + 1)"
            let wire = OutboundWireMessage(
                messageID: Self.messageID(idempotencyKey: baseKey, part: index), chatID: message.conversationKey, text: text,
                kind: (message.purpose ?? .reply).rawValue, followupStep: message.followUpStep,
                template: { if case .template(let name) = message.delivery { name } else { nil } }(),
                part: parts.count > 1 ? index + 1 : nil, parts: parts.count > 1 ? parts.count : nil)
            do throws(DeliveryError) {
                let status = try await post(wire, idempotencyKey: key)
                if status == 202, configuration.offlineDelivery { anyHeld = true }
            } catch {
                var failure = error
                if index > 0 { failure.message += " (after \(index) of \(parts.count) parts were accepted; a retry resends them with the same message_id)" }
                logger.warning(
                    "The receiver did not take a message", metadata: ["chat.id": "\(message.chatID)", "delivery.kind": "\(failure.kind.rawValue)"])
                throw failure
            }
            ids.append(wire.messageID)
        }
        logger.debug("Sent", metadata: ["chat.id": "\(message.chatID)", "http.parts": "\(parts.count)"])
        return DeliveryReceipt(providerMessageIDs: ids, delivered: !anyHeld)
    }

    /// `sb_` and 24 hex digits of SHA-256 over the idempotency key and the part number: the same
    /// on every retry, different for every message and part.
    public static func messageID(idempotencyKey: String, part: Int) -> String {
        "sb_" + hex(SHA256.hash(data: Array("\(idempotencyKey)#\(part)".utf8))).prefix(24)
    }

    /// One signed POST; the receiver's status, or a classified `DeliveryError`.
    private func post(_ wire: OutboundWireMessage, idempotencyKey: String) async throws(DeliveryError) -> Int {
        let body: Data
        do {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            body = try encoder.encode(wire)
        } catch {
            throw DeliveryError(.permanent, "could not encode the message: \(error)")
        }
        let timestamp = Int64(realNow().timeIntervalSince1970)
        var request = HTTPClientRequest(url: configuration.outboundURL)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "User-Agent", value: "switchboard-http-channel")
        request.headers.add(name: Signer.timestampHeader, value: String(timestamp))
        request.headers.add(name: Signer.signatureHeader, value: signer.signature(timestamp: timestamp, body: body))
        request.headers.add(name: "Idempotency-Key", value: idempotencyKey)
        request.body = .bytes(ByteBuffer(bytes: body))

        let status: Int
        let retryAfter: String?
        let answer: ByteBuffer
        do {
            let response = try await environment.httpClient.execute(request, timeout: .seconds(Int64(configuration.requestTimeout)))
            status = Int(response.status.code)
            retryAfter = response.headers.first(name: "Retry-After")
            // Only the start of an answer is kept. The rest is read, up to a limit, so the
            // connection can be reused; past it the client closes the connection instead.
            var collected = ByteBuffer()
            var total = 0
            for try await var chunk in response.body {
                total += chunk.readableBytes
                if collected.readableBytes <= Self.maxAnswerBytes { collected.writeBuffer(&chunk) }
                if total > Self.maxDrainBytes { break }
            }
            answer = collected
        } catch {
            if Task.isCancelled || error is CancellationError {
                throw DeliveryError(.retryable, "cancelled while sending to \(Self.origin(of: configuration.outboundURL))")
            }
            throw DeliveryError(.retryable, "could not reach the receiver at \(Self.origin(of: configuration.outboundURL)): \(redacted(String(describing: error)))")
        }
        if (200..<300).contains(status) { return status }
        throw Self.classify(status: status, retryAfter: retryAfter, answer: Array(answer.readableBytesView), now: realNow())
    }

    /// The receiver's refusal, for the outbox: 408, 429 and 5xx are worth retrying (429 after
    /// its `Retry-After`); 410 says the chat is gone for good; every other answer is permanent
    /// and keeps the start of the receiver's body, so the dead letter says why.
    static func classify(status: Int, retryAfter: String?, answer: [UInt8], now: Date) -> DeliveryError {
        let said = summary(answer)
        let message = "the receiver answered \(status)" + (said.isEmpty ? "" : ": \(said)")
        switch status {
        case 429:
            return DeliveryError(.retryable, message, retryAfter: retryAfter.flatMap { parseRetryAfter($0, now: now) })
        case 408, 500...:
            return DeliveryError(.retryable, message, retryAfter: status == 503 ? retryAfter.flatMap { parseRetryAfter($0, now: now) } : nil)
        case 410:
            return DeliveryError(.unreachable, message)
        case 300..<400:
            return DeliveryError(.permanent, message + " (a redirect; set outbound_url to the final address)")
        default:
            return DeliveryError(.permanent, message)
        }
    }

    /// `Retry-After` in seconds or as an HTTP date; capped at a day so a typo cannot park a
    /// message for years.
    static func parseRetryAfter(_ text: String, now: Date) -> Duration? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if let seconds = Int(trimmed), seconds >= 0 { return .seconds(min(seconds, 86_400)) }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let date = formatter.date(from: trimmed) else { return nil }
        return .seconds(min(max(0, Int(date.timeIntervalSince(now).rounded(.up))), 86_400))
    }

    /// The first ``maxAnswerBytes`` of an answer as one printable line.
    static func summary(_ answer: [UInt8]) -> String {
        let text = String(decoding: answer.prefix(maxAnswerBytes), as: UTF8.self)
        let line = String(text.unicodeScalars.map { CharacterSet.controlCharacters.contains($0) ? " " : Character($0) })
        return line.trimmingCharacters(in: .whitespaces) + (answer.count > maxAnswerBytes ? "…" : "")
    }

    /// `scheme://host[:port]`: the outbound URL's path and query may hold the receiver's own
    /// credentials, so errors and descriptions show only this.
    static func origin(of url: String) -> String {
        guard let components = URLComponents(string: url), let scheme = components.scheme, let host = components.host else { return "outbound_url" }
        return "\(scheme)://\(host)" + (components.port.map { ":\($0)" } ?? "")
    }

    private func redacted(_ text: String) -> String {
        text.replacingOccurrences(of: configuration.outboundURL, with: Self.origin(of: configuration.outboundURL))
            .replacingOccurrences(of: configuration.secret.value, with: "***")
    }
}

/// A channel describes itself by id and redacted settings.
extension HTTPChannel: RedactedDescription {
    public var redactedFields: KeyValuePairs<String, Any> { ["id": id, "configuration": configuration] }
}
