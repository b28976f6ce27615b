import Foundation
public import Logging
public import SwitchboardCore

/// The gateway's event stream: at `info`, one line per thing that happened to a conversation or
/// a channel (README "Logs"). A line carries ids and reason codes only; what a client wrote, a
/// name or a chat title rides along only when the logger logs at `debug` or lower, so the info
/// stream can be shipped and kept without holding personal data.
extension Logger {
    public func event(
        _ name: String, level: Logger.Level = .info, _ metadata: Logger.Metadata, personal: @autoclosure () -> Logger.Metadata = [:],
        file: String = #fileID, function: String = #function, line: UInt = #line
    ) {
        guard logLevel <= level else { return }
        var all = metadata
        if logLevel <= .debug { all.merge(personal()) { ids, _ in ids } }
        log(level: level, Logger.Message(stringLiteral: name), metadata: all, file: file, function: function, line: line)
    }

    /// The events in a batch of follow-up decisions one chat's store write recorded: a reminder
    /// scheduled (with the working-hours move folded into the same line) or skipped. The rest —
    /// deferrals, cancellations, the chain's end — go to `debug`; sends and dead letters are
    /// logged where the delivery happens.
    public func followUpEvents(chatID: String, _ decisions: [FollowUpDecision]) {
        var index = decisions.startIndex
        while index < decisions.endIndex {
            let decision = decisions[index]
            index += 1
            var metadata: Logger.Metadata = ["chat.id": "\(chatID)", "followup.run": "\(decision.run)", "reason": "\(decision.reason.rawValue)"]
            if let step = decision.step { metadata["followup.step"] = "\(step)" }
            switch decision.kind {
            case .scheduled:
                if let due = decision.due { metadata["followup.due"] = "\(Self.instant(due))" }
                if let sendsAt = decision.sendsAt { metadata["followup.sends_at"] = "\(Self.instant(sendsAt))" }
                if index < decisions.endIndex, decisions[index].kind == .deferred, decisions[index].step == decision.step {
                    metadata["followup.moved_by"] = "\(decisions[index].reason.rawValue)"
                    index += 1
                }
                event("reminder scheduled", metadata)
            case .skipped where decision.reason != .replyBudgetSpent:
                event("reminder skipped", metadata)
            default:
                metadata["followup.decision"] = "\(decision.kind.rawValue)"
                event("follow-up decision", level: .debug, metadata, personal: decision.detail.map { ["followup.detail": "\($0)"] } ?? [:])
            }
        }
    }

    static func instant(_ date: Date) -> String { date.formatted(.iso8601) }
}
