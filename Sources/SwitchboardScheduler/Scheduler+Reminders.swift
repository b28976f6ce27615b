import Foundation
import Logging
import SwitchboardCore

extension Scheduler {
    /// The planner for a chat, from the current roster and the chat's channel.
    func planner(for chat: Chat) -> FollowUpPlanner? {
        guard let employee = roster.roster.employees[chat.employeeID] else { return nil }
        return FollowUpPlanner(employee: employee, channel: senders.capabilities(ofChannel: chat.channelID))
    }

    /// The facts the follow-up gates need about a chat, as of `now`.
    func facts(for chat: Chat, employee: Employee?, now: Date) async throws -> FollowUpPlanner.ChatFacts {
        var spent = 0
        if let employee, employee.followUp.dailyTokenBudget != nil {
            let startOfDay = employee.workingHours.startOfDay(containing: now)
            spent = try await store.tokenUsage(employeeID: employee.id, purpose: .reminder, from: startOfDay, to: .distantFuture).totalTokens
        }
        return FollowUpPlanner.ChatFacts(
            lastClientMessageAt: chat.lastClientMessageAt, unreachable: chat.unreachable, aiPausedUntil: chat.aiPausedUntil,
            followUpTokensToday: spent,
            channelRetryAt: senders.sender(forChannel: chat.channelID) == nil ? clock.now(plusReal: configuration.channelRetry) : nil)
    }

    /// A fenced follow-up change, in the next batch of them (`Store.updateFollowUps`).
    @discardableResult
    func updateFollowUp(chatID: String, lease: Lease?, _ transition: @escaping FollowUpTransition) async throws -> FollowUpState {
        try await gates.submit(FollowUpUpdate(chatID: chatID, lease: lease, transition))
    }

    /// Fires one claimed reminder: checks the gates, composes it, and queues it for delivery.
    func fire(_ item: DueFollowUp) async {
        var logger = self.logger
        logger[metadataKey: "chat.id"] = "\(item.chat.id)"
        logger[metadataKey: "followup.step"] = "\(item.state.step ?? 0)"
        do {
            let now = clock.now()
            guard let planner = planner(for: item.chat) else {
                // The employee is gone from config: nothing can be composed in their name.
                try await updateFollowUp(chatID: item.chat.id, lease: item.lease) { state, chat in
                    FollowUpPlanner(chain: .disabled, hours: .always).apply(.chainChanged(at: now), to: &state, facts: .init(chat: chat))
                }
                return
            }
            let employee = roster.roster.employees[item.chat.employeeID]
            let facts = try await facts(for: item.chat, employee: employee, now: now)
            let maxAttempts = configuration.maxCompositionAttempts
            let verdict = Captured<FollowUpPlanner.Verdict>(.notNow)
            let state = try await updateFollowUp(chatID: item.chat.id, lease: item.lease) { state, _ in
                var log: [FollowUpDecision] = []
                var v = planner.fire(state: &state, now: now, facts: facts, log: &log)
                // Counted before composing, in this transaction, so a crash mid-composition
                // still counts and no (run, step) is composed more than `maxAttempts` times.
                if case .send = v, !planner.beginComposition(state: &state, now: now, maxAttempts: maxAttempts, facts: facts, log: &log) {
                    v = .notNow
                }
                verdict.value = v
                return log
            }
            guard case .send(let step, let instruction, let delivery) = verdict.value, let employee else { return }
            let run = state.run

            let history = try await histories.submit(item.chat.id)
            let composition: Composition
            do {
                let request = CompositionRequest(
                    employee: employee, chatTitle: item.chat.title, purpose: .reminder(step: step, instruction: instruction), history: history, now: now)
                composition = try await compositionSlots.with { try await reminderLimit.timing { try await composer.compose(request) } }
            } catch {
                let permanent = (error as? CompositionError)?.isRetryable == false
                composerFailed(error, permanent: permanent, purpose: "reminder", logger: logger)
                let retryAfter = (error as? CompositionError)?.retryAfter ?? configuration.backoff(attempt: state.attempts)
                let backoff = Duration.seconds(retryAfter.seconds * clock.rate)
                try await updateFollowUp(chatID: item.chat.id, lease: item.lease) { state, _ in
                    guard state.run == run, state.step == step else { return [] }
                    return planner.compositionFailed(state: &state, now: now, backoff: backoff, maxAttempts: permanent ? 0 : maxAttempts, facts: facts,
                                                     detail: "\(error)")
                }
                return
            }
            composerHealth?.recover()

            let usage = UsageRecord(employeeID: employee.id, chatID: item.chat.id, purpose: .reminder, usage: composition.usage,
                                    model: composition.model, at: clock.now())
            let entry = NewOutboxEntry(
                chatID: item.chat.id, purpose: .reminder, idempotencyKey: OutboxKey.reminder(run: run, step: step).rawValue, text: composition.text,
                delivery: delivery, author: .employee, notBefore: clock.now(), followUpRun: run, followUpStep: step)
            do {
                let queued = try await queueing.submit(OutboxEnqueue(entry, usage: usage, lease: item.lease) { state, chat in
                    // The client may have replied, or an admin switched follow-up off, while we composed.
                    guard state.status == .scheduled, state.run == run, state.step == step else {
                        throw TransitionRejected("the chain moved on while the reminder was composed")
                    }
                    return planner.apply(
                        .reminderQueued(step: step, at: now), to: &state,
                        facts: .init(chat: chat, followUpTokensToday: facts.followUpTokensToday))
                })
                if queued == nil {
                    // Cannot happen while every stop ends its (run, step) for good; if it does,
                    // the tokens are still counted and the retries stay bounded.
                    logger.error("reminder key already used; not queued twice", metadata: ["outbox.key": "\(entry.idempotencyKey)"])
                    try await store.recordUsage(usage)
                    try await updateFollowUp(chatID: item.chat.id, lease: item.lease) { state, _ in
                        guard state.run == run, state.step == step else { return [] }
                        return planner.compositionFailed(state: &state, now: now, backoff: .zero, maxAttempts: 0, facts: facts,
                                                         detail: "a reminder was already queued under \(entry.idempotencyKey)")
                    }
                } else {
                    nudge(.deliveries)
                }
            } catch let rejected as TransitionRejected {
                logger.debug("reminder dropped", metadata: ["reason": "\(rejected.reason)"])
                try await store.recordUsage(usage)
            } catch StoreError.leaseLost(let lease, let id) {
                // Composed too slowly: another process fired this reminder meanwhile. The
                // tokens were spent all the same.
                leaseLost(lease, id: id, what: "composed reminder", logger: logger)
                try await store.recordUsage(usage)
            }
        } catch StoreError.leaseLost(let lease, let id) {
            leaseLost(lease, id: id, what: "reminder decision", logger: logger)
        } catch {
            logger.error("firing a reminder failed", metadata: ["error": "\(error)"])
        }
    }
}
