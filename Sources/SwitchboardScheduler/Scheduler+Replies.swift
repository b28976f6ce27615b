import Foundation
import Logging
import SwitchboardCore

extension Scheduler {
    /// Composes the answer a chat is owed and queues it; delivering it arms the chain.
    func reply(to due: DueReply) async {
        let claimed = due.chat
        let lease = due.lease
        var logger = self.logger
        logger[metadataKey: "chat.id"] = "\(claimed.id)"
        do {
            let now = clock.now()
            guard let employee = roster.roster.employees[claimed.employeeID] else {
                _ = try await store.updateChat(id: claimed.id, lease: lease, { $0.replyDueAt = nil }, followUp: nil)
                return
            }
            let hours = employee.workingHours
            if let paused = claimed.aiPausedUntil, paused > now {
                // An operator has the chat; the AI does not answer over them. If they leave the
                // client's message unanswered, the AI answers once the pause is over.
                let after = hours.nextWorkingMoment(atOrAfter: paused)
                _ = try await store.updateChat(id: claimed.id, lease: lease, { $0.replyDueAt = after }, followUp: nil)
                logger.debug("answer waits for the operator pause to end")
                return
            }
            if !hours.isWorking(at: now) {
                let next = hours.nextWorkingMoment(atOrAfter: now)
                _ = try await store.updateChat(id: claimed.id, lease: lease, { $0.replyDueAt = next }, followUp: nil)
                return
            }
            let answered = claimed.lastClientMessageAt ?? now
            if let budget = replyBudget {
                let spent = try await store.tokenUsage(
                    employeeID: employee.id, purpose: .reply, from: hours.startOfDay(containing: now), to: .distantFuture
                ).totalTokens
                if spent >= budget.dailyTokens {
                    try await replyOverBudget(claimed, lease: lease, answering: answered, employee: employee, budget: budget, spent: spent, logger: logger)
                    return
                }
            }
            // Counted before composing, so a crash mid-composition counts too.
            let attempt = claimed.replyAttempts + 1
            _ = try await store.updateChat(id: claimed.id, lease: lease, { $0.replyAttempts = attempt }, followUp: nil)

            let history = try await store.messages(chatID: claimed.id, limit: configuration.historyLimit)
            let composition: Composition
            do {
                composition = try await composer.compose(
                    CompositionRequest(employee: employee, chatTitle: claimed.title, purpose: .reply, history: history, now: now))
            } catch {
                let permanent = (error as? CompositionError)?.isRetryable == false
                composerFailed(error, permanent: permanent, purpose: "reply", logger: logger)
                if permanent || attempt >= configuration.maxCompositionAttempts {
                    try await giveUpReply(claimed, lease: lease, answering: answered, error: error, attempts: attempt, permanent: permanent)
                } else {
                    let wait = (error as? CompositionError)?.retryAfter ?? configuration.backoff(attempt: attempt)
                    let retryAt = clock.now(plusReal: wait)
                    _ = try await store.updateChat(id: claimed.id, lease: lease, { $0.replyDueAt = retryAt }, followUp: nil)
                }
                return
            }
            composerHealth?.recover()
            let usage = UsageRecord(employeeID: employee.id, chatID: claimed.id, purpose: .reply, usage: composition.usage, model: composition.model,
                                    at: clock.now())
            let queued: OutboxEntry?
            do {
                queued = try await store.enqueue(
                    NewOutboxEntry(chatID: claimed.id, purpose: .reply, idempotencyKey: OutboxKey.reply(answering: answered).rawValue, text: composition.text,
                                   notBefore: clock.now()),
                    usage: usage, lease: lease,
                    chatChange: Self.settleDebt(answering: claimed),
                    followUp: nil)
            } catch StoreError.leaseLost(let lease, let id) {
                // Composed too slowly: another process answered meanwhile. The tokens count.
                leaseLost(lease, id: id, what: "composed reply", logger: logger)
                try await store.recordUsage(usage)
                return
            }
            if queued == nil {
                // Already answered (another process's claim ran out mid-composition): the
                // tokens still count, and the debt is settled.
                try await store.recordUsage(usage)
                _ = try await store.updateChat(id: claimed.id, lease: lease, Self.settleDebt(answering: claimed), followUp: nil)
            } else {
                nudge(.deliveries)
            }
        } catch StoreError.leaseLost(let lease, let id) {
            leaseLost(lease, id: id, what: "reply decision", logger: logger)
        } catch {
            logger.error("replying failed", metadata: ["error": "\(error)"])
        }
    }

