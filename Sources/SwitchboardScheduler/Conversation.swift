import Foundation
public import Logging
public import SwitchboardCore

/// The message flow between clients and employees: stores what channels receive, cancels the
/// pending reminder, and records what the employee owes — the scheduler does the rest.
public final class Conversation: InboundIntake, Sendable {
    let store: any Store
    let roster: LiveRoster
    let senders: ChannelSenders
    let clock: any WallClock
    let scheduler: Scheduler
    let operatorPause: Duration
    let logger: Logger
    let inbound: InboundBatcher

    public init(
        store: any Store, roster: LiveRoster, senders: ChannelSenders, clock: any WallClock, scheduler: Scheduler,
        operatorPause: Duration = .seconds(15 * 60), logger: Logger, groupCommit: Bool = true
    ) {
        self.store = store
        self.roster = roster
        self.senders = senders
        self.clock = clock
        self.scheduler = scheduler
        self.operatorPause = operatorPause
        self.logger = logger
        self.inbound = InboundBatcher(maxMessages: groupCommit ? 500 : 1) { [store] records in try await store.recordInbound(records) }
    }

    /// Stores each message once; for a new one, cancels the pending reminder and schedules the
    /// answer (and the auto-reply outside working hours). Durable when it returns: the messages
    /// go into the next group commit (`InboundBatcher`) with those of concurrent requests.
    public func receive(_ messages: [InboundMessage]) async throws {
        var records: [InboundRecord] = []
        for var message in messages {
            guard let employee = roster.roster.employee(forChannel: message.channelID) else {
                logger.error("message for a channel with no employee", metadata: ["channel.id": "\(message.channelID)"])
                continue
            }
            // Gateway time orders the conversation (and runs scaled in demos); the provider's
            // timestamp is not trusted to agree with our clock.
            let now = clock.now()
            message.receivedAt = now
            let planner = FollowUpPlanner(employee: employee, channel: senders.capabilities(ofChannel: message.channelID))
            let policy = ReplyPolicy(employee: employee)
            let incoming = message
            records.append(
                InboundRecord(
                    message: message, employeeID: employee.id,
                    followUp: { state, chat in
                        let facts = FollowUpPlanner.ChatFacts(chat: chat)
                        if incoming.event == .unreachable { return planner.apply(.chatUnreachable(at: now), to: &state, facts: facts) }
                        // An edit or a reaction is not the client answering: the reminder stays.
                        if !incoming.isNewTurn { return [] }
                        return planner.apply(.clientMessage(at: now, text: incoming.text), to: &state, facts: facts)
                    },
                    chatChange: { chat in
                        let decided = policy.afterClientMessage(incoming, chat: chat, now: now)
                        if chat.replyDueAt != decided.replyDueAt { chat.replyAttempts = 0 }
                        chat.replyDueAt = decided.replyDueAt
                        // Queued with the message that calls for it: a crash cannot store one without the other.
                        return decided.autoReply.map { autoReply in
                            NewOutboxEntry(chatID: chat.id, purpose: .autoReply, idempotencyKey: autoReply.idempotencyKey, text: autoReply.text, notBefore: now)
                        }
                    }))
        }
        let results = try await inbound.submit(records)
        for (record, result) in zip(records, results) {
            guard case .stored(let chat, let stored) = result else { continue }
            var metadata: Logger.Metadata = [
                "chat.id": "\(chat.id)", "channel.id": "\(chat.channelID)", "employee.id": "\(chat.employeeID)", "message.kind": "\(stored.kind.rawValue)",
            ]
            if stored.isEdit { metadata["message.edit"] = "true" }
            if let event = record.message.event { metadata["chat.event"] = "\(event.rawValue)" }
            logger.event("message in", metadata, personal: ["message.text": "\(stored.text)", "chat.title": "\(chat.title)"])
        }
        let duplicates = results.filter { $0 == .duplicate }.count
        if duplicates > 0 { logger.debug("duplicate deliveries ignored", metadata: ["messages.duplicate": "\(duplicates)"]) }
        if duplicates < results.count { scheduler.nudge() }
    }

    /// Records providers' delivery statuses. A free-form reminder refused because the client's
    /// window had closed (WhatsApp 131047) is not lost: it goes out as the channel's
    /// re-engagement template, or — with none configured — its step is logged as skipped
    /// (`window_closed`).
    public func receiveStatuses(_ updates: [DeliveryStatusUpdate]) async throws {
        let effects = try await store.recordDeliveryStatuses(updates)
        for effect in effects where effect.update.state == .failed && effect.update.windowClosed {
            try await reengage(effect)
        }
    }

