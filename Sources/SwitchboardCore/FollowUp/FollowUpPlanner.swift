public import Foundation

/// The Auto Follow-up rules as a pure state machine: events in, a new `FollowUpState` and the
/// decisions taken out. The scheduler and the message flow perform what it decides; nothing
/// here reads a clock or touches storage, so every rule is testable with plain values.
public struct FollowUpPlanner: Sendable {
    public var chain: FollowUpChain
    public var hours: WorkingHours
    public var channel: ChannelCapabilities

    public init(chain: FollowUpChain, hours: WorkingHours, channel: ChannelCapabilities = .plain) {
        self.chain = chain
        self.hours = hours
        self.channel = channel
    }

    public init(employee: Employee, channel: ChannelCapabilities = .plain) {
        self.init(chain: employee.followUp, hours: employee.workingHours, channel: channel)
    }

    /// Something that happened in a chat. `at` is both when it happened and "now" for planning.
    public enum Event: Sendable, Hashable {
        /// The employee's message (an AI reply or an operator's) is now the last in the chat.
        case employeeMessage(at: Date)
        case clientMessage(at: Date, text: String)
        /// The pending reminder was composed and queued for delivery.
        case reminderQueued(step: Int, at: Date)
        case reminderSent(step: Int, at: Date)
        /// The pending reminder could not be delivered and ended as a dead letter.
        case reminderFailed(step: Int, at: Date, detail: String)
        /// The provider refused the pending reminder's free-form text at once because the
        /// client's window had closed: the channel's template goes out in its place (when it has
        /// one) or the step is skipped, and the chain moves on either way.
        case reminderWindowClosed(step: Int, at: Date, detail: String)
        case chatUnreachable(at: Date)
        /// An admin switched follow-up off or on for this chat.
        case chatFollowUp(enabled: Bool, at: Date)
        /// The employee's chain changed in config: re-plan the pending reminder from its anchor.
        case chainChanged(at: Date)
    }

    /// Facts about the chat beyond the follow-up state that the rules depend on.
    public struct ChatFacts: Sendable, Hashable {
        public var lastClientMessageAt: Date?
        public var unreachable: Bool
        public var aiPausedUntil: Date?
        /// Tokens spent composing this employee's reminders today (the employee's local day).
        public var followUpTokensToday: Int
        /// Set when the chat's channel is not running: when to look again. A due reminder waits
        /// until then (`channel_unavailable`) instead of being composed for nobody.
        public var channelRetryAt: Date?

        public init(
            lastClientMessageAt: Date? = nil, unreachable: Bool = false, aiPausedUntil: Date? = nil, followUpTokensToday: Int = 0,
            channelRetryAt: Date? = nil
        ) {
            self.channelRetryAt = channelRetryAt
            self.lastClientMessageAt = lastClientMessageAt
            self.unreachable = unreachable
            self.aiPausedUntil = aiPausedUntil
            self.followUpTokensToday = followUpTokensToday
        }

        /// What the stored chat says; the token count is the caller's to add where a gate needs it.
        public init(chat: Chat, followUpTokensToday: Int = 0) {
            self.init(lastClientMessageAt: chat.lastClientMessageAt, unreachable: chat.unreachable, aiPausedUntil: chat.aiPausedUntil,
                      followUpTokensToday: followUpTokensToday)
        }
    }

    // MARK: - Events