    /// Answers without the model: the employee's AI replies have spent the day's budget. The
    /// configured budget reply is queued as the answer — delivered, it arms the chain like any
    /// reply — and the chat's decision log says why no AI reply was composed (which also counts
    /// it in `switchboard_followup_decisions_total{reason="reply_budget_spent"}`).
    private func replyOverBudget(_ chat: Chat, lease: Lease, answering: Date, employee: Employee, budget: ReplyBudget, spent: Int, logger: Logger) async throws {
        let now = clock.now()
        let detail = "\(spent) of \(budget.dailyTokens) tokens of AI replies used today; the client got the budget reply"
        let queued = try await store.enqueue(
            NewOutboxEntry(chatID: chat.id, purpose: .reply, idempotencyKey: OutboxKey.reply(answering: answering).rawValue,
                           text: budget.fallbackText, notBefore: now),
            usage: nil, lease: lease,
            chatChange: Self.settleDebt(answering: chat),
            followUp: { state, _ in
                [FollowUpDecision(kind: .skipped, reason: .replyBudgetSpent, run: state.run, step: nil, at: now, detail: detail)]
            })
        if queued == nil {
            // Already answered: the debt is settled all the same.
            _ = try await store.updateChat(id: chat.id, lease: lease, Self.settleDebt(answering: chat), followUp: nil)
            return
        }
        logger.notice(
            "the daily token budget for AI replies is spent: sent the budget reply instead",
            metadata: ["employee.id": "\(employee.id)", "budget.tokens": "\(budget.dailyTokens)", "budget.spent": "\(spent)"])
        nudge(.deliveries)
    }

    /// Settles the answer owed for the client message `claimed` was claimed for: the attempts
    /// start over, and the debt ends unless the client wrote again meanwhile (that message
    /// still needs its own answer).
    static func settleDebt(answering claimed: Chat) -> @Sendable (inout Chat) -> Void {
        let answered = claimed.lastClientMessageAt
        return { chat in
            chat.replyAttempts = 0
            if chat.lastClientMessageAt == answered { chat.replyDueAt = nil }
        }
    }

    /// Ends an answer that cannot be composed as a visible failure on the chat (a dead letter
    /// saying why) instead of retrying for ever.
    private func giveUpReply(_ chat: Chat, lease: Lease, answering: Date, error: any Error, attempts: Int, permanent: Bool) async throws {
        let why = permanent ? "the composer refused: \(error)" : "gave up after \(attempts) compositions: \(error)"
        let entry = try await store.enqueue(
            NewOutboxEntry(chatID: chat.id, purpose: .reply, idempotencyKey: OutboxKey.replyFailed(answering: answering).rawValue,
                           text: "(no answer could be composed)", notBefore: clock.now(), failure: why),
            usage: nil, lease: lease,
            chatChange: Self.settleDebt(answering: chat),
            followUp: nil)
        if let entry {
            logger.event("dead letter", level: .warning, [
                "chat.id": "\(chat.id)", "outbox.id": "\(entry.id)", "outbox.purpose": "reply", "reason": "\(ReasonCode.compositionFailed.rawValue)",
                "error": "\(why)",
            ])
        }
    }

    /// For a composer failure only an admin can fix, says once what to fix and marks the
    /// composer not ready (the gateway's metered composer counts every failure by kind).
    func composerFailed(_ error: any Error, permanent: Bool, purpose: String, logger: Logger) {
        if permanent {
            let problem = "the composer refuses requests (\(error)); check composer.api_key, composer.model and composer.base_url"
            if composerHealth?.problem != problem {
                logger.error("composing fails permanently: \(problem)")
            }
            composerHealth?.fail(problem)
        } else {
            logger.warning("composing failed; will retry", metadata: ["composer.purpose": "\(purpose)", "error": "\(error)"])
        }
    }
}
