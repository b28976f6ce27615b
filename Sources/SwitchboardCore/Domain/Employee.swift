public import Foundation

/// An AI employee: a persona that answers clients on its channels, within its working hours.
public struct Employee: Sendable, Hashable, Identifiable {
    public let id: String
    public var name: String
    public var persona: String
    public var workingHours: WorkingHours
    public var outsideHours: OutsideHoursPolicy
    public var followUp: FollowUpChain

    public init(
        id: String, name: String, persona: String = "", workingHours: WorkingHours = .always,
        outsideHours: OutsideHoursPolicy = .silent, followUp: FollowUpChain = .disabled
    ) {
        self.id = id
        self.name = name
        self.persona = persona
        self.workingHours = workingHours
        self.outsideHours = outsideHours
        self.followUp = followUp
    }
}

/// What the employee does when a client writes outside working hours.
public enum OutsideHoursPolicy: Sendable, Hashable {
    /// Say nothing; answer when work resumes.
    case silent
    /// Send this text once per client per closed period.
    case autoReply(String)
}

/// The most steps a chain may have.
public let maximumFollowUpSteps = 10

/// An employee's Auto Follow-up configuration.
public struct FollowUpChain: Sendable, Hashable {
    public var enabled: Bool
    public var steps: [FollowUpStep]
    /// Phrases that, written by a client, switch follow-ups off for that chat (case-insensitive).
    public var optOutPhrases: [String]
    /// Tokens per day (employee's local day) that reminder composition may spend; `nil` is unlimited.
    public var dailyTokenBudget: Int?

    public init(enabled: Bool, steps: [FollowUpStep], optOutPhrases: [String] = FollowUpChain.defaultOptOutPhrases, dailyTokenBudget: Int? = nil) {
        self.enabled = enabled
        self.steps = steps
        self.optOutPhrases = optOutPhrases
        self.dailyTokenBudget = dailyTokenBudget
    }

    public static let disabled = FollowUpChain(enabled: false, steps: [])
    public static let defaultOptOutPhrases = ["stop", "unsubscribe", "не пишите", "стоп", "отписаться"]

    /// True when `text` is one of the opt-out phrases (the whole message, ignoring case,
    /// surrounding spaces and trailing punctuation) — "stop" opts out, "don't stop now" does not.
    public func isOptOut(_ text: String) -> Bool {
        guard !optOutPhrases.isEmpty else { return false }
        // Trimming does not depend on case, and lowercasing never shortens a text: a message
        // longer than every phrase once trimmed cannot be one, and is not lowercased at all
        // (every client message passes here; most are sentences, not "stop").
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines.union(.punctuationCharacters))
        let phrases = optOutPhrases.map { $0.lowercased() }
        guard let longest = phrases.map(\.unicodeScalars.count).max(), trimmed.unicodeScalars.count <= longest else { return false }
        let normalized = trimmed.lowercased()
        return phrases.contains(normalized)
    }
}

/// One reminder in a chain.
public struct FollowUpStep: Sendable, Hashable {
    /// Counted from the last message in the chat: the employee's message for step 1, the previous reminder after that.
    public var delay: Duration
    /// What the reminder should achieve; the composer writes the words, never sends this verbatim.
    public var instruction: String
    /// A step that has fired in a chat is skipped in every later run of the chain there.
    public var oncePerChat: Bool

    public init(delay: Duration, instruction: String, oncePerChat: Bool = false) {
        self.delay = delay
        self.instruction = instruction
        self.oncePerChat = oncePerChat
    }

    public var delaySeconds: TimeInterval { TimeInterval(delay.components.seconds) }
}
