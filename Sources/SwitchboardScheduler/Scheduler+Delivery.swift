import Foundation
import Logging
import SwitchboardCore

extension Scheduler {
    /// Delivers one claimed outbox entry and records the outcome with its consequences for the
    /// chat and its follow-up chain, in one transaction.
    /// `sendFinished` is called once: as soon as the send is over (before its outcome is
    /// recorded), or when the delivery ends without one.
    func deliver(_ outboxEntry: OutboxEntry, sendFinished: @Sendable () -> Void = {}) async {
        var sendOver = false
        func endSend() {
            guard !sendOver else { return }
            sendOver = true
            sendFinished()
        }
        defer { endSend() }
        let entry = outboxEntry.entry
        var logger = self.logger
        logger[metadataKey: "chat.id"] = "\(entry.chatID)"
        logger[metadataKey: "outbox.id"] = "\(outboxEntry.id)"
        do {
            // The chat and its follow-up state, read with those of the other deliveries under way.
            let context = try await contexts.submit(entry.chatID)
            let chat = context.chat
            let planner = planner(for: chat)

            if outboxEntry.interrupted {
                // The process delivering it stopped mid-request: the provider may already have it.
                // Sending again could deliver it twice, so it ends here, visibly.
                try await fail(outboxEntry, planner: planner, error: "delivery was interrupted; not resent to avoid a duplicate", logger: logger)
                return
            }
            if OutboxKey(rawValue: entry.idempotencyKey).isReengagement {
                // Stands in for a reminder already past: it goes out while that run is alive and
                // the client has not written since (a reply reopens the window and ends the run).
                guard let state = context.state, state.run == entry.followUpRun, [.scheduled, .sending, .finished].contains(state.status) else {
                    try await complete(outboxID: outboxEntry.id, .cancelled(at: clock.now(), reason: "the chain stopped before the template went out"),
                                       lease: outboxEntry.lease, chatChange: nil, followUp: nil)
                    return
                }
            } else if entry.purpose == .reminder {
                guard let state = context.state, state.status == .sending, state.run == entry.followUpRun, state.step == entry.followUpStep else {
                    try await complete(outboxID: outboxEntry.id, .cancelled(at: clock.now(), reason: "the chain moved on before delivery"),
                                       lease: outboxEntry.lease, chatChange: nil, followUp: nil)
                    return
                }
            }
            if entry.purpose == .reply, let paused = chat.aiPausedUntil, paused > clock.now() {
                // Composed just before a human operator wrote: the AI does not talk over them.
                try await complete(outboxID: outboxEntry.id, .cancelled(at: clock.now(), reason: "an operator took the chat over"),
                                   lease: outboxEntry.lease, chatChange: nil, followUp: nil)
                logger.debug("AI reply withheld: an operator is answering")
                return
            }
            if chat.unreachable {
                try await complete(outboxID: outboxEntry.id, .cancelled(at: clock.now(), reason: "chat is unreachable"), lease: outboxEntry.lease, chatChange: nil) {
                    state, chat in planner?.apply(.chatUnreachable(at: self.clock.now()), to: &state, facts: .init(chat: chat)) ?? []
                }
                return
            }
            guard let sender = senders.sender(forChannel: chat.channelID) else {
                // Not the provider's refusal: the message waits, without spending its attempts,
                // until the channel runs again (a channel file disabled, removed or broken).
                try await complete(
                    outboxID: outboxEntry.id,
                    .postponed(at: clock.now(plusReal: configuration.channelRetry), reason: "channel_unavailable: channel \(chat.channelID) is not running"),
                    lease: outboxEntry.lease, chatChange: nil, followUp: nil)
                return
            }
            // A worker's slot covers the pacing wait and the request, as a worker did before.
            let logger = logger
            let attempt: Result<DeliveryReceipt, any Error>? = await sendSlots.with {
                do {
                    try await pacer.admit(channelID: chat.channelID, conversationKey: chat.conversationKey, pace: sender.capabilities.pace)
                } catch {
                    return nil
                }
                do {
                    return .success(
                        try await sender.send(
                            OutboundMessage(
                                chatID: chat.id, channelID: chat.channelID, conversationKey: chat.conversationKey, text: entry.text,
                                delivery: entry.delivery, purpose: entry.purpose, followUpStep: entry.followUpStep,
                                idempotencyKey: "\(chat.id):\(entry.idempotencyKey)")))
                } catch {
                    return .failure(error)
                }
            }
            endSend()
            let receipt: DeliveryReceipt
            switch attempt {
            case nil:
                // Shutting down while waiting for a slot: nothing went out, so it is not an attempt.
                try await recordShielded {
                    try await self.complete(outboxID: outboxEntry.id, .postponed(at: self.clock.now(), reason: "not sent: the gateway stopped"),
                                            lease: outboxEntry.lease, chatChange: nil, followUp: nil)
                }
                return
            case .success(let sent)?:
                receipt = sent
            case .failure(let error as DeliveryError)?:
                try await recordShielded { try await self.recordFailure(outboxEntry, error, chat: chat, planner: planner, logger: logger) }
                return
            case .failure(let error)?:
                try await recordShielded {
                    try await self.retryOrFail(outboxEntry, chat: chat, planner: planner, error: "\(error)", retryAfter: nil, logger: logger)
                }
                return
            }
            // Logged when the provider has it — before recording, whose decisions (the next
            // reminder scheduled) follow it in the log as they follow it in time.
            var sent: Logger.Metadata = ["channel.id": "\(chat.channelID)"]
            if entry.purpose == .reminder {
                sent["followup.run"] = "\(entry.followUpRun ?? 0)"
                sent["followup.step"] = "\(entry.followUpStep ?? 0)"
                if case .template = entry.delivery { sent["outbox.delivery"] = "template" }
            } else {
                sent["outbox.purpose"] = "\(entry.purpose.rawValue)"
            }
            logger.event(entry.purpose == .reminder ? "reminder sent" : "reply sent", sent, personal: ["message.text": "\(entry.text)"])
            try await recordSent(outboxEntry, receipt: receipt, planner: planner, logger: logger)
        } catch StoreError.leaseLost(let lease, let id) {
            // This delivery outlived its lease and another process took the entry over (as an
            // interrupted delivery, which it ends as a dead letter rather than resend it).
            leaseLost(lease, id: id, what: "delivery outcome", logger: logger)
        } catch is CancellationError {
            // Shutdown cut the delivery short (what a provider accepted is recorded shielded).
            // The entry stays leased; after the lease it counts as interrupted, never sent twice.
            logger.debug("delivery stopped by shutdown")
        } catch {
            logger.error("recording a delivery failed", metadata: ["error": "\(error)"])
        }
    }

