import Foundation
import SwitchboardCore

/// A chat's page (`chat.mustache`): its history with every follow-up decision inline, the
/// composer with the AI's pause, the chat's follow-up switch, tokens and details.
struct ChatPageModel: Sendable {
    /// An instant as the page shows it: local text, UTC on hover.
    struct Time: Sendable {
        var iso: String
        var utc: String
        var text: String

        init(_ date: Date, _ time: TimeText, _ zone: TimeZone, clockOnly: Bool = false) {
            iso = AdminJSON.format(date)
            utc = time.utc(date)
            text = clockOnly ? time.clock(date, zone) : time.local(date, zone)
        }
    }

    struct Tag: Sendable {
        var label: String
        /// `tag`, or a badge class such as `badge danger`.
        var style: String
    }

    struct Message: Sendable {
        var side: String
        var text: String
        var who: String
        var at: Time
        var tags: [Tag]
        var tokens: String?
        var tokensTitle: String?
    }

    struct Undelivered: Sendable {
        var text: String
        var badge: Tag
        var note: String
        var at: Time
        var tokens: String?
    }

    struct Decision: Sendable {
        var kind: String
        var what: String
        var reason: String
        var at: Time
        var due: Time?
        var sends: Time?
        var detail: String?
        var hasDetails: Bool
    }

    /// One line of the history: a day's heading, a message, an undelivered message or a decision.
    struct Item: Sendable {
        var day: String?
        var message: Message?
        var undelivered: Undelivered?
        var decision: Decision?
    }

    struct FollowUpCard: Sendable {
        var chatID: String
        var csrf: String
        var scheduled: Bool
        var step: Int?
        var steps: Int
        var sends: Time?
        var sendsRelative: String?
        var sending: Bool
        var why: String
        var enabled: Bool
        var next: String
        var note: String
    }

    struct Details: Sendable {
        var channel: String
        var timeZone: String
        var firstContact: Time
        var clientLastWrote: Time?
        var unreachable: Bool
        var pausedUntil: Time?
    }

    var chrome: Chrome
    var backIcon = Icon.back.text
    var initials: String
    var title: String
    var meta: String
    var timeZone: String
    var items: [Item]
    var hasItems: Bool
    var composer: ChatComposerModel
    var followUp: FollowUpCard
    var totalTokens: String
    var promptTokens: String
    var completionTokens: String
    var compositions: Int
    var details: Details

    init(_ detail: ChatDetailView, csrf: String, operatorPause: Duration, now: Date) {
        let time = TimeText(now: now)
        let chat = detail.chat
        let zone = TimeZone(identifier: chat.timeZone) ?? .gmt
        chrome = Chrome(title: chat.title, csrf: csrf, current: nil)
        initials = PageViews.initials(chat.title)
        title = chat.title
        let client = chat.client.flatMap { $0 == chat.title || $0.isEmpty ? nil : $0 }
        meta = [client.map { "Client \($0)" }, "Employee \(chat.employee)", "\(PageViews.channelName(type: chat.channelType)) · \(chat.channel)"]
            .compactMap { $0 }.joined(separator: "  ·  ")
        timeZone = zone.identifier
        composer = ChatComposerModel(chat: chat, csrf: csrf, operatorPause: operatorPause, now: now)

        enum Entry {
            case message(ChatDetailView.MessageInfo)
            case undelivered(ChatDetailView.UndeliveredInfo)
            case decision(ChatDetailView.DecisionInfo)

            var at: Date {
                switch self {
                case .message(let m): m.at
                case .undelivered(let u): u.nextAttemptAt
                case .decision(let d): d.at
                }
            }
            /// At the same instant a message comes before the decisions it caused.
            var rank: Int {
                switch self {
                case .message: 0
                case .undelivered: 1
                case .decision: 2
                }
            }
        }
        let entries = (detail.messages.map(Entry.message) + detail.undelivered.map(Entry.undelivered) + detail.decisions.map(Entry.decision))
            .enumerated().sorted { ($0.element.at, $0.element.rank, $0.offset) < ($1.element.at, $1.element.rank, $1.offset) }.map(\.element)
        var lastDay = ""
        var items: [Item] = []
        for entry in entries {
            let day = time.day(entry.at, zone)
            if day != lastDay {
                items.append(Item(day: day))
                lastDay = day
            }
            switch entry {
            case .message(let message): items.append(Item(message: Self.message(message, chat: chat, time: time, zone: zone)))
            case .undelivered(let undelivered): items.append(Item(undelivered: Self.undelivered(undelivered, time: time, zone: zone)))
            case .decision(let decision): items.append(Item(decision: Self.decision(decision, time: time, zone: zone)))
            }
        }
        self.items = items
        hasItems = !items.isEmpty

        let followup = detail.followup
        let note: String =
            if !followup.employeeEnabled {
                "Auto Follow-up is off for this employee in config.yaml, so nothing is scheduled whatever this switch says."
            } else if followup.optOut == ChatOptOut.client.rawValue {
                "The client asked not to get reminders (an opt-out phrase)."
            } else if followup.enabled {
                "Switching it off cancels the pending reminder."
            } else {
                "Switched off by an admin. Switching it on schedules the next reminder if the employee's message is the last one."
            }
        let scheduled = followup.sendsAt != nil && followup.step != nil
        followUp = FollowUpCard(
            chatID: chat.id, csrf: csrf, scheduled: scheduled, step: followup.step, steps: followup.steps,
            sends: followup.sendsAt.map { Time($0, time, zone) }, sendsRelative: followup.sendsAt.map(time.relative),
            sending: !scheduled && followup.status == FollowUpStatus.sending.rawValue,
            why: followup.lastReason.flatMap(ReasonCode.init(rawValue:)).map(PageViews.reasonText) ?? "nothing has armed the chain yet",
            enabled: followup.enabled, next: followup.enabled ? "false" : "true", note: note)
        totalTokens = PageViews.formatted(detail.usage.totalTokens)
        promptTokens = PageViews.formatted(detail.usage.promptTokens)
        completionTokens = PageViews.formatted(detail.usage.completionTokens)
        compositions = detail.usage.compositions
        details = Details(
            channel: "\(PageViews.channelName(type: chat.channelType)) (\(chat.channel))", timeZone: chat.timeZone,
            firstContact: Time(chat.createdAt, time, zone), clientLastWrote: chat.lastClientMessageAt.map { Time($0, time, zone) },
            unreachable: chat.unreachable, pausedUntil: chat.aiPausedUntil.flatMap { $0 > now ? Time($0, time, zone) : nil })
    }