    /// Applies one event and returns the decisions to log. `facts` has no default on purpose:
    /// without the chat's last client message a windowed channel's deadline is "long past", and
    /// every later step would be templated or skipped.
    @discardableResult
    public func apply(_ event: Event, to state: inout FollowUpState, facts: ChatFacts) -> [FollowUpDecision] {
        var log: [FollowUpDecision] = []
        switch event {
        case .employeeMessage(let at):
            if let reason = armingBlocked(state: state, facts: facts) {
                // Not armed, and recorded so "why no reminder?" has an answer.
                cancel(&state, reason: reason, at: at, log: &log, always: true)
                return log
            }
            // A reminder still pending belongs to the run this message ends: it ends here, once.
            if state.isPending { cancel(&state, reason: .employeeMessage, at: at, log: &log) }
            state.run += 1
            state.attempts = 0
            state.anchor = at
            planStep(from: 1, anchor: at, now: at, reason: .employeeMessage, state: &state, facts: facts, log: &log)

        case .clientMessage(let at, let text):
            if chain.isOptOut(text) {
                state.optOut = .client
                cancel(&state, reason: .clientOptedOut, at: at, log: &log, always: true)
            } else {
                cancel(&state, reason: .clientReplied, at: at, log: &log)
                // A reminder the switch-off interrupted is not resumed once the client has replied.
                if state.optOut != nil { state.step = nil }
            }

        case .reminderQueued(let step, _):
            guard state.status == .scheduled, state.step == step else { return log }
            state.status = .sending

        case .reminderSent(let step, let at):
            // A late report for a step the chain has left (the provider took it while the client
            // was writing) changes nothing: that step already has its one final decision, and
            // the message itself is in the chat's history.
            guard state.isPending, state.step == step else { return log }
            log.append(FollowUpDecision(kind: .sent, reason: state.lastReason ?? .employeeMessage, run: state.run, step: step, at: at, due: state.due, sendsAt: state.sendsAt))
            if chain.steps.indices.contains(step - 1), chain.steps[step - 1].oncePerChat {
                state.firedOncePerChat.insert(step)
            }
            state.anchor = at
            planStep(from: step + 1, anchor: at, now: at, reason: .previousReminderSent, state: &state, facts: facts, log: &log)

        case .reminderFailed(let step, let at, let detail):
            guard state.isPending, state.step == step else { return log }
            log.append(FollowUpDecision(kind: .deadLetter, reason: .deliveryFailed, run: state.run, step: step, at: at, due: state.due,
                                        sendsAt: state.sendsAt, detail: detail))
            stop(&state, reason: .deliveryFailed)

        case .reminderWindowClosed(let step, let at, let detail):
            guard state.isPending, state.step == step else { return log }
            if channel.reengagementTemplate != nil {
                log.append(FollowUpDecision(kind: .deferred, reason: .reengagementTemplate, run: state.run, step: step, at: at, due: state.due,
                                            sendsAt: at, detail: detail + "; sending the template"))
            } else {
                log.append(FollowUpDecision(kind: .skipped, reason: .windowClosed, run: state.run, step: step, at: at, due: state.due,
                                            sendsAt: state.sendsAt, detail: detail))
            }
            // Nothing free-form reached the client, so the next step counts from the same anchor.
            planStep(from: step + 1, anchor: state.anchor ?? at, now: at, reason: .previousReminderSent, state: &state, facts: facts, log: &log)

        case .chatUnreachable(let at):
            cancel(&state, reason: .chatUnreachable, at: at, log: &log)

        case .chatFollowUp(let enabled, let at):
            if !enabled {
                // Already off: switching off again must not forget the reminder to resume.
                guard state.optOut != .admin else { return log }
                state.optOut = .admin
                cancel(&state, reason: .chatDisabled, at: at, log: &log, always: true)
            } else {
                let wasStoppedByOptOut = state.optOut != nil && state.status == .cancelled
                    && [.chatDisabled, .clientOptedOut].contains(state.lastReason)
                state.optOut = nil
                // Switching back on resumes a reminder the switch-off stopped, from its anchor. `cancel`
                // keeps `step` only when it stopped a pending reminder: a chain that had finished or that
                // the client had already answered has no step, and is not restarted.
                if wasStoppedByOptOut, let anchor = state.anchor, let step = state.step, armingBlocked(state: state, facts: facts) == nil {
                    // A new run: the stopped (run, step) has its "cancelled" decision and may have
                    // an outbox entry under its key, so the resumed reminder gets an identity of its own.
                    state.run += 1
                    state.attempts = 0
                    state.step = nil
                    planStep(from: step, anchor: anchor, now: at, reason: .chatEnabled, state: &state, facts: facts, log: &log)
                }
            }

        case .chainChanged(let at):
            guard state.isPending, let anchor = state.anchor, let step = state.step else { return log }
            if let reason = armingBlocked(state: state, facts: facts) {
                cancel(&state, reason: reason, at: at, log: &log)
            } else if state.status == .sending {
                // Composed and queued under its (run, step): it goes out as written, and the steps
                // after it follow the new chain once it is sent.
                return log
            } else if step > chain.steps.count {
                log.append(FollowUpDecision(kind: .cancelled, reason: .chainChanged, run: state.run, step: step, at: at, due: state.due,
                                            sendsAt: state.sendsAt, detail: "the chain has no step \(step) any more"))
                finish(&state, at: at, log: &log)
            } else {
                planStep(from: step, anchor: anchor, now: at, reason: .chainChanged, state: &state, facts: facts, log: &log)
            }
        }
        return log
    }