    /// Records a delivery outcome in the next batch of outcomes (`Store.complete(_:)`).
    func complete(
        outboxID: Int64, _ outcome: OutboxOutcome, lease: Lease?, chatChange: (@Sendable (inout Chat) -> Void)?, followUp: FollowUpTransition?
    ) async throws {
        try await recording.submit(OutboxCompletion(outboxID: outboxID, outcome, lease: lease, chatChange: chatChange, followUp: followUp))
    }

    /// Records a delivered message. The provider has it now, so a failure to record must never
    /// lead to sending it again: the write is shielded from shutdown, tried a few times, and
    /// otherwise the entry is left to its lease, whose expiry turns it into a dead letter rather
    /// than a duplicate.
    private func recordSent(_ outboxEntry: OutboxEntry, receipt: DeliveryReceipt, planner: FollowUpPlanner?, logger: Logger) async throws {
        let entry = outboxEntry.entry
        let sentAt = clock.now()
        var attempt = 0
        while true {
            do {
                try await recordShielded {
                    try await self.complete(
                        outboxID: outboxEntry.id, .sent(at: sentAt, providerMessageIDs: receipt.providerMessageIDs, delivered: receipt.delivered),
                        lease: outboxEntry.lease, chatChange: nil
                    ) { state, chat in
                        guard let planner else { return [] }
                        let facts = FollowUpPlanner.ChatFacts(chat: chat)
                        switch entry.purpose {
                        case .reminder:
                            // A chain that stopped (and maybe started over) while the provider took
                            // this one has recorded that step's end already; a re-engagement
                            // template stands in for a step whose end is recorded too.
                            guard state.run == entry.followUpRun, !OutboxKey(rawValue: entry.idempotencyKey).isReengagement else { return [] }
                            return planner.apply(.reminderSent(step: entry.followUpStep ?? 0, at: sentAt), to: &state, facts: facts)
                        case .reply, .operator:
                            // The employee's message is now the last in the chat: the chain (re)starts.
                            return planner.apply(.employeeMessage(at: sentAt), to: &state, facts: facts)
                        case .autoReply:
                            // An auto-reply promises a real answer later; it does not arm reminders.
                            return []
                        }
                    }
                }
                if entry.purpose != .autoReply { nudge(.reminders) }
                return
            } catch {
                // Another claimer holds the entry now: trying again cannot change that.
                if case StoreError.leaseLost = error { throw error }
                attempt += 1
                logger.error("recording a delivered message failed", metadata: ["error": "\(error)", "attempt": "\(attempt)"])
                if attempt >= 3 { throw error }
                try? await Task.sleep(for: .milliseconds(200 * attempt))
            }
        }
    }

    private func recordFailure(_ outboxEntry: OutboxEntry, _ error: DeliveryError, chat: Chat, planner: FollowUpPlanner?, logger: Logger) async throws {
        switch error.kind {
        case .retryable:
            try await retryOrFail(outboxEntry, chat: chat, planner: planner, error: error.message, retryAfter: error.retryAfter, logger: logger)
        case .unreachable:
            let now = clock.now()
            try await complete(outboxID: outboxEntry.id, .dead(at: now, error: error.message), lease: outboxEntry.lease, chatChange: { $0.unreachable = true }) {
                state, chat in planner?.apply(.chatUnreachable(at: now), to: &state, facts: .init(chat: chat)) ?? []
            }
            logger.event("dead letter", level: .warning, deadLetter(outboxEntry, error: error.message, reason: .chatUnreachable))
        case .permanent:
            try await fail(outboxEntry, planner: planner, error: error.message, logger: logger)
        case .windowClosed:
            try await windowClosed(outboxEntry, error: error.message, chat: chat, planner: planner, logger: logger)
        }
    }