    static func message(_ message: ChatDetailView.MessageInfo, chat: ChatDetailView.ChatInfo, time: TimeText, zone: TimeZone) -> Message {
        let (side, who): (String, String) =
            switch message.author {
            case Author.client.rawValue: ("client", chat.client ?? chat.title)
            case Author.operator.rawValue: ("operator", "Operator (as \(chat.employee))")
            case Author.system.rawValue: ("system", "Channel event")
            default: ("employee", chat.employee)
            }
        var tags: [Tag] = []
        if let step = message.followupStep { tags.append(Tag(label: "Reminder · step \(step)", style: "tag")) }
        if message.edited { tags.append(Tag(label: "Edited", style: "tag")) }
        switch message.delivery {
        case DeliveryState.failed.rawValue?: tags.append(Tag(label: "Failed" + (message.deliveryError.map { ": \($0)" } ?? ""), style: "badge danger"))
        case DeliveryState.read.rawValue?: tags.append(Tag(label: "Read", style: "tag"))
        case DeliveryState.delivered.rawValue?: tags.append(Tag(label: "Delivered", style: "tag"))
        default: break
        }
        return Message(
            side: side, text: message.text.isEmpty ? "[\(message.kind)]" : message.text, who: who, at: Time(message.at, time, zone, clockOnly: true),
            tags: tags, tokens: message.usage.map { "\(PageViews.formatted($0.totalTokens)) tokens" },
            tokensTitle: message.usage.map { usage in
                "\(PageViews.formatted(usage.promptTokens)) prompt + \(PageViews.formatted(usage.completionTokens)) completion" + (usage.model.map { " · \($0)" } ?? "")
            })
    }

    static func undelivered(_ entry: ChatDetailView.UndeliveredInfo, time: TimeText, zone: TimeZone) -> Undelivered {
        let (badge, note): (Tag, String) =
            switch entry.status {
            case OutboxStatus.dead.rawValue:
                (Tag(label: "Not delivered", style: "badge danger"), " after \(entry.attempts) attempt\(entry.attempts == 1 ? "" : "s")" + (entry.lastError.map { ": \($0)" } ?? ""))
            case OutboxStatus.cancelled.rawValue:
                (Tag(label: "Cancelled", style: "badge muted"), entry.lastError.map { " \($0)" } ?? "")
            default:
                (Tag(label: "Sending", style: "badge sending"), (entry.attempts > 0 ? " attempt \(entry.attempts)" : "") + (entry.lastError.map { " · last error: \($0)" } ?? ""))
            }
        return Undelivered(
            text: entry.text, badge: badge, note: note, at: Time(entry.nextAttemptAt, time, zone, clockOnly: true),
            tokens: entry.usage.map { "\(PageViews.formatted($0.totalTokens)) tokens" })
    }

    static func decision(_ decision: ChatDetailView.DecisionInfo, time: TimeText, zone: TimeZone) -> Decision {
        let kind = FollowUpDecision.Kind(rawValue: decision.kind)
        let label: String =
            switch kind {
            case .scheduled: "Scheduled"
            case .deferred: "Moved by working hours"
            case .sent: "Sent"
            case .skipped: "Skipped"
            case .cancelled: "Cancelled"
            case .finished: "Chain finished"
            case .deadLetter: "Not delivered"
            case nil: decision.kind.capitalized
            }
        // A sent decision carries the reason its step was scheduled for; what matters now is that it went out.
        let reason = kind == .sent ? "delivered to the client" : ReasonCode(rawValue: decision.reason).map(PageViews.reasonText) ?? decision.reason
        var due: Time?
        var sends: Time?
        switch (kind, decision.due, decision.sendsAt) {
        case (.deferred, let dueAt?, let sendsAt?):
            due = Time(dueAt, time, zone)
            sends = Time(sendsAt, time, zone)
        case (.scheduled, _, let sendsAt?):
            sends = Time(sendsAt, time, zone)
        default:
            break
        }
        let detail = decision.detail.flatMap { $0.isEmpty ? nil : $0 }
        return Decision(
            kind: decision.kind, what: decision.step.map { "\(label) · step \($0)" } ?? label, reason: reason,
            at: Time(decision.at, time, zone, clockOnly: true), due: due, sends: sends, detail: detail, hasDetails: sends != nil || detail != nil)
    }
}