    // MARK: - Firing

    /// What to do with a pending reminder whose time has come.
    public enum Verdict: Sendable, Hashable {
        /// Compose and send this step now.
        case send(step: Int, instruction: String, delivery: Delivery)
        /// Not now: the state was moved to a later time, or the chain stopped or moved on.
        case notNow
    }

    /// Checks every gate for the pending reminder at `now`. On `.send` the state is unchanged;
    /// the caller reports `.reminderSent` or `.reminderFailed` once it knows the outcome.
    public func fire(state: inout FollowUpState, now: Date, facts: ChatFacts, log: inout [FollowUpDecision]) -> Verdict {
        guard state.status == .scheduled, let step = state.step, let sendsAt = state.sendsAt, sendsAt <= now else { return .notNow }
        if let reason = armingBlocked(state: state, facts: facts) {
            cancel(&state, reason: reason, at: now, log: &log)
            return .notNow
        }
        guard chain.steps.indices.contains(step - 1) else {
            log.append(FollowUpDecision(kind: .cancelled, reason: .chainChanged, run: state.run, step: step, at: now, due: state.due,
                                        sendsAt: state.sendsAt, detail: "the chain has no step \(step) any more"))
            finish(&state, at: now, log: &log)
            return .notNow
        }
        if let retry = facts.channelRetryAt {
            // Logged once per outage, not at every look: the chat shows why it waits.
            if state.lastReason != .channelUnavailable {
                log.append(FollowUpDecision(kind: .deferred, reason: .channelUnavailable, run: state.run, step: step, at: now, due: state.due, sendsAt: retry,
                                            detail: "the chat's channel is not running; the reminder goes out once it is"))
            }
            state.lastReason = .channelUnavailable
            state.sendsAt = retry
            return .notNow
        }
        if let paused = facts.aiPausedUntil, paused > now {
            return defer_(&state, to: paused, reason: .operatorActive, at: now, log: &log)
        }
        if !hours.isWorking(at: now) {
            guard let next = hours.nextWorkingMoment(atOrAfter: now) else {
                cancel(&state, reason: .noWorkingTime, at: now, log: &log)
                return .notNow
            }
            return defer_(&state, to: next, reason: .outsideWorkingHours, at: now, log: &log)
        }
        if let budget = chain.dailyTokenBudget, facts.followUpTokensToday >= budget {
            return skipAndContinue(&state, step: step, reason: .tokenBudgetSpent, now: now, facts: facts, log: &log)
        }
        var delivery = Delivery.freeForm
        if let deadline = channel.freeFormDeadline(lastClientMessageAt: facts.lastClientMessageAt), now >= deadline {
            guard let template = channel.reengagementTemplate else {
                return skipAndContinue(&state, step: step, reason: .windowClosed, now: now, facts: facts, log: &log)
            }
            delivery = .template(template)
        }
        return .send(step: step, instruction: chain.steps[step - 1].instruction, delivery: delivery)
    }

    // MARK: - Planning