    /// The provider refused free-form text at once because the client's window had closed. The
    /// text stays on the chat as a dead letter (never retried as free-form); a reminder's step
    /// goes the template path or is skipped with `window_closed`, and the chain moves on.
    private func windowClosed(_ outboxEntry: OutboxEntry, error: String, chat: Chat, planner: FollowUpPlanner?, logger: Logger) async throws {
        let entry = outboxEntry.entry
        guard entry.purpose == .reminder, entry.delivery == .freeForm, let run = entry.followUpRun, let step = entry.followUpStep,
            !OutboxKey(rawValue: entry.idempotencyKey).isReengagement
        else {
            try await fail(outboxEntry, planner: planner, error: error, logger: logger)
            return
        }
        let now = clock.now()
        let moved = Captured(false)
        try await complete(outboxID: outboxEntry.id, .dead(at: now, error: error), lease: outboxEntry.lease, chatChange: nil) { state, chat in
            guard let planner, state.run == run else { return [] }
            let log = planner.apply(.reminderWindowClosed(step: step, at: now, detail: "the provider refused the free-form reminder: \(error)"),
                                    to: &state, facts: .init(chat: chat))
            moved.value = !log.isEmpty
            return log
        }
        logger.event("dead letter", level: .warning, deadLetter(outboxEntry, error: error, reason: .windowClosed))
        if moved.value, let template = senders.capabilities(ofChannel: chat.channelID).reengagementTemplate {
            try await queueReengagement(chatID: chat.id, text: entry.text, template: template, run: run, step: step, decision: nil)
        }
        nudge(.reminders)
    }

    /// Queues the channel's re-engagement template in place of reminder (run, step), which the
    /// provider refused as free-form text; `decision` is logged with it.
    func queueReengagement(chatID: String, text: String, template: String, run: Int, step: Int, decision: FollowUpDecision?) async throws {
        let entry = NewOutboxEntry(
            chatID: chatID, purpose: .reminder, idempotencyKey: OutboxKey.reengagement(run: run, step: step).rawValue, text: text,
            delivery: .template(template), notBefore: clock.now(), followUpRun: run, followUpStep: step)
        _ = try await store.enqueue(entry, usage: nil, chatChange: nil) { _, _ in decision.map { [$0] } ?? [] }
        nudge(.deliveries)
    }

    private func retryOrFail(
        _ entry: OutboxEntry, chat: Chat, planner: FollowUpPlanner?, error: String, retryAfter: Duration?, logger: Logger
    ) async throws {
        guard entry.attempts < configuration.maxDeliveryAttempts else {
            try await fail(entry, planner: planner, error: "gave up after \(entry.attempts) attempts: \(error)", logger: logger)
            return
        }
        let wait = retryAfter ?? configuration.backoff(attempt: entry.attempts)
        var next = clock.now(plusReal: wait)
        // What the employee writes goes out in working hours only, retries included; an
        // operator's message and the out-of-hours auto-reply are not bound by them.
        if entry.entry.purpose == .reply || entry.entry.purpose == .reminder,
            let hours = roster.roster.employees[chat.employeeID]?.workingHours, let open = hours.nextWorkingMoment(atOrAfter: next)
        {
            next = open
        }
        try await complete(outboxID: entry.id, .retry(at: next, error: error), lease: entry.lease, chatChange: nil, followUp: nil)
        logger.info("delivery will be retried", metadata: ["error": "\(error)", "outbox.attempt": "\(entry.attempts)"])
    }

    /// Ends an entry as a dead letter; a reminder's chain records why it stopped.
    private func fail(_ entry: OutboxEntry, planner: FollowUpPlanner?, error: String, logger: Logger) async throws {
        let now = clock.now()
        try await complete(outboxID: entry.id, .dead(at: now, error: error), lease: entry.lease, chatChange: nil) { state, chat in
            guard entry.entry.purpose == .reminder, let planner, let step = entry.entry.followUpStep, state.run == entry.entry.followUpRun,
                !OutboxKey(rawValue: entry.entry.idempotencyKey).isReengagement
            else { return [] }
            return planner.apply(.reminderFailed(step: step, at: now, detail: error), to: &state, facts: .init(chat: chat))
        }
        logger.event("dead letter", level: .warning, deadLetter(entry, error: error, reason: .deliveryFailed))
    }

    /// The ids and codes of a dead letter's log line (the logger carries `chat.id` and `outbox.id`).
    private func deadLetter(_ entry: OutboxEntry, error: String, reason: ReasonCode) -> Logger.Metadata {
        var metadata: Logger.Metadata = ["outbox.purpose": "\(entry.entry.purpose.rawValue)", "reason": "\(reason.rawValue)", "error": "\(error)"]
        if let step = entry.entry.followUpStep { metadata["followup.step"] = "\(step)" }
        return metadata
    }
}
