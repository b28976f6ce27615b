import Foundation
import Hummingbird
import NIOCore
import SwitchboardCore

// What the admin API and the admin pages show, built once for both: the API encodes these
// values as JSON, the pages render them as HTML.

/// Encodes `nil` as `null` instead of leaving the key out, so every API object has a fixed shape.
@propertyWrapper
struct Nullable<Value: Encodable & Sendable>: Encodable, Sendable {
    var wrappedValue: Value?

    init(wrappedValue: Value?) { self.wrappedValue = wrappedValue }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        if let wrappedValue { try container.encode(wrappedValue) } else { try container.encodeNil() }
    }
}

struct EmployeeView: Encodable, Sendable {
    var id: String
    var name: String
    var followupEnabled: Bool
    var timeZone: String
    var steps: Int

    enum CodingKeys: String, CodingKey {
        case id, name, followupEnabled = "followup_enabled", timeZone = "time_zone", steps
    }

    init(_ employee: Employee) {
        id = employee.id
        name = employee.name
        followupEnabled = employee.followUp.enabled
        timeZone = employee.workingHours.timeZone.identifier
        steps = employee.followUp.steps.count
    }
}

struct FollowUpListView: Encodable, Sendable {
    var items: [FollowUpListItem]
    var total: Int
}

/// `GET /api/chats`: a page of the Chats inbox, newest activity first, and where the next starts.
struct ChatListView: Encodable, Sendable {
    struct Item: Encodable, Sendable {
        var chatID: String
        var title: String
        @Nullable var client: String?
        var employeeID: String
        var employee: String
        var channel: String
        var channelType: String
        var lastActivityAt: Date
        @Nullable var lastAuthor: String?
        @Nullable var lastMessage: String?
        var states: [String]
        var followupStatus: String
        @Nullable var followupSendsAt: Date?
        @Nullable var aiPausedUntil: Date?
        var deadLetters: Int

        enum CodingKeys: String, CodingKey {
            case chatID = "chat_id", title, client, employeeID = "employee_id", employee, channel, channelType = "channel_type"
            case lastActivityAt = "last_activity_at", lastAuthor = "last_author", lastMessage = "last_message", states
            case followupStatus = "followup_status", followupSendsAt = "followup_sends_at", aiPausedUntil = "ai_paused_until"
            case deadLetters = "dead_letters"
        }
    }

    var items: [Item]
    /// Pass as `after` for the next page; `null` on the last one.
    @Nullable var next: String?

    init(_ page: ChatInboxPage, roster: Roster, channelTypes: [String: String]) {
        items = page.items.map { row in
            let chat = row.chat
            return Item(
                chatID: chat.id, title: chat.title, client: chat.clientName, employeeID: chat.employeeID,
                employee: roster.employees[chat.employeeID]?.name ?? chat.employeeID, channel: chat.channelID,
                channelType: channelTypes[chat.channelID] ?? "unknown", lastActivityAt: row.lastActivityAt, lastAuthor: row.lastAuthor?.rawValue,
                lastMessage: row.lastMessage, states: row.states.map(\.rawValue), followupStatus: row.followUp.status.rawValue,
                followupSendsAt: row.followUp.status == .scheduled ? row.followUp.sendsAt : nil, aiPausedUntil: chat.aiPausedUntil,
                deadLetters: row.deadLetters)
        }
        next = page.next?.token
    }
}

/// `POST /api/chats/{id}/resume-ai`: whether the AI answers in the chat now.
struct AIPauseView: Encodable, Sendable {
    var chatID: String
    var paused: Bool
    /// When the pause ended (now, for a pause just ended early) or ends; `null` if never paused.
    @Nullable var aiPausedUntil: Date?

    init(chatID: String, aiPausedUntil: Date?, now: Date) {
        self.chatID = chatID
        self.aiPausedUntil = aiPausedUntil
        paused = aiPausedUntil.map { $0 > now } ?? false
    }

    enum CodingKeys: String, CodingKey {
        case chatID = "chat_id", paused, aiPausedUntil = "ai_paused_until"
    }
}

struct UsageView: Encodable, Sendable {
    var promptTokens: Int
    var completionTokens: Int
    var totalTokens: Int
    @Nullable var model: String?

    enum CodingKeys: String, CodingKey {
        case promptTokens = "prompt_tokens", completionTokens = "completion_tokens", totalTokens = "total_tokens", model
    }

    init(_ usage: TokenUsage, model: String? = nil) {
        promptTokens = usage.promptTokens
        completionTokens = usage.completionTokens
        totalTokens = usage.totalTokens
        self.model = model
    }
}

