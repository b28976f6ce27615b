import Foundation
import Logging
import SwitchboardCore

extension Scheduler {
    /// Delivers one claimed outbox entry and records the outcome with its consequences for the
    /// chat and its follow-up chain, in one transaction.
    func deliver(_ outboxEntry: OutboxEntry) async {
        let entry = outboxEntry.entry
        var logger = self.logger
        logger[metadataKey: "chat.id"] = "\(entry.chatID)"
        logger[metadataKey: "outbox.id"] = "\(outboxEntry.id)"
        do {
            let chat = try await store.existingChat(id: entry.chatID)
            let planner = planner(for: chat)

            if outboxEntry.interrupted {
                // The process delivering it stopped mid-request: the provider may already have it.
                // Sending again could deliver it twice, so it ends here, visibly.
                try await fail(outboxEntry, planner: planner, error: "delivery was interrupted; not resent to avoid a duplicate", logger: logger)
                return
            }
            if entry.purpose == .reminder {
                let state = try await store.followUpState(chatID: chat.id)
                guard let state, state.status == .sending, state.run == entry.followUpRun, state.step == entry.followUpStep else {
                    try await store.complete(outboxID: outboxEntry.id, .cancelled(at: clock.now(), reason: "the chain moved on before delivery"),
                                             chatChange: nil, followUp: nil)
                    return
                }
            }
            if chat.unreachable {
                try await store.complete(outboxID: outboxEntry.id, .cancelled(at: clock.now(), reason: "chat is unreachable"), chatChange: nil) { state, _ in
                    planner?.apply(.chatUnreachable(at: self.clock.now()), to: &state) ?? []
                }
                return
            }
            guard let sender = senders.sender(forChannel: chat.channelID) else {
                try await retryOrFail(outboxEntry, planner: planner, error: "channel \(chat.channelID) is not running", retryAfter: nil, logger: logger)
                return
            }
            let receipt: DeliveryReceipt
            do {
                receipt = try await sender.send(
                    OutboundMessage(chatID: chat.id, channelID: chat.channelID, conversationKey: chat.conversationKey, text: entry.text,
                                    delivery: entry.delivery))
            } catch let error as DeliveryError {
                try await recordFailure(outboxEntry, error, planner: planner, logger: logger)
                return
            } catch {
                try await retryOrFail(outboxEntry, planner: planner, error: "\(error)", retryAfter: nil, logger: logger)
                return
            }
            try await recordSent(outboxEntry, receipt: receipt, planner: planner, logger: logger)
        } catch {
            logger.error("recording a delivery failed", metadata: ["error": "\(error)"])
        }
    }

    /// Records a delivered message. The provider has it now, so a failure to record must never
    /// lead to sending it again: a few attempts, then the entry is left to its lease, whose
    /// expiry turns it into a dead letter rather than a duplicate.
    private func recordSent(_ outboxEntry: OutboxEntry, receipt: DeliveryReceipt, planner: FollowUpPlanner?, logger: Logger) async throws {
        let entry = outboxEntry.entry
        let sentAt = clock.now()
        var attempt = 0
        while true {
            do {
                try await store.complete(outboxID: outboxEntry.id, .sent(at: sentAt, providerMessageIDs: receipt.providerMessageIDs, delivered: receipt.delivered), chatChange: nil) {
                    state, _ in
                    guard let planner else { return [] }
                    switch entry.purpose {
                    case .reminder:
                        return planner.apply(.reminderSent(step: entry.followUpStep ?? 0, at: sentAt), to: &state)
                    case .reply, .operator:
                        // The employee's message is now the last in the chat: the chain (re)starts.
                        return planner.apply(.employeeMessage(at: sentAt), to: &state)
                    case .autoReply:
                        // An auto-reply promises a real answer later; it does not arm reminders.
                        return []
                    }
                }
                logger.debug("delivered", metadata: ["outbox.purpose": "\(entry.purpose.rawValue)"])
                return
            } catch {
                attempt += 1
                logger.error("recording a delivered message failed", metadata: ["error": "\(error)", "attempt": "\(attempt)"])
                if attempt >= 3 { throw error }
                try await Task.sleep(nanoseconds: 200_000_000 * UInt64(attempt))
            }
        }
    }

    private func recordFailure(_ outboxEntry: OutboxEntry, _ error: DeliveryError, planner: FollowUpPlanner?, logger: Logger) async throws {
        switch error.kind {
        case .retryable:
            try await retryOrFail(outboxEntry, planner: planner, error: error.message, retryAfter: error.retryAfter, logger: logger)
        case .unreachable:
            let now = clock.now()
            try await store.complete(outboxID: outboxEntry.id, .dead(at: now, error: error.message), chatChange: { $0.unreachable = true }) {
                state, _ in planner?.apply(.chatUnreachable(at: now), to: &state) ?? []
            }
            logger.notice("chat unreachable", metadata: ["error": "\(error.message)"])
        case .permanent:
            try await fail(outboxEntry, planner: planner, error: error.message, logger: logger)
        }
    }

    private func retryOrFail(_ entry: OutboxEntry, planner: FollowUpPlanner?, error: String, retryAfter: Duration?, logger: Logger) async throws {
        guard entry.attempts < configuration.maxDeliveryAttempts else {
            try await fail(entry, planner: planner, error: "gave up after \(entry.attempts) attempts: \(error)", logger: logger)
            return
        }
        let wait = retryAfter ?? configuration.backoff(attempt: entry.attempts)
        let next = clock.now(plusReal: wait)
        try await store.complete(outboxID: entry.id, .retry(at: next, error: error), chatChange: nil, followUp: nil)
        logger.info("delivery will be retried", metadata: ["error": "\(error)", "outbox.attempt": "\(entry.attempts)"])
    }

    /// Ends an entry as a dead letter; a reminder's chain records why it stopped.
    private func fail(_ entry: OutboxEntry, planner: FollowUpPlanner?, error: String, logger: Logger) async throws {
        let now = clock.now()
        try await store.complete(outboxID: entry.id, .dead(at: now, error: error), chatChange: nil) { state, _ in
            guard entry.entry.purpose == .reminder, let planner, let step = entry.entry.followUpStep else { return [] }
            return planner.apply(.reminderFailed(step: step, at: now, detail: error), to: &state)
        }
        logger.warning("message ended as a dead letter", metadata: ["error": "\(error)"])
    }
}
