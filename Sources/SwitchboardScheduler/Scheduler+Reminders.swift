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
            followUpTokensToday: spent)
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
                try await store.updateFollowUp(chatID: item.chat.id) { state, _ in
                    FollowUpPlanner(chain: .disabled, hours: .always).apply(.chainChanged(at: now), to: &state)
                }
                return
            }
            let employee = roster.roster.employees[item.chat.employeeID]
            let facts = try await facts(for: item.chat, employee: employee, now: now)
            let verdict = Captured<FollowUpPlanner.Verdict>(.notNow)
            let state = try await store.updateFollowUp(chatID: item.chat.id) { state, _ in
                var log: [FollowUpDecision] = []
                let v = planner.fire(state: &state, now: now, facts: facts, log: &log)
                verdict.value = v
                return log
            }
            guard case .send(let step, let instruction, let delivery) = verdict.value, let employee else { return }
            let run = state.run

            let history = try await store.messages(chatID: item.chat.id, limit: configuration.historyLimit)
            let composition: Composition
            do {
                composition = try await composer.compose(
                    CompositionRequest(employee: employee, chatTitle: item.chat.title, purpose: .reminder(step: step, instruction: instruction),
                                       history: history, now: now))
            } catch {
                logger.warning("composing a reminder failed", metadata: ["error": "\(error)"])
                let retryAfter = (error as? CompositionError)?.retryAfter ?? configuration.backoff(attempt: state.attempts + 1)
                let backoff = Duration.seconds(retryAfter.seconds * clock.rate)
                let maxAttempts = (error as? CompositionError)?.isRetryable == false ? 1 : configuration.maxCompositionAttempts
                try await store.updateFollowUp(chatID: item.chat.id) { state, _ in
                    planner.compositionFailed(state: &state, now: now, backoff: backoff, maxAttempts: maxAttempts, facts: facts, detail: "\(error)")
                }
                return
            }

            let usage = UsageRecord(employeeID: employee.id, chatID: item.chat.id, purpose: .reminder, usage: composition.usage,
                                    model: composition.model, at: clock.now())
            let entry = NewOutboxEntry(
                chatID: item.chat.id, purpose: .reminder, idempotencyKey: "reminder:\(run):\(step)", text: composition.text,
                delivery: delivery, author: .employee, notBefore: clock.now(), followUpRun: run, followUpStep: step)
            do {
                let queued = try await store.enqueue(entry, usage: usage) { state, _ in
                    // The client may have replied, or an admin switched follow-up off, while we composed.
                    guard state.status == .scheduled, state.run == run, state.step == step else {
                        throw TransitionRejected("the chain moved on while the reminder was composed")
                    }
                    return planner.apply(.reminderQueued(step: step, at: now), to: &state)
                }
                if queued == nil { logger.notice("reminder already queued by another claim; not queued twice") }
            } catch let rejected as TransitionRejected {
                logger.info("reminder dropped", metadata: ["reason": "\(rejected.reason)"])
                try await store.recordUsage(usage)
            }
        } catch {
            logger.error("firing a reminder failed", metadata: ["error": "\(error)"])
        }
    }
}
