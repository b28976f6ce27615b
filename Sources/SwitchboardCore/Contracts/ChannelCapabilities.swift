public import Foundation

/// What a channel allows, declared by its adapter; the follow-up planner plans with it so a
/// reminder is never scheduled for a moment the channel would refuse it.
public struct ChannelCapabilities: Sendable, Hashable {
    /// Longest text one message may carry; longer texts are split by the adapter.
    public var maxTextLength: Int?
    /// Business-initiated free-form messages are allowed only this long after the client's last
    /// message (WhatsApp: 24 hours). `nil`: always allowed.
    public var freeFormWindow: Duration?
    /// When a reminder would land after the window closes, move it to the last working moment before.
    public var pullIn: Bool
    /// How long before the window closes a pulled-in reminder is sent.
    public var pullInMargin: Duration
    /// Sent instead of free-form text after the window has closed (a pre-approved template name).
    public var reengagementTemplate: String?
    /// The recipient may be offline; the adapter stores and delivers on reconnect.
    public var recipientMayBeOffline: Bool
    /// The provider's send-rate caps; the scheduler spaces deliveries to stay under them, so a
    /// wave of due reminders goes out at the cap instead of as a burst of 429s. `nil`: no cap.
    public var pace: OutboundPace?
    /// The channel threads its messages (email: `In-Reply-To`/`References`), so a reminder lands
    /// under the conversation it follows. Informational: the planner needs nothing else for it.
    public var threaded: Bool

    public init(
        maxTextLength: Int? = nil, freeFormWindow: Duration? = nil, pullIn: Bool = false,
        pullInMargin: Duration = .seconds(600), reengagementTemplate: String? = nil, recipientMayBeOffline: Bool = false,
        pace: OutboundPace? = nil, threaded: Bool = false
    ) {
        self.pace = pace
        self.threaded = threaded
        self.maxTextLength = maxTextLength
        self.freeFormWindow = freeFormWindow
        self.pullIn = pullIn
        self.pullInMargin = pullInMargin
        self.reengagementTemplate = reengagementTemplate
        self.recipientMayBeOffline = recipientMayBeOffline
    }

    /// A channel with no limits on when the business may write.
    public static let plain = ChannelCapabilities()

    /// The instant after which free-form messages are refused, or `nil` when they never are.
    /// A windowed channel whose client never wrote has no open window at all.
    public func freeFormDeadline(lastClientMessageAt: Date?) -> Date? {
        guard let window = freeFormWindow else { return nil }
        guard let last = lastClientMessageAt else { return .distantPast }
        return last.addingTimeInterval(TimeInterval(window.components.seconds))
    }
}

/// How a reminder goes out.
public enum Delivery: Sendable, Hashable, Codable {
    case freeForm
    /// The channel's re-engagement template, because the free-form window has closed.
    case template(String)
}

/// A provider's send-rate caps (Telegram: 30 messages a second per bot and one a second per
/// chat; WhatsApp: the number's throughput, 80 a second by default).
public struct OutboundPace: Sendable, Hashable {
    /// Messages a second across the channel.
    public var perSecond: Double
    /// How many may go at once after a quiet spell (the bucket's depth).
    public var burst: Int
    /// The least time between two messages to one conversation; `nil`: no per-conversation cap.
    public var perConversation: Duration?

    public init(perSecond: Double, burst: Int? = nil, perConversation: Duration? = nil) {
        self.perSecond = max(perSecond, 0.001)
        self.burst = max(burst ?? Int(perSecond.rounded(.down)), 1)
        self.perConversation = perConversation
    }
}