    /// Schedules the first runnable step at or after `index`, counting its delay from `anchor`.
    func planStep(
        from index: Int, anchor: Date, now: Date, reason: ReasonCode, state: inout FollowUpState, facts: ChatFacts,
        log: inout [FollowUpDecision]
    ) {
        var number = index
        while number <= chain.steps.count {
            let step = chain.steps[number - 1]
            if step.oncePerChat && state.firedOncePerChat.contains(number) {
                log.append(FollowUpDecision(kind: .skipped, reason: .oncePerChatFired, run: state.run, step: number, at: now))
                number += 1
                continue
            }
            let due = anchor.addingTimeInterval(step.delaySeconds)
            guard let working = hours.nextWorkingMoment(atOrAfter: due) else {
                cancel(&state, reason: .noWorkingTime, at: now, log: &log, always: true)
                return
            }
            var sendsAt = working
            var delivery = Delivery.freeForm
            var moveReason: ReasonCode? = working > due ? .outsideWorkingHours : nil
            if let deadline = channel.freeFormDeadline(lastClientMessageAt: facts.lastClientMessageAt), working >= deadline {
                if channel.pullIn, let pulled = lastWorkingMoment(before: deadline, notBefore: max(anchor, now)) {
                    sendsAt = pulled
                    moveReason = .pulledIntoWindow
                } else if let template = channel.reengagementTemplate {
                    delivery = .template(template)
                    moveReason = moveReason ?? .reengagementTemplate
                } else {
                    log.append(FollowUpDecision(kind: .skipped, reason: .windowClosed, run: state.run, step: number, at: now, due: due))
                    number += 1
                    continue
                }
            }
            // Attempts count compositions of one (run, step); re-planning the same step keeps them.
            if !(state.isPending && state.step == number) { state.attempts = 0 }
            state.status = .scheduled
            state.step = number
            state.due = due
            state.sendsAt = sendsAt
            state.delivery = delivery
            state.lastReason = reason
            log.append(FollowUpDecision(kind: .scheduled, reason: reason, run: state.run, step: number, at: now, due: due, sendsAt: sendsAt))
            if let moveReason {
                log.append(FollowUpDecision(kind: .deferred, reason: moveReason, run: state.run, step: number, at: now, due: due, sendsAt: sendsAt))
            }
            return
        }
        finish(&state, at: now, log: &log)
    }

    /// The latest moment, `margin` before `deadline` where possible, that is working time and
    /// not before `notBefore`.
    func lastWorkingMoment(before deadline: Date, notBefore: Date) -> Date? {
        guard let span = hours.workingSpans(from: notBefore, to: deadline).last else { return nil }
        let margin = TimeInterval(channel.pullInMargin.components.seconds)
        return max(span.start, span.end.addingTimeInterval(-margin))
    }

    /// A chat-level gate that forbids any reminder, if one applies.
    func armingBlocked(state: FollowUpState, facts: ChatFacts) -> ReasonCode? {
        if !chain.enabled || chain.steps.isEmpty { return .followUpDisabled }
        switch state.optOut {
        case .admin: return .chatDisabled
        case .client: return .clientOptedOut
        case nil: break
        }
        if facts.unreachable { return .chatUnreachable }
        return nil
    }

    private func skipAndContinue(
        _ state: inout FollowUpState, step: Int, reason: ReasonCode, now: Date, facts: ChatFacts, log: inout [FollowUpDecision]
    ) -> Verdict {
        log.append(FollowUpDecision(kind: .skipped, reason: reason, run: state.run, step: step, at: now, due: state.due, sendsAt: state.sendsAt))
        // A skipped step sent nothing, so the next one still counts from the same anchor.
        planStep(from: step + 1, anchor: state.anchor ?? now, now: now, reason: .previousReminderSent, state: &state, facts: facts, log: &log)
        return .notNow
    }

    /// Counts a composition of the pending step before it starts, in the transaction that
    /// fired it, so compositions stay bounded even when the process dies mid-composition.
    /// Returns `false` — and skips the step — once `maxAttempts` compositions were started.
    public func beginComposition(state: inout FollowUpState, now: Date, maxAttempts: Int, facts: ChatFacts, log: inout [FollowUpDecision]) -> Bool {
        guard state.status == .scheduled, let step = state.step else { return false }
        guard state.attempts < maxAttempts else {
            log.append(FollowUpDecision(kind: .skipped, reason: .compositionFailed, run: state.run, step: step, at: now,
                                        detail: "gave up after \(state.attempts) compositions"))
            planStep(from: step + 1, anchor: state.anchor ?? now, now: now, reason: .previousReminderSent, state: &state, facts: facts, log: &log)
            return false
        }
        state.attempts += 1
        return true
    }