/// One chat with its whole history: messages, undelivered messages, the follow-up decision log
/// and what composing the employee's messages cost.
struct ChatDetailView: Encodable, Sendable {
    struct ChatInfo: Encodable, Sendable {
        var id: String
        var title: String
        @Nullable var client: String?
        var employeeID: String
        var employee: String
        var channel: String
        var channelType: String
        var timeZone: String
        var createdAt: Date
        @Nullable var lastClientMessageAt: Date?
        var unreachable: Bool
        @Nullable var aiPausedUntil: Date?

        enum CodingKeys: String, CodingKey {
            case id, title, client, employeeID = "employee_id", employee, channel, channelType = "channel_type", timeZone = "time_zone"
            case createdAt = "created_at", lastClientMessageAt = "last_client_message_at", unreachable, aiPausedUntil = "ai_paused_until"
        }
    }

    struct FollowUpInfo: Encodable, Sendable {
        /// Follow-up is on for this chat (no one switched it off here).
        var enabled: Bool
        /// Who switched it off: `admin`, or `client` (an opt-out phrase).
        @Nullable var optOut: String?
        /// Auto Follow-up is enabled for the chat's employee.
        var employeeEnabled: Bool
        var status: String
        var run: Int
        @Nullable var step: Int?
        var steps: Int
        @Nullable var due: Date?
        @Nullable var sendsAt: Date?
        @Nullable var lastReason: String?

        enum CodingKeys: String, CodingKey {
            case enabled, optOut = "opt_out", employeeEnabled = "employee_enabled", status, run, step, steps, due, sendsAt = "sends_at"
            case lastReason = "last_reason"
        }
    }

    struct MessageInfo: Encodable, Sendable {
        var id: Int64
        var author: String
        var kind: String
        var text: String
        var at: Date
        var edited: Bool
        @Nullable var followupStep: Int?
        @Nullable var deliveredAt: Date?
        /// The provider's latest report on a message the gateway sent (`sent`, `delivered`,
        /// `read`, `failed`), `null` before any; and its reason when it failed.
        @Nullable var delivery: String?
        @Nullable var deliveryError: String?
        /// What composing this message cost; `null` for messages no model wrote.
        @Nullable var usage: UsageView?

        enum CodingKeys: String, CodingKey {
            case id, author, kind, text, at, edited, followupStep = "followup_step", deliveredAt = "delivered_at", delivery
            case deliveryError = "delivery_error", usage
        }
    }

    /// A message the gateway composed or queued that is not in the chat: waiting, being sent,
    /// a dead letter, or cancelled.
    struct UndeliveredInfo: Encodable, Sendable {
        var outboxID: Int64
        var purpose: String
        var status: String
        var text: String
        var attempts: Int
        var nextAttemptAt: Date
        @Nullable var lastError: String?
        @Nullable var followupStep: Int?
        @Nullable var usage: UsageView?

        enum CodingKeys: String, CodingKey {
            case outboxID = "outbox_id", purpose, status, text, attempts, nextAttemptAt = "next_attempt_at", lastError = "last_error"
            case followupStep = "followup_step", usage
        }
    }

    struct DecisionInfo: Encodable, Sendable {
        var kind: String
        var reason: String
        var run: Int
        @Nullable var step: Int?
        var at: Date
        @Nullable var due: Date?
        @Nullable var sendsAt: Date?
        @Nullable var detail: String?

        enum CodingKeys: String, CodingKey {
            case kind, reason, run, step, at, due, sendsAt = "sends_at", detail
        }
    }

    struct UsageTotal: Encodable, Sendable {
        var promptTokens: Int
        var completionTokens: Int
        var totalTokens: Int
        /// Compositions, including any that were dropped before they were queued.
        var compositions: Int

        enum CodingKeys: String, CodingKey {
            case promptTokens = "prompt_tokens", completionTokens = "completion_tokens", totalTokens = "total_tokens", compositions
        }
    }

    var chat: ChatInfo
    var followup: FollowUpInfo
    var messages: [MessageInfo]
    var undelivered: [UndeliveredInfo]
    var decisions: [DecisionInfo]
    var usage: UsageTotal

    /// Messages shown at most (the newest).
    static let messageLimit = 5000
}

extension Gateway {
    func employeeViews() -> [EmployeeView] {
        roster.roster.employees.values.sorted { ($0.name, $0.id) < ($1.name, $1.id) }.map(EmployeeView.init)
    }