    private func reengage(_ effect: DeliveryStatusEffect) async throws {
        guard let outbox = effect.outbox, outbox.entry.purpose == .reminder, outbox.entry.delivery == .freeForm,
            let run = outbox.entry.followUpRun, let step = outbox.entry.followUpStep
        else { return }
        let chat = try await store.existingChat(id: effect.message.chatID)
        let now = clock.now()
        let refused = "the provider refused the free-form reminder: \(effect.update.error ?? "the client's window had closed")"
        guard let template = senders.capabilities(ofChannel: chat.channelID).reengagementTemplate else {
            _ = try await store.updateFollowUp(chatID: chat.id) { _, _ in
                [FollowUpDecision(kind: .skipped, reason: .windowClosed, run: run, step: step, at: now, detail: refused)]
            }
            logger.debug("reminder refused: window closed, no template configured", metadata: ["chat.id": "\(chat.id)"])
            return
        }
        try await scheduler.queueReengagement(
            chatID: chat.id, text: outbox.entry.text, template: template, run: run, step: step,
            decision: FollowUpDecision(kind: .deferred, reason: .reengagementTemplate, run: run, step: step, at: now, detail: refused + "; sending the template"))
    }

    /// A human operator writes in a chat as the employee: the message is queued, the AI steps
    /// back for the operator pause, and — once delivered — it arms the follow-up chain.
    public func sendOperatorMessage(chatID: String, text: String) async throws -> OutboxEntry {
        let now = clock.now()
        let pausedUntil = clock.now(plusReal: operatorPause)
        let entry = NewOutboxEntry(
            chatID: chatID, purpose: .operator, idempotencyKey: OutboxKey.operatorMessage().rawValue, text: text, author: .operator, notBefore: now)
        guard let queued = try await store.enqueue(entry, usage: nil, chatChange: { chat in
            chat.aiPausedUntil = pausedUntil
            // The operator answers instead of the AI.
            chat.replyDueAt = nil
        }, followUp: nil) else {
            throw StoreError.unknownChat(chatID)
        }
        scheduler.nudge()
        return queued
    }

    /// Ends an operator's pause early: the AI answers in the chat again from now. The pause's
    /// end is kept as now (so the console can say when the AI took over again), and an answer
    /// the client is owed — they wrote during the pause — is composed now (or at the next
    /// working moment) instead of at the old end. Returns the chat; unchanged when not paused.
    public func resumeAI(chatID: String) async throws -> Chat {
        let chat = try await store.existingChat(id: chatID)
        let now = clock.now()
        guard let paused = chat.aiPausedUntil, paused > now else { return chat }
        let hours = roster.roster.employees[chat.employeeID]?.workingHours
        let resumed = try await store.updateChat(
            id: chatID,
            { chat in
                guard let paused = chat.aiPausedUntil, paused > now else { return }
                chat.aiPausedUntil = now
                if let due = chat.replyDueAt, due > now {
                    chat.replyDueAt = hours.map { $0.isWorking(at: now) ? now : ($0.nextWorkingMoment(atOrAfter: now) ?? due) } ?? now
                }
            }, followUp: nil)
        logger.info("operator pause ended early", metadata: ["chat.id": "\(chatID)"])
        scheduler.nudge()
        return resumed
    }

    /// Switches follow-up off or on for one chat.
    public func setFollowUp(chatID: String, enabled: Bool) async throws -> FollowUpState {
        let chat = try await store.existingChat(id: chatID)
        guard let employee = roster.roster.employees[chat.employeeID] else { throw StoreError.unknownChat(chatID) }
        let planner = FollowUpPlanner(employee: employee, channel: senders.capabilities(ofChannel: chat.channelID))
        let now = clock.now()
        let state = try await store.updateFollowUp(chatID: chatID) { state, chat in
            planner.apply(.chatFollowUp(enabled: enabled, at: now), to: &state, facts: .init(chat: chat))
        }
        scheduler.nudge()
        return state
    }

    /// Re-plans every pending reminder after the employees' chains changed in config.
    /// Puts a reloaded roster in force without re-planning (who owns which channel, names).
    public func useRoster(_ newRoster: Roster) { roster.replace(with: newRoster) }

    public func replan(roster newRoster: Roster) async throws {
        roster.replace(with: newRoster)
        let now = clock.now()
        let senders = self.senders
        for employee in newRoster.employees.values {
            _ = try await store.updatePendingFollowUps(employeeID: employee.id) { state, chat in
                let planner = FollowUpPlanner(employee: employee, channel: senders.capabilities(ofChannel: chat.channelID))
                return planner.apply(.chainChanged(at: now), to: &state, facts: .init(chat: chat))
            }
        }
        scheduler.nudge()
    }
}