    /// Composition failed for the pending step (already counted by `beginComposition`): retry
    /// after `backoff`, or give the step up after `maxAttempts` and move on.
    public func compositionFailed(
        state: inout FollowUpState, now: Date, backoff: Duration, maxAttempts: Int, facts: ChatFacts, detail: String
    ) -> [FollowUpDecision] {
        var log: [FollowUpDecision] = []
        guard state.status == .scheduled, let step = state.step else { return log }
        if state.attempts >= maxAttempts {
            log.append(FollowUpDecision(kind: .skipped, reason: .compositionFailed, run: state.run, step: step, at: now, detail: detail))
            planStep(from: step + 1, anchor: state.anchor ?? now, now: now, reason: .previousReminderSent, state: &state, facts: facts, log: &log)
        } else {
            _ = defer_(&state, to: now.addingTimeInterval(TimeInterval(backoff.components.seconds)), reason: .compositionFailed, at: now, log: &log)
            log[log.count - 1].detail = detail
        }
        return log
    }

    private func defer_(_ state: inout FollowUpState, to time: Date, reason: ReasonCode, at now: Date, log: inout [FollowUpDecision]) -> Verdict {
        state.sendsAt = time
        log.append(FollowUpDecision(kind: .deferred, reason: reason, run: state.run, step: state.step, at: now, due: state.due, sendsAt: time))
        return .notNow
    }

    private func finish(_ state: inout FollowUpState, at now: Date, log: inout [FollowUpDecision]) {
        state.status = .finished
        state.step = nil
        state.due = nil
        state.sendsAt = nil
        state.delivery = nil
        state.lastReason = .chainComplete
        log.append(FollowUpDecision(kind: .finished, reason: .chainComplete, run: state.run, step: nil, at: now))
    }

    /// Stops the pending reminder. Only a scheduled chain leaves a log entry, unless `always`.
    private func cancel(
        _ state: inout FollowUpState, reason: ReasonCode, at now: Date, log: inout [FollowUpDecision], detail: String? = nil, always: Bool = false
    ) {
        let wasScheduled = state.isPending
        guard wasScheduled || always else { return }
        // Only a pending reminder is the step's end; otherwise the chain-level stop names no step,
        // so no (run, step) ever gets a second final decision.
        log.append(FollowUpDecision(kind: .cancelled, reason: reason, run: state.run, step: wasScheduled ? state.step : nil, at: now, due: state.due,
                                    sendsAt: state.sendsAt, detail: detail))
        if !wasScheduled { state.step = nil }
        stop(&state, reason: reason)
    }

    /// Leaves the chain stopped for `reason`, keeping `step` (what a switch-on resumes).
    private func stop(_ state: inout FollowUpState, reason: ReasonCode) {
        state.status = .cancelled
        state.lastReason = reason
        state.due = nil
        state.sendsAt = nil
        state.delivery = nil
    }
}

extension FollowUpPlanner {
    /// One planned step of a fresh chain, as `switchboard simulate` prints it.
    public struct TimelineEntry: Sendable, Hashable {
        public var step: Int
        public var due: Date
        public var sendsAt: Date
    }

    /// The timeline of a chain armed by an employee message at `lastMessage`, assuming every
    /// reminder is sent at its planned time and the client stays silent.
    public func timeline(lastMessageAt: Date, facts: ChatFacts = ChatFacts()) -> [TimelineEntry] {
        var state = FollowUpState()
        var entries: [TimelineEntry] = []
        apply(.employeeMessage(at: lastMessageAt), to: &state, facts: facts)
        while state.isPending, let step = state.step, let due = state.due, let sendsAt = state.sendsAt {
            entries.append(TimelineEntry(step: step, due: due, sendsAt: sendsAt))
            apply(.reminderSent(step: step, at: sendsAt), to: &state, facts: facts)
        }
        return entries
    }
}
