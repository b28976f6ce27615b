import Foundation
import Logging
import SwitchboardCore

extension Scheduler {
    /// Composes the answer a chat is owed and queues it; delivering it arms the chain.
    func reply(to claimed: Chat) async {
        var logger = self.logger
        logger[metadataKey: "chat.id"] = "\(claimed.id)"
        do {
            let now = clock.now()
            guard let employee = roster.roster.employees[claimed.employeeID] else {
                _ = try await store.updateChat(id: claimed.id, { $0.replyDueAt = nil }, followUp: nil)
                return
            }
            if let paused = claimed.aiPausedUntil, paused > now {
                // An operator has the chat; the AI does not answer over them.
                _ = try await store.updateChat(id: claimed.id, { $0.replyDueAt = nil }, followUp: nil)
                return
            }
            if !employee.workingHours.isWorking(at: now) {
                let next = employee.workingHours.nextWorkingMoment(atOrAfter: now)
                _ = try await store.updateChat(id: claimed.id, { $0.replyDueAt = next }, followUp: nil)
                return
            }
            let history = try await store.messages(chatID: claimed.id, limit: configuration.historyLimit)
            let composition: Composition
            do {
                composition = try await composer.compose(
                    CompositionRequest(employee: employee, chatTitle: claimed.title, purpose: .reply, history: history, now: now))
            } catch {
                let wait = (error as? CompositionError)?.retryAfter ?? .seconds(30)
                let retryAt = clock.now(plusReal: wait)
                logger.warning("composing a reply failed; will retry", metadata: ["error": "\(error)"])
                _ = try await store.updateChat(id: claimed.id, { $0.replyDueAt = retryAt }, followUp: nil)
                return
            }
            let answered = claimed.lastClientMessageAt
            let key = "reply:\(Int((answered ?? now).timeIntervalSince1970 * 1000))"
            _ = try await store.enqueue(
                NewOutboxEntry(chatID: claimed.id, purpose: .reply, idempotencyKey: key, text: composition.text, notBefore: clock.now()),
                usage: UsageRecord(employeeID: employee.id, chatID: claimed.id, purpose: .reply, usage: composition.usage, model: composition.model,
                                   at: clock.now()),
                chatChange: { chat in
                    // A message that arrived while we composed still needs its own answer.
                    if chat.lastClientMessageAt == answered { chat.replyDueAt = nil }
                },
                followUp: nil)
        } catch {
            logger.error("replying failed", metadata: ["error": "\(error)"])
        }
    }
}