    /// The chat with everything the page and `GET /api/chats/{id}` show; `nil` for an unknown chat.
    func chatDetail(id: String) async throws -> ChatDetailView? {
        guard let chat = try await store.chat(id: id) else { return nil }
        async let messagesQuery = store.messages(chatID: id, limit: ChatDetailView.messageLimit)
        async let stateQuery = store.followUpState(chatID: id)
        async let decisionsQuery = store.decisions(chatID: id)
        async let usageQuery = store.usage(chatID: id)
        async let outboxQuery = store.outbox(chatID: id)
        let (messages, storedState, decisions, usage, outbox) = try await (messagesQuery, stateQuery, decisionsQuery, usageQuery, outboxQuery)

        let employee = roster.roster.employees[chat.employeeID]
        var usageByOutbox: [Int64: UsageView] = [:]
        for record in usage {
            if let outboxID = record.outboxID { usageByOutbox[outboxID] = UsageView(record.usage, model: record.model) }
        }
        let total = usage.reduce(TokenUsage.zero) {
            TokenUsage(promptTokens: $0.promptTokens + $1.usage.promptTokens, completionTokens: $0.completionTokens + $1.usage.completionTokens)
        }
        let state = storedState ?? FollowUpState()
        return ChatDetailView(
            chat: .init(
                id: chat.id, title: chat.title, client: chat.clientName, employeeID: chat.employeeID, employee: employee?.name ?? chat.employeeID,
                channel: chat.channelID, channelType: channels.types[chat.channelID] ?? "unknown",
                timeZone: employee?.workingHours.timeZone.identifier ?? "UTC", createdAt: chat.createdAt,
                lastClientMessageAt: chat.lastClientMessageAt, unreachable: chat.unreachable, aiPausedUntil: chat.aiPausedUntil),
            followup: .init(
                enabled: state.optOut == nil, optOut: state.optOut?.rawValue, employeeEnabled: employee?.followUp.enabled ?? false,
                status: state.status.rawValue, run: state.run, step: state.isPending ? state.step : nil,
                steps: employee?.followUp.steps.count ?? 0, due: state.isPending ? state.due : nil,
                sendsAt: state.status == .scheduled ? state.sendsAt : nil, lastReason: state.lastReason?.rawValue),
            messages: messages.map { message in
                .init(
                    id: message.id, author: message.author.rawValue, kind: message.kind.rawValue, text: message.text, at: message.at,
                    edited: message.isEdit, followupStep: message.followUpStep, deliveredAt: message.deliveredAt,
                    delivery: message.deliveryState?.rawValue, deliveryError: message.deliveryError, usage: message.outboxID.flatMap { usageByOutbox[$0] })
            },
            undelivered: outbox.filter { $0.status != .sent }.map { entry in
                .init(
                    outboxID: entry.id, purpose: entry.entry.purpose.rawValue, status: entry.status.rawValue, text: entry.entry.text,
                    attempts: entry.attempts, nextAttemptAt: entry.nextAttemptAt, lastError: entry.lastError,
                    followupStep: entry.entry.followUpStep, usage: usageByOutbox[entry.id])
            },
            decisions: decisions.map { decision in
                .init(
                    kind: decision.kind.rawValue, reason: decision.reason.rawValue, run: decision.run, step: decision.step, at: decision.at,
                    due: decision.due, sendsAt: decision.sendsAt, detail: decision.detail)
            },
            usage: .init(
                promptTokens: total.promptTokens, completionTokens: total.completionTokens, totalTokens: total.totalTokens, compositions: usage.count))
    }
}

// MARK: - Request and response helpers

extension Request {
    /// The query string as a dictionary: percent-decoded, `+` as space, first value wins.
    var queryValues: [String: String] {
        FormValues.parse(uri.query ?? "")
    }
}

enum FormValues {
    /// Parses `application/x-www-form-urlencoded` text.
    static func parse(_ text: String) -> [String: String] {
        var values: [String: String] = [:]
        for pair in text.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let decode = { (part: Substring) in
                String(part).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? ""
            }
            let key = decode(parts[0])
            guard !key.isEmpty, values[key] == nil else { continue }
            values[key] = parts.count > 1 ? decode(parts[1]) : ""
        }
        return values
    }
}

/// Bodies the admin routes accept are small.
let adminBodyLimit = 64 * 1024

func jsonResponse(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
    let data = try AdminJSON.encoder().encode(value)
    return Response(
        status: status, headers: [.contentType: "application/json; charset=utf-8", .cacheControl: "no-store"],
        body: .init(byteBuffer: ByteBuffer(bytes: data)))
}
