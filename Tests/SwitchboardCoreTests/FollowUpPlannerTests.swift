import Foundation
import SwitchboardCore
import SwitchboardTesting
import Testing

// Every instant is an explicit ISO 8601 literal. Europe/Moscow is UTC+03:00 all year, so
// 09:00–18:00 MSK is 06:00–15:00Z. 2026-11-23 is a Monday.

// MARK: - Helpers

private func iso(_ text: String) -> Date { parseISO(text) }
private func hrs(_ n: Int) -> Duration { .seconds(n * 3600) }
private func mins(_ n: Int) -> Duration { .seconds(n * 60) }

/// A chain whose step N has the instruction "step N".
private func chain(
    _ delays: [Duration], once: Set<Int> = [], budget: Int? = nil, enabled: Bool = true,
    phrases: [String] = FollowUpChain.defaultOptOutPhrases
) -> FollowUpChain {
    FollowUpChain(
        enabled: enabled,
        steps: delays.enumerated().map { FollowUpStep(delay: $0.element, instruction: "step \($0.offset + 1)", oncePerChat: once.contains($0.offset + 1)) },
        optOutPhrases: phrases, dailyTokenBudget: budget)
}

/// Mon–Fri 09:00–18:00 Europe/Moscow.
private func moscowOffice(special: [LocalDate: [WorkingInterval]] = [:]) -> WorkingHours {
    let day = [WorkingInterval("09:00-18:00")!]
    return WorkingHours(
        timeZone: TimeZone(identifier: "Europe/Moscow")!, week: [.mon: day, .tue: day, .wed: day, .thu: day, .fri: day],
        specialDays: special)
}

private let whatsappWindow: Duration = .seconds(24 * 3600)

/// A decision as one readable line, so a failing comparison shows exactly what differs.
private func line(_ d: FollowUpDecision) -> String {
    var parts = [d.kind.rawValue, d.reason.rawValue, "run=\(d.run)"]
    if let step = d.step { parts.append("step=\(step)") }
    parts.append("at=\(formatISO(d.at))")
    if let due = d.due { parts.append("due=\(formatISO(due))") }
    if let sendsAt = d.sendsAt { parts.append("sendsAt=\(formatISO(sendsAt))") }
    if let detail = d.detail { parts.append("detail=\(detail)") }
    return parts.joined(separator: " ")
}

private func lines(_ log: [FollowUpDecision]) -> [String] { log.map(line) }

private func text(_ date: Date?) -> String? { date.map(formatISO) }

/// Arms a fresh chain with an employee message.
private func armed(_ planner: FollowUpPlanner, at iso8601: String, facts: FollowUpPlanner.ChatFacts = .init()) -> FollowUpState {
    var state = FollowUpState()
    planner.apply(.employeeMessage(at: iso(iso8601)), to: &state, facts: facts)
    return state
}

private func fire(_ planner: FollowUpPlanner, _ state: inout FollowUpState, at now: String, facts: FollowUpPlanner.ChatFacts = .init())
    -> (FollowUpPlanner.Verdict, [String])
{
    var log: [FollowUpDecision] = []
    let verdict = planner.fire(state: &state, now: iso(now), facts: facts, log: &log)
    return (verdict, lines(log))
}

// MARK: - Arming and counting delays

@Suite("Follow-up: arming and delays")
struct FollowUpArmingTests {
    let planner = FollowUpPlanner(chain: chain([hrs(4), hrs(24), hrs(48)]), hours: .always)

    @Test(arguments: [
        (hrs(4), "2026-11-23T13:00:00Z"), (mins(30), "2026-11-23T09:30:00Z"), (hrs(1) + mins(15), "2026-11-23T10:15:00Z"),
        (hrs(72), "2026-11-26T09:00:00Z"),
    ])
    func employeeMessageArmsStepOneAtMessagePlusDelay(delay: Duration, due: String) {
        let planner = FollowUpPlanner(chain: chain([delay, hrs(24)]), hours: .always)
        var state = FollowUpState()
        let log = planner.apply(.employeeMessage(at: iso("2026-11-23T09:00:00Z")), to: &state, facts: .init())
        #expect(state.run == 1)
        #expect(state.status == .scheduled)
        #expect(state.isPending)
        #expect(state.step == 1)
        #expect(text(state.anchor) == "2026-11-23T09:00:00Z")
        #expect(text(state.due) == due)
        #expect(text(state.sendsAt) == due)
        #expect(state.delivery == .freeForm)
        #expect(state.attempts == 0)
        #expect(lines(log) == ["scheduled employee_message run=1 step=1 at=2026-11-23T09:00:00Z due=\(due) sendsAt=\(due)"])
    }

    @Test func laterStepsCountFromWhenThePreviousReminderWasActuallySent() {
        var state = armed(planner, at: "2026-11-23T09:00:00Z")
        // Step 1 was planned for 13:00 but went out 42 minutes late.
        var log = planner.apply(.reminderSent(step: 1, at: iso("2026-11-23T13:42:00Z")), to: &state, facts: .init())
        #expect(
            lines(log) == [
                "sent employee_message run=1 step=1 at=2026-11-23T13:42:00Z due=2026-11-23T13:00:00Z sendsAt=2026-11-23T13:00:00Z",
                "scheduled previous_reminder_sent run=1 step=2 at=2026-11-23T13:42:00Z due=2026-11-24T13:42:00Z sendsAt=2026-11-24T13:42:00Z",
            ])
        #expect(text(state.anchor) == "2026-11-23T13:42:00Z")
        #expect(state.step == 2)
        #expect(state.run == 1)

        log = planner.apply(.reminderSent(step: 2, at: iso("2026-11-24T15:00:00Z")), to: &state, facts: .init())
        #expect(state.step == 3)
        #expect(text(state.due) == "2026-11-26T15:00:00Z")  // 48 h after step 2 went out, not after it was due
        #expect(log.map(\.kind) == [.sent, .scheduled])

        log = planner.apply(.reminderSent(step: 3, at: iso("2026-11-26T15:00:00Z")), to: &state, facts: .init())
        #expect(
            lines(log) == [
                "sent previous_reminder_sent run=1 step=3 at=2026-11-26T15:00:00Z due=2026-11-26T15:00:00Z sendsAt=2026-11-26T15:00:00Z",
                "finished chain_complete run=1 at=2026-11-26T15:00:00Z",
            ])
        #expect(state.status == .finished)
        #expect(!state.isPending)
        #expect(state.step == nil)
        #expect(state.sendsAt == nil)
        #expect(state.lastReason == .chainComplete)
    }

    @Test func eventsForAnotherStepAreIgnored() {
        var state = armed(planner, at: "2026-11-23T09:00:00Z")
        let before = state
        #expect(planner.apply(.reminderSent(step: 2, at: iso("2026-11-23T13:00:00Z")), to: &state, facts: .init()).isEmpty)
        #expect(planner.apply(.reminderQueued(step: 2, at: iso("2026-11-23T13:00:00Z")), to: &state, facts: .init()).isEmpty)
        #expect(planner.apply(.reminderFailed(step: 3, at: iso("2026-11-23T13:00:00Z"), detail: "x"), to: &state, facts: .init()).isEmpty)
        #expect(state == before)
    }

    @Test func disabledOrEmptyChainNeverArms() {
        for disabled in [chain([hrs(4)], enabled: false), chain([]), FollowUpChain.disabled] {
            let planner = FollowUpPlanner(chain: disabled, hours: .always)
            var state = FollowUpState()
            let log = planner.apply(.employeeMessage(at: iso("2026-11-23T09:00:00Z")), to: &state, facts: .init())
            // Not armed, and the reason is on record.
            #expect(lines(log) == ["cancelled followup_disabled run=0 at=2026-11-23T09:00:00Z"])
            #expect(!state.isPending)
            #expect(state.run == 0)
            #expect(state.sendsAt == nil)
        }
    }

    @Test func plannerFromEmployeeUsesItsChainAndHours() {
        let employee = Employee(id: "anna", name: "Anna", workingHours: moscowOffice(), followUp: chain([hrs(4)]))
        let planner = FollowUpPlanner(employee: employee)
        #expect(planner.chain == employee.followUp)
        #expect(planner.hours == employee.workingHours)
        #expect(planner.channel == .plain)
        // Mon 16:00 MSK + 4 h = 20:00 MSK → Tue 09:00 MSK.
        let state = armed(planner, at: "2026-11-23T13:00:00Z")
        #expect(text(state.sendsAt) == "2026-11-24T06:00:00Z")
    }

    @Test func noWorkingTimeCancels() {
        let planner = FollowUpPlanner(chain: chain([hrs(4)]), hours: WorkingHours(timeZone: TimeZone(identifier: "UTC")!, week: [:]))
        var state = FollowUpState()
        let log = planner.apply(.employeeMessage(at: iso("2026-11-23T09:00:00Z")), to: &state, facts: .init())
        #expect(lines(log) == ["cancelled no_working_time run=1 at=2026-11-23T09:00:00Z"])
        #expect(state.status == .cancelled)
        #expect(state.sendsAt == nil)
    }

    @Test(arguments: [
        (ReasonCode.employeeMessage, "employee_message"), (.previousReminderSent, "previous_reminder_sent"),
        (.outsideWorkingHours, "outside_working_hours"), (.pulledIntoWindow, "pulled_into_window"),
        (.reengagementTemplate, "reengagement_template"), (.windowClosed, "window_closed"),
        (.oncePerChatFired, "once_per_chat_already_fired"), (.followUpDisabled, "followup_disabled"),
        (.chatDisabled, "chat_disabled"), (.chatEnabled, "chat_enabled"), (.clientReplied, "client_replied"),
        (.clientOptedOut, "client_opted_out"), (.operatorActive, "operator_active"), (.chatUnreachable, "chat_unreachable"),
        (.tokenBudgetSpent, "token_budget_spent"), (.deliveryFailed, "delivery_failed"), (.chainChanged, "chain_changed"),
        (.chainComplete, "chain_complete"), (.noWorkingTime, "no_working_time"), (.compositionFailed, "composition_failed"),
    ])
    func reasonCodesAreStable(reason: ReasonCode, raw: String) {
        #expect(reason.rawValue == raw)
    }
}

// MARK: - Client replies and restarts

@Suite("Follow-up: client replies and restarts")
struct FollowUpRestartTests {
    let planner = FollowUpPlanner(chain: chain([hrs(4), hrs(24), hrs(48)]), hours: .always)

    @Test(arguments: [false, true])
    func clientMessageCancelsThePendingReminder(queued: Bool) {
        var state = armed(planner, at: "2026-11-23T09:00:00Z")
        if queued {
            planner.apply(.reminderQueued(step: 1, at: iso("2026-11-23T13:00:00Z")), to: &state, facts: .init())
            #expect(state.status == .sending)
        }
        let log = planner.apply(.clientMessage(at: iso("2026-11-23T13:00:30Z"), text: "Thanks, thinking about it"), to: &state, facts: .init())
        #expect(
            lines(log) == [
                "cancelled client_replied run=1 step=1 at=2026-11-23T13:00:30Z due=2026-11-23T13:00:00Z sendsAt=2026-11-23T13:00:00Z"
            ])
        #expect(state.status == .cancelled)
        #expect(state.lastReason == .clientReplied)
        #expect(!state.isPending)
        #expect(state.sendsAt == nil)
        #expect(state.optOut == nil)

        // Nothing fires afterwards, and a late delivery report changes nothing.
        let cancelled = state
        let (verdict, fireLog) = fire(planner, &state, at: "2026-11-23T14:00:00Z")
        #expect(verdict == .notNow)
        #expect(fireLog.isEmpty)
        #expect(planner.apply(.reminderSent(step: 1, at: iso("2026-11-23T13:01:00Z")), to: &state, facts: .init()).isEmpty)
        #expect(state == cancelled)
    }

    @Test func clientMessageWithNothingPendingLogsNothing() {
        var idle = FollowUpState()
        #expect(planner.apply(.clientMessage(at: iso("2026-11-23T09:00:00Z"), text: "hello"), to: &idle, facts: .init()).isEmpty)
        #expect(idle.status == .idle)
    }

    @Test func nextEmployeeMessageRestartsFromStepOneWithANewRun() {
        var state = armed(planner, at: "2026-11-23T09:00:00Z")
        planner.apply(.reminderSent(step: 1, at: iso("2026-11-23T13:00:00Z")), to: &state, facts: .init())
        #expect(state.step == 2)
        planner.apply(.clientMessage(at: iso("2026-11-23T15:00:00Z"), text: "What about the price?"), to: &state, facts: .init())
        let log = planner.apply(.employeeMessage(at: iso("2026-11-23T15:01:00Z")), to: &state, facts: .init())
        #expect(state.run == 2)
        #expect(state.step == 1)
        #expect(state.status == .scheduled)
        #expect(text(state.anchor) == "2026-11-23T15:01:00Z")
        #expect(text(state.due) == "2026-11-23T19:01:00Z")
        #expect(lines(log) == ["scheduled employee_message run=2 step=1 at=2026-11-23T15:01:00Z due=2026-11-23T19:01:00Z sendsAt=2026-11-23T19:01:00Z"])
    }

    @Test func anotherEmployeeMessageWhilePendingAlsoRestarts() {
        var state = armed(planner, at: "2026-11-23T09:00:00Z")
        planner.apply(.reminderSent(step: 1, at: iso("2026-11-23T13:00:00Z")), to: &state, facts: .init())
        planner.apply(.employeeMessage(at: iso("2026-11-23T14:00:00Z")), to: &state, facts: .init())
        #expect(state.run == 2)
        #expect(state.step == 1)
        #expect(text(state.due) == "2026-11-23T18:00:00Z")
    }
}

// MARK: - once_per_chat

@Suite("Follow-up: once per chat")
struct FollowUpOncePerChatTests {
    @Test func firedOncePerChatStepIsSkippedInLaterRunsAndTheNextCountsFromTheSameAnchor() {
        let planner = FollowUpPlanner(chain: chain([hrs(1), hrs(24), hrs(48)], once: [1]), hours: .always)
        var state = armed(planner, at: "2026-11-23T09:00:00Z")
        planner.apply(.reminderSent(step: 1, at: iso("2026-11-23T10:00:00Z")), to: &state, facts: .init())
        #expect(state.firedOncePerChat == [1])
        planner.apply(.clientMessage(at: iso("2026-11-23T12:00:00Z"), text: "ok"), to: &state, facts: .init())

        let log = planner.apply(.employeeMessage(at: iso("2026-11-23T12:30:00Z")), to: &state, facts: .init())
        #expect(
            lines(log) == [
                "skipped once_per_chat_already_fired run=2 step=1 at=2026-11-23T12:30:00Z",
                "scheduled employee_message run=2 step=2 at=2026-11-23T12:30:00Z due=2026-11-24T12:30:00Z sendsAt=2026-11-24T12:30:00Z",
            ])
        #expect(state.step == 2)
        #expect(text(state.anchor) == "2026-11-23T12:30:00Z")

        // And in a third run too.
        planner.apply(.clientMessage(at: iso("2026-11-23T13:00:00Z"), text: "ok"), to: &state, facts: .init())
        planner.apply(.employeeMessage(at: iso("2026-11-23T14:00:00Z")), to: &state, facts: .init())
        #expect(state.run == 3)
        #expect(state.step == 2)
        #expect(text(state.due) == "2026-11-24T14:00:00Z")
    }

    @Test func skippedMiddleStepCountsTheNextFromThePreviousReminder() {
        let planner = FollowUpPlanner(chain: chain([hrs(1), hrs(2), hrs(3)], once: [2]), hours: .always)
        var state = armed(planner, at: "2026-11-23T09:00:00Z")
        planner.apply(.reminderSent(step: 1, at: iso("2026-11-23T10:00:00Z")), to: &state, facts: .init())
        planner.apply(.reminderSent(step: 2, at: iso("2026-11-23T12:00:00Z")), to: &state, facts: .init())
        #expect(state.firedOncePerChat == [2])
        planner.apply(.clientMessage(at: iso("2026-11-23T13:00:00Z"), text: "hi"), to: &state, facts: .init())

        planner.apply(.employeeMessage(at: iso("2026-11-24T09:00:00Z")), to: &state, facts: .init())
        #expect(state.step == 1)
        #expect(text(state.due) == "2026-11-24T10:00:00Z")
        let log = planner.apply(.reminderSent(step: 1, at: iso("2026-11-24T10:10:00Z")), to: &state, facts: .init())
        #expect(
            lines(log) == [
                "sent employee_message run=2 step=1 at=2026-11-24T10:10:00Z due=2026-11-24T10:00:00Z sendsAt=2026-11-24T10:00:00Z",
                "skipped once_per_chat_already_fired run=2 step=2 at=2026-11-24T10:10:00Z",
                "scheduled previous_reminder_sent run=2 step=3 at=2026-11-24T10:10:00Z due=2026-11-24T13:10:00Z sendsAt=2026-11-24T13:10:00Z",
            ])
    }

    @Test func onceStepThatNeverFiredRunsAgain() {
        let planner = FollowUpPlanner(chain: chain([hrs(1), hrs(24)], once: [1]), hours: .always)
        var state = armed(planner, at: "2026-11-23T09:00:00Z")
        planner.apply(.clientMessage(at: iso("2026-11-23T09:30:00Z"), text: "hi"), to: &state, facts: .init())
        planner.apply(.employeeMessage(at: iso("2026-11-23T10:00:00Z")), to: &state, facts: .init())
        #expect(state.firedOncePerChat.isEmpty)
        #expect(state.step == 1)
        #expect(text(state.due) == "2026-11-23T11:00:00Z")
    }

    @Test func onlyOncePerChatStepsAreRemembered() {
        let planner = FollowUpPlanner(chain: chain([hrs(1), hrs(24)], once: [2]), hours: .always)
        var state = armed(planner, at: "2026-11-23T09:00:00Z")
        planner.apply(.reminderSent(step: 1, at: iso("2026-11-23T10:00:00Z")), to: &state, facts: .init())
        #expect(state.firedOncePerChat.isEmpty)
    }

    @Test func chainOfFiredOnceStepsFinishesAtOnce() {
        let planner = FollowUpPlanner(chain: chain([hrs(1)], once: [1]), hours: .always)
        var state = armed(planner, at: "2026-11-23T09:00:00Z")
        planner.apply(.reminderSent(step: 1, at: iso("2026-11-23T10:00:00Z")), to: &state, facts: .init())
        #expect(state.status == .finished)
        planner.apply(.clientMessage(at: iso("2026-11-23T11:00:00Z"), text: "hi"), to: &state, facts: .init())
        let log = planner.apply(.employeeMessage(at: iso("2026-11-23T12:00:00Z")), to: &state, facts: .init())
        #expect(
            lines(log) == [
                "skipped once_per_chat_already_fired run=2 step=1 at=2026-11-23T12:00:00Z",
                "finished chain_complete run=2 at=2026-11-23T12:00:00Z",
            ])
        #expect(state.status == .finished)
        #expect(!state.isPending)
    }
}

// MARK: - Working hours

@Suite("Follow-up: working hours")
struct FollowUpWorkingHoursTests {
    @Test(arguments: [
        // (employee message, due, sends at)
        ("2026-11-23T13:00:00Z", "2026-11-23T17:00:00Z", "2026-11-24T06:00:00Z"),  // Mon 16:00 MSK +4h = 20:00 → Tue 09:00
        ("2026-11-23T11:00:00Z", "2026-11-23T15:00:00Z", "2026-11-24T06:00:00Z"),  // due exactly 18:00 — the end is exclusive
        ("2026-11-23T10:59:00Z", "2026-11-23T14:59:00Z", "2026-11-23T14:59:00Z"),  // due 17:59 — inside
        ("2026-11-23T02:00:00Z", "2026-11-23T06:00:00Z", "2026-11-23T06:00:00Z"),  // due exactly 09:00 — inside
        ("2026-11-23T00:00:00Z", "2026-11-23T04:00:00Z", "2026-11-23T06:00:00Z"),  // due 07:00 → 09:00 same day
        ("2026-11-27T14:00:00Z", "2026-11-27T18:00:00Z", "2026-11-30T06:00:00Z"),  // Fri 17:00 +4h → Mon 09:00
        ("2026-11-28T09:00:00Z", "2026-11-28T13:00:00Z", "2026-11-30T06:00:00Z"),  // Sat → Mon
    ])
    func dueTimeOutsideWorkingHoursMovesToTheNextWorkingMoment(message: String, due: String, sendsAt: String) {
        let planner = FollowUpPlanner(chain: chain([hrs(4)]), hours: moscowOffice())
        var state = FollowUpState()
        let log = planner.apply(.employeeMessage(at: iso(message)), to: &state, facts: .init())
        #expect(text(state.due) == due)
        #expect(text(state.sendsAt) == sendsAt)
        var expected = ["scheduled employee_message run=1 step=1 at=\(message) due=\(due) sendsAt=\(sendsAt)"]
        if due != sendsAt {
            expected.append("deferred outside_working_hours run=1 step=1 at=\(message) due=\(due) sendsAt=\(sendsAt)")
        }
        #expect(lines(log) == expected)
    }

    @Test func nextStepCountsFromWhenTheDeferredReminderWasSent() {
        let planner = FollowUpPlanner(chain: chain([hrs(4), hrs(24)]), hours: moscowOffice())
        var state = armed(planner, at: "2026-11-23T13:00:00Z")
        #expect(text(state.sendsAt) == "2026-11-24T06:00:00Z")
        let log = planner.apply(.reminderSent(step: 1, at: iso("2026-11-24T06:00:00Z")), to: &state, facts: .init())
        // Tue 09:00 MSK + 24 h = Wed 09:00 MSK — not Mon 20:00 + 24 h.
        #expect(text(state.due) == "2026-11-25T06:00:00Z")
        #expect(text(state.sendsAt) == "2026-11-25T06:00:00Z")
        #expect(log.map(\.kind) == [.sent, .scheduled])
    }

    @Test func specialDayOffIsSkipped() {
        let holiday = LocalDate("2026-11-24")!
        let planner = FollowUpPlanner(chain: chain([hrs(4)]), hours: moscowOffice(special: [holiday: []]))
        let state = armed(planner, at: "2026-11-23T13:00:00Z")
        #expect(text(state.sendsAt) == "2026-11-25T06:00:00Z")
    }
}

// MARK: - Config edits

@Suite("Follow-up: chain changes")
struct FollowUpChainChangeTests {
    let original = FollowUpPlanner(chain: chain([hrs(4), hrs(24), hrs(48)]), hours: .always)

    /// Armed at Mon 09:00Z, step 1 sent at 13:30Z, step 2 pending from that anchor.
    func stepTwoPending() -> FollowUpState {
        var state = armed(original, at: "2026-11-23T09:00:00Z")
        original.apply(.reminderSent(step: 1, at: iso("2026-11-23T13:30:00Z")), to: &state, facts: .init())
        #expect(text(state.due) == "2026-11-24T13:30:00Z")
        return state
    }

    @Test func pendingStepIsReplannedFromItsAnchorUnderTheNewSteps() {
        var state = stepTwoPending()
        let edited = FollowUpPlanner(chain: chain([hrs(4), hrs(6), hrs(48)]), hours: .always)
        let log = edited.apply(.chainChanged(at: iso("2026-11-23T14:00:00Z")), to: &state, facts: .init())
        #expect(
            lines(log) == [
                "scheduled chain_changed run=1 step=2 at=2026-11-23T14:00:00Z due=2026-11-23T19:30:00Z sendsAt=2026-11-23T19:30:00Z"
            ])
        #expect(state.step == 2)
        #expect(state.run == 1)
        #expect(text(state.anchor) == "2026-11-23T13:30:00Z")
    }

    @Test func replannedStepStillHonoursWorkingHours() {
        var state = stepTwoPending()
        let edited = FollowUpPlanner(chain: chain([hrs(4), hrs(8)]), hours: moscowOffice())
        let log = edited.apply(.chainChanged(at: iso("2026-11-23T14:00:00Z")), to: &state, facts: .init())
        // 13:30Z + 8 h = 21:30Z = 00:30 MSK Tue → Tue 09:00 MSK.
        #expect(
            lines(log) == [
                "scheduled chain_changed run=1 step=2 at=2026-11-23T14:00:00Z due=2026-11-23T21:30:00Z sendsAt=2026-11-24T06:00:00Z",
                "deferred outside_working_hours run=1 step=2 at=2026-11-23T14:00:00Z due=2026-11-23T21:30:00Z sendsAt=2026-11-24T06:00:00Z",
            ])
    }

    @Test func stepOneIsReplannedFromTheEmployeeMessage() {
        var state = armed(original, at: "2026-11-23T09:00:00Z")
        let edited = FollowUpPlanner(chain: chain([hrs(2), hrs(24)]), hours: .always)
        edited.apply(.chainChanged(at: iso("2026-11-23T10:00:00Z")), to: &state, facts: .init())
        #expect(text(state.due) == "2026-11-23T11:00:00Z")
    }

    @Test(arguments: [chain([hrs(4), hrs(24), hrs(48)], enabled: false), chain([])])
    func disablingTheChainCancelsThePendingReminder(disabled: FollowUpChain) {
        var state = stepTwoPending()
        let edited = FollowUpPlanner(chain: disabled, hours: .always)
        let log = edited.apply(.chainChanged(at: iso("2026-11-23T14:00:00Z")), to: &state, facts: .init())
        #expect(
            lines(log) == [
                "cancelled followup_disabled run=1 step=2 at=2026-11-23T14:00:00Z due=2026-11-24T13:30:00Z sendsAt=2026-11-24T13:30:00Z"
            ])
        #expect(state.status == .cancelled)
        #expect(state.lastReason == .followUpDisabled)
        let (verdict, _) = fire(edited, &state, at: "2026-11-24T13:30:00Z")
        #expect(verdict == .notNow)
    }

    @Test func employeeMessageUnderADisabledChainDropsThePendingReminder() {
        var state = stepTwoPending()
        let edited = FollowUpPlanner(chain: chain([hrs(4)], enabled: false), hours: .always)
        let log = edited.apply(.employeeMessage(at: iso("2026-11-23T15:00:00Z")), to: &state, facts: .init())
        #expect(log.map(\.reason) == [.followUpDisabled])
        #expect(!state.isPending)
    }

    @Test func shorteningTheChainBelowThePendingStepFinishesIt() {
        var state = stepTwoPending()
        let edited = FollowUpPlanner(chain: chain([hrs(4)]), hours: .always)
        let log = edited.apply(.chainChanged(at: iso("2026-11-23T14:00:00Z")), to: &state, facts: .init())
        #expect(
            lines(log) == [
                "cancelled chain_changed run=1 step=2 at=2026-11-23T14:00:00Z due=2026-11-24T13:30:00Z sendsAt=2026-11-24T13:30:00Z detail=the chain has no step 2 any more",
                "finished chain_complete run=1 at=2026-11-23T14:00:00Z",
            ])
        #expect(state.status == .finished)
    }

    @Test func nothingPendingNothingToReplan() {
        let edited = FollowUpPlanner(chain: chain([hrs(1)]), hours: .always)
        var idle = FollowUpState()
        #expect(edited.apply(.chainChanged(at: iso("2026-11-23T14:00:00Z")), to: &idle, facts: .init()).isEmpty)
        #expect(idle == FollowUpState())

        var cancelled = stepTwoPending()
        original.apply(.clientMessage(at: iso("2026-11-23T13:45:00Z"), text: "hi"), to: &cancelled, facts: .init())
        let before = cancelled
        #expect(edited.apply(.chainChanged(at: iso("2026-11-23T14:00:00Z")), to: &cancelled, facts: .init()).isEmpty)
        #expect(cancelled == before)
    }
}

// MARK: - Per-chat opt-out (admin)

@Suite("Follow-up: per-chat switch")
struct FollowUpChatSwitchTests {
    let planner = FollowUpPlanner(chain: chain([hrs(4), hrs(24)]), hours: .always)

    @Test func switchingOffCancelsAndBlocksArming() {
        var state = armed(planner, at: "2026-11-23T09:00:00Z")
        let log = planner.apply(.chatFollowUp(enabled: false, at: iso("2026-11-23T10:00:00Z")), to: &state, facts: .init())
        #expect(
            lines(log) == [
                "cancelled chat_disabled run=1 step=1 at=2026-11-23T10:00:00Z due=2026-11-23T13:00:00Z sendsAt=2026-11-23T13:00:00Z"
            ])
        #expect(state.status == .cancelled)
        #expect(state.optOut == .admin)
        #expect(state.sendsAt == nil)

        let (verdict, fireLog) = fire(planner, &state, at: "2026-11-23T13:00:00Z")
        #expect(verdict == .notNow)
        #expect(fireLog.isEmpty)

        let armLog = planner.apply(.employeeMessage(at: iso("2026-11-23T11:00:00Z")), to: &state, facts: .init())
        #expect(!armLog.contains { $0.kind == .scheduled })
        #expect(!state.isPending)
        #expect(state.run == 1)
    }

    @Test func switchingBackOnResumesFromTheAnchor() {
        var state = armed(planner, at: "2026-11-23T09:00:00Z")
        planner.apply(.chatFollowUp(enabled: false, at: iso("2026-11-23T10:00:00Z")), to: &state, facts: .init())
        let log = planner.apply(.chatFollowUp(enabled: true, at: iso("2026-11-23T12:00:00Z")), to: &state, facts: .init())
        #expect(
            lines(log) == [
                // A run of its own: run 1's step 1 already ended ("cancelled") and may have an outbox key.
                "scheduled chat_enabled run=2 step=1 at=2026-11-23T12:00:00Z due=2026-11-23T13:00:00Z sendsAt=2026-11-23T13:00:00Z"
            ])
        #expect(state.optOut == nil)
        #expect(state.status == .scheduled)
        #expect(state.run == 2)
        #expect(text(state.anchor) == "2026-11-23T09:00:00Z")
    }

    @Test func switchingBackOnResumesALaterStepFromItsAnchor() {
        var state = armed(planner, at: "2026-11-23T09:00:00Z")
        planner.apply(.reminderSent(step: 1, at: iso("2026-11-23T13:30:00Z")), to: &state, facts: .init())
        planner.apply(.chatFollowUp(enabled: false, at: iso("2026-11-23T15:00:00Z")), to: &state, facts: .init())
        planner.apply(.chatFollowUp(enabled: true, at: iso("2026-11-24T10:00:00Z")), to: &state, facts: .init())
        #expect(state.status == .scheduled)
        #expect(state.step == 2)
        #expect(text(state.due) == "2026-11-24T13:30:00Z")
    }

    @Test func switchingOffTwiceStillResumes() {
        var state = armed(planner, at: "2026-11-23T09:00:00Z")
        planner.apply(.chatFollowUp(enabled: false, at: iso("2026-11-23T10:00:00Z")), to: &state, facts: .init())
        planner.apply(.chatFollowUp(enabled: false, at: iso("2026-11-23T10:01:00Z")), to: &state, facts: .init())
        #expect(state.optOut == .admin)
        planner.apply(.chatFollowUp(enabled: true, at: iso("2026-11-23T12:00:00Z")), to: &state, facts: .init())
        #expect(state.status == .scheduled)
        #expect(state.step == 1)
        #expect(text(state.due) == "2026-11-23T13:00:00Z")
    }

    @Test func switchingOffWithNothingPendingIsRecordedAndBlocksArming() {
        var state = FollowUpState()
        let log = planner.apply(.chatFollowUp(enabled: false, at: iso("2026-11-23T08:00:00Z")), to: &state, facts: .init())
        #expect(lines(log) == ["cancelled chat_disabled run=0 at=2026-11-23T08:00:00Z"])
        #expect(state.optOut == .admin)
        planner.apply(.employeeMessage(at: iso("2026-11-23T09:00:00Z")), to: &state, facts: .init())
        #expect(!state.isPending)
        #expect(state.run == 0)
        // Switching on a chat that was never armed schedules nothing; the next employee message arms it.
        #expect(planner.apply(.chatFollowUp(enabled: true, at: iso("2026-11-23T10:00:00Z")), to: &state, facts: .init()).isEmpty)
        #expect(!state.isPending)
        planner.apply(.employeeMessage(at: iso("2026-11-23T11:00:00Z")), to: &state, facts: .init())
        #expect(state.isPending)
        #expect(state.run == 1)
    }

    @Test func switchingOnWhenNeverSwitchedOffChangesNothing() {
        var state = armed(planner, at: "2026-11-23T09:00:00Z")
        let before = state
        #expect(planner.apply(.chatFollowUp(enabled: true, at: iso("2026-11-23T10:00:00Z")), to: &state, facts: .init()).isEmpty)
        #expect(state == before)
    }

    // Switching back on resumes only a reminder the switch-off interrupted — never one that had
    // already finished, or that the client's reply had cancelled.

    @Test func switchingBackOnDoesNotRestartAFinishedChain() {
        var state = armed(planner, at: "2026-11-23T09:00:00Z")
        planner.apply(.reminderSent(step: 1, at: iso("2026-11-23T13:00:00Z")), to: &state, facts: .init())
        planner.apply(.reminderSent(step: 2, at: iso("2026-11-24T13:00:00Z")), to: &state, facts: .init())
        #expect(state.status == .finished)
        planner.apply(.chatFollowUp(enabled: false, at: iso("2026-11-25T10:00:00Z")), to: &state, facts: .init())
        let log = planner.apply(.chatFollowUp(enabled: true, at: iso("2026-11-25T11:00:00Z")), to: &state, facts: .init())
        #expect(!log.contains { $0.kind == .scheduled }, "\(lines(log))")
        #expect(!state.isPending)
    }

    @Test func switchingBackOnDoesNotResurrectAReminderTheClientCancelled() {
        var state = armed(planner, at: "2026-11-23T09:00:00Z")
        planner.apply(.clientMessage(at: iso("2026-11-23T10:00:00Z"), text: "Not now"), to: &state, facts: .init())
        planner.apply(.chatFollowUp(enabled: false, at: iso("2026-11-23T11:00:00Z")), to: &state, facts: .init())
        let log = planner.apply(.chatFollowUp(enabled: true, at: iso("2026-11-23T12:00:00Z")), to: &state, facts: .init())
        #expect(!log.contains { $0.kind == .scheduled }, "\(lines(log))")
        #expect(!state.isPending)
    }

    @Test func clientReplyWhileSwitchedOffIsNotForgottenWhenSwitchedBackOn() {
        var state = armed(planner, at: "2026-11-23T09:00:00Z")
        planner.apply(.chatFollowUp(enabled: false, at: iso("2026-11-23T10:00:00Z")), to: &state, facts: .init())
        planner.apply(.clientMessage(at: iso("2026-11-23T11:00:00Z"), text: "Can you call me?"), to: &state, facts: .init())
        let log = planner.apply(.chatFollowUp(enabled: true, at: iso("2026-11-23T12:00:00Z")), to: &state, facts: .init())
        #expect(!log.contains { $0.kind == .scheduled }, "\(lines(log))")
        #expect(!state.isPending)
        // The employee's next answer arms a fresh run as usual.
        planner.apply(.employeeMessage(at: iso("2026-11-23T12:05:00Z")), to: &state, facts: .init())
        #expect(state.isPending)
        #expect(state.run == 2)
        #expect(state.step == 1)
    }
}

// MARK: - Client opt-out

@Suite("Follow-up: client opt-out phrases")
struct FollowUpClientOptOutTests {
    let planner = FollowUpPlanner(chain: chain([hrs(4), hrs(24)]), hours: .always)

    @Test(arguments: ["stop", "STOP", "Stop.", "  stop!  ", "Не пишите!", "не пишите", "НЕ ПИШИТЕ", "unsubscribe", "Стоп", "отписаться\n"])
    func optOutPhraseCancelsAndBlocksRearming(text: String) {
        var state = armed(planner, at: "2026-11-23T09:00:00Z")
        let log = planner.apply(.clientMessage(at: iso("2026-11-23T10:00:00Z"), text: text), to: &state, facts: .init())
        #expect(
            lines(log) == [
                "cancelled client_opted_out run=1 step=1 at=2026-11-23T10:00:00Z due=2026-11-23T13:00:00Z sendsAt=2026-11-23T13:00:00Z"
            ])
        #expect(state.optOut == .client)
        #expect(state.status == .cancelled)
        #expect(state.lastReason == .clientOptedOut)

        let armLog = planner.apply(.employeeMessage(at: iso("2026-11-23T11:00:00Z")), to: &state, facts: .init())
        #expect(!armLog.contains { $0.kind == .scheduled })
        #expect(!state.isPending)
        #expect(state.run == 1)
        let (verdict, _) = fire(planner, &state, at: "2026-11-23T13:00:00Z")
        #expect(verdict == .notNow)
    }

    @Test(arguments: ["don't stop now", "stop it", "please stop", "stopped", "не пишите ночью", "Thanks!", "unsubscribe me later", "stop stop"])
    func ordinaryMessageIsAReplyNotAnOptOut(text: String) {
        var state = armed(planner, at: "2026-11-23T09:00:00Z")
        let log = planner.apply(.clientMessage(at: iso("2026-11-23T10:00:00Z"), text: text), to: &state, facts: .init())
        #expect(log.map(\.reason) == [.clientReplied])
        #expect(state.optOut == nil)
        planner.apply(.employeeMessage(at: iso("2026-11-23T11:00:00Z")), to: &state, facts: .init())
        #expect(state.isPending)
        #expect(state.run == 2)
    }

    @Test func optOutWithNothingPendingIsStillRecorded() {
        var state = armed(planner, at: "2026-11-23T09:00:00Z")
        planner.apply(.clientMessage(at: iso("2026-11-23T10:00:00Z"), text: "hi"), to: &state, facts: .init())
        let log = planner.apply(.clientMessage(at: iso("2026-11-23T10:05:00Z"), text: "stop"), to: &state, facts: .init())
        #expect(log.map(\.kind) == [.cancelled])
        #expect(log.map(\.reason) == [.clientOptedOut])
        #expect(state.optOut == .client)
        planner.apply(.employeeMessage(at: iso("2026-11-23T11:00:00Z")), to: &state, facts: .init())
        #expect(!state.isPending)
    }

    @Test func employeesOwnPhrasesAreUsed() {
        let custom = FollowUpPlanner(chain: chain([hrs(4)], phrases: ["Хватит"]), hours: .always)
        var state = armed(custom, at: "2026-11-23T09:00:00Z")
        custom.apply(.clientMessage(at: iso("2026-11-23T10:00:00Z"), text: "stop"), to: &state, facts: .init())
        #expect(state.lastReason == .clientReplied)
        #expect(state.optOut == nil)
        custom.apply(.employeeMessage(at: iso("2026-11-23T10:30:00Z")), to: &state, facts: .init())
        custom.apply(.clientMessage(at: iso("2026-11-23T11:00:00Z"), text: "хватит!"), to: &state, facts: .init())
        #expect(state.lastReason == .clientOptedOut)
        #expect(state.optOut == .client)
    }
}

// MARK: - Unreachable

@Suite("Follow-up: unreachable chats")
struct FollowUpUnreachableTests {
    let planner = FollowUpPlanner(chain: chain([hrs(4), hrs(24)]), hours: .always)

    @Test func unreachableEventCancels() {
        var state = armed(planner, at: "2026-11-23T09:00:00Z")
        let log = planner.apply(.chatUnreachable(at: iso("2026-11-23T10:00:00Z")), to: &state, facts: .init())
        #expect(
            lines(log) == [
                "cancelled chat_unreachable run=1 step=1 at=2026-11-23T10:00:00Z due=2026-11-23T13:00:00Z sendsAt=2026-11-23T13:00:00Z"
            ])
        #expect(state.status == .cancelled)
        #expect(state.lastReason == .chatUnreachable)
    }

    @Test func unreachableChatIsNotArmed() {
        var state = FollowUpState()
        planner.apply(.employeeMessage(at: iso("2026-11-23T09:00:00Z")), to: &state, facts: .init(unreachable: true))
        #expect(!state.isPending)
        #expect(state.run == 0)
    }

    @Test func unreachableAtFireTimeCancels() {
        var state = armed(planner, at: "2026-11-23T09:00:00Z")
        let (verdict, log) = fire(planner, &state, at: "2026-11-23T13:00:00Z", facts: .init(unreachable: true))
        #expect(verdict == .notNow)
        #expect(log == ["cancelled chat_unreachable run=1 step=1 at=2026-11-23T13:00:00Z due=2026-11-23T13:00:00Z sendsAt=2026-11-23T13:00:00Z"])
        #expect(state.status == .cancelled)
    }

    @Test func deliveryFailureEndsAsADeadLetterWithTheDetail() {
        var state = armed(planner, at: "2026-11-23T09:00:00Z")
        planner.apply(.reminderQueued(step: 1, at: iso("2026-11-23T13:00:00Z")), to: &state, facts: .init())
        let log = planner.apply(.reminderFailed(step: 1, at: iso("2026-11-23T13:05:00Z"), detail: "HTTP 400"), to: &state, facts: .init())
        #expect(
            lines(log) == [
                "dead_letter delivery_failed run=1 step=1 at=2026-11-23T13:05:00Z due=2026-11-23T13:00:00Z sendsAt=2026-11-23T13:00:00Z detail=HTTP 400"
            ])
        #expect(state.status == .cancelled)
    }
}

// MARK: - Firing gates

@Suite("Follow-up: fire gates")
struct FollowUpFireTests {
    let planner = FollowUpPlanner(chain: chain([hrs(4), hrs(24)]), hours: .always)

    @Test func notYetDue() {
        var state = armed(planner, at: "2026-11-23T09:00:00Z")
        let before = state
        let (verdict, log) = fire(planner, &state, at: "2026-11-23T12:59:59Z")
        #expect(verdict == .notNow)
        #expect(log.isEmpty)
        #expect(state == before)
    }

    @Test(arguments: ["2026-11-23T13:00:00Z", "2026-11-23T20:00:00Z", "2026-11-25T03:00:00Z"])
    func dueOrOverdueSendsWithoutChangingTheState(now: String) {
        var state = armed(planner, at: "2026-11-23T09:00:00Z")
        let before = state
        let (verdict, log) = fire(planner, &state, at: now)
        #expect(verdict == .send(step: 1, instruction: "step 1", delivery: .freeForm))
        #expect(log.isEmpty)
        #expect(state == before)
    }

    @Test func onlyAScheduledReminderFires() {
        var state = armed(planner, at: "2026-11-23T09:00:00Z")
        planner.apply(.reminderQueued(step: 1, at: iso("2026-11-23T13:00:00Z")), to: &state, facts: .init())
        #expect(state.status == .sending)
        #expect(fire(planner, &state, at: "2026-11-23T13:05:00Z").0 == .notNow)
        var idle = FollowUpState()
        #expect(fire(planner, &idle, at: "2026-11-23T13:05:00Z").0 == .notNow)
    }

    @Test func operatorActiveDefersToThePauseEnd() {
        var state = armed(planner, at: "2026-11-23T09:00:00Z")
        let paused = FollowUpPlanner.ChatFacts(aiPausedUntil: iso("2026-11-23T13:45:00Z"))
        let (verdict, log) = fire(planner, &state, at: "2026-11-23T13:00:00Z", facts: paused)
        #expect(verdict == .notNow)
        #expect(log == ["deferred operator_active run=1 step=1 at=2026-11-23T13:00:00Z due=2026-11-23T13:00:00Z sendsAt=2026-11-23T13:45:00Z"])
        #expect(state.status == .scheduled)
        #expect(state.step == 1)
        #expect(text(state.sendsAt) == "2026-11-23T13:45:00Z")
        #expect(text(state.due) == "2026-11-23T13:00:00Z")

        #expect(fire(planner, &state, at: "2026-11-23T13:44:59Z", facts: paused).0 == .notNow)
        // The pause is over at 13:45.
        #expect(fire(planner, &state, at: "2026-11-23T13:45:00Z", facts: paused).0 == .send(step: 1, instruction: "step 1", delivery: .freeForm))
    }

    @Test func pauseThatEndedAlreadyDoesNotDefer() {
        var state = armed(planner, at: "2026-11-23T09:00:00Z")
        let ended = FollowUpPlanner.ChatFacts(aiPausedUntil: iso("2026-11-23T12:00:00Z"))
        #expect(fire(planner, &state, at: "2026-11-23T13:00:00Z", facts: ended).0 == .send(step: 1, instruction: "step 1", delivery: .freeForm))
    }

    @Test func outsideWorkingHoursAtFireTimeDefers() {
        let office = FollowUpPlanner(chain: chain([hrs(4), hrs(24)]), hours: moscowOffice())
        // Armed Mon 10:00 MSK → sends 14:00 MSK; the gateway comes back at 19:30 MSK.
        var state = armed(office, at: "2026-11-23T07:00:00Z")
        #expect(text(state.sendsAt) == "2026-11-23T11:00:00Z")
        let (verdict, log) = fire(office, &state, at: "2026-11-23T16:30:00Z")
        #expect(verdict == .notNow)
        #expect(log == ["deferred outside_working_hours run=1 step=1 at=2026-11-23T16:30:00Z due=2026-11-23T11:00:00Z sendsAt=2026-11-24T06:00:00Z"])
        #expect(state.status == .scheduled)
        #expect(text(state.sendsAt) == "2026-11-24T06:00:00Z")
        #expect(fire(office, &state, at: "2026-11-24T06:00:00Z").0 == .send(step: 1, instruction: "step 1", delivery: .freeForm))
    }

    @Test func lateButStillInsideWorkingHoursSends() {
        let office = FollowUpPlanner(chain: chain([hrs(4)]), hours: moscowOffice())
        var state = armed(office, at: "2026-11-23T07:00:00Z")
        #expect(fire(office, &state, at: "2026-11-23T14:59:59Z").0 == .send(step: 1, instruction: "step 1", delivery: .freeForm))
    }

    @Test func weekendAtFireTimeDefersToMonday() {
        let office = FollowUpPlanner(chain: chain([hrs(4)]), hours: moscowOffice())
        var state = armed(office, at: "2026-11-27T07:00:00Z")  // Fri 10:00 MSK → 14:00 MSK
        let (_, log) = fire(office, &state, at: "2026-11-28T10:00:00Z")
        #expect(log == ["deferred outside_working_hours run=1 step=1 at=2026-11-28T10:00:00Z due=2026-11-27T11:00:00Z sendsAt=2026-11-30T06:00:00Z"])
        #expect(text(state.sendsAt) == "2026-11-30T06:00:00Z")
    }

    @Test func pauseEndingAfterHoursIsDeferredAgainToWorkingHours() {
        let office = FollowUpPlanner(chain: chain([hrs(4)]), hours: moscowOffice())
        var state = armed(office, at: "2026-11-23T07:00:00Z")
        let paused = FollowUpPlanner.ChatFacts(aiPausedUntil: iso("2026-11-23T16:00:00Z"))
        #expect(
            fire(office, &state, at: "2026-11-23T11:00:00Z", facts: paused).1
                == ["deferred operator_active run=1 step=1 at=2026-11-23T11:00:00Z due=2026-11-23T11:00:00Z sendsAt=2026-11-23T16:00:00Z"])
        #expect(text(state.sendsAt) == "2026-11-23T16:00:00Z")
        let (_, log) = fire(office, &state, at: "2026-11-23T16:00:00Z", facts: paused)
        #expect(log == ["deferred outside_working_hours run=1 step=1 at=2026-11-23T16:00:00Z due=2026-11-23T11:00:00Z sendsAt=2026-11-24T06:00:00Z"])
        #expect(text(state.sendsAt) == "2026-11-24T06:00:00Z")
    }

    @Test func spentTokenBudgetSkipsTheStepAndPlansTheNextFromTheSameAnchor() {
        let budgeted = FollowUpPlanner(chain: chain([hrs(4), hrs(24)], budget: 1000), hours: .always)
        var state = armed(budgeted, at: "2026-11-23T09:00:00Z")
        let (verdict, log) = fire(budgeted, &state, at: "2026-11-23T13:00:00Z", facts: .init(followUpTokensToday: 1000))
        #expect(verdict == .notNow)
        #expect(
            log == [
                "skipped token_budget_spent run=1 step=1 at=2026-11-23T13:00:00Z due=2026-11-23T13:00:00Z sendsAt=2026-11-23T13:00:00Z",
                "scheduled previous_reminder_sent run=1 step=2 at=2026-11-23T13:00:00Z due=2026-11-24T09:00:00Z sendsAt=2026-11-24T09:00:00Z",
            ])
        #expect(text(state.anchor) == "2026-11-23T09:00:00Z")
        #expect(state.step == 2)
        #expect(state.status == .scheduled)
    }

    @Test func budgetNotYetSpentOrUnlimitedSends() {
        let budgeted = FollowUpPlanner(chain: chain([hrs(4)], budget: 1000), hours: .always)
        var state = armed(budgeted, at: "2026-11-23T09:00:00Z")
        #expect(fire(budgeted, &state, at: "2026-11-23T13:00:00Z", facts: .init(followUpTokensToday: 999)).0 == .send(step: 1, instruction: "step 1", delivery: .freeForm))
        var unlimited = armed(planner, at: "2026-11-23T09:00:00Z")
        #expect(fire(planner, &unlimited, at: "2026-11-23T13:00:00Z", facts: .init(followUpTokensToday: 1_000_000_000)).0 == .send(step: 1, instruction: "step 1", delivery: .freeForm))
    }

    @Test func spentBudgetOnTheLastStepFinishes() {
        let budgeted = FollowUpPlanner(chain: chain([hrs(4)], budget: 10), hours: .always)
        var state = armed(budgeted, at: "2026-11-23T09:00:00Z")
        let (_, log) = fire(budgeted, &state, at: "2026-11-23T13:00:00Z", facts: .init(followUpTokensToday: 50))
        #expect(log.count == 2)
        #expect(log.last == "finished chain_complete run=1 at=2026-11-23T13:00:00Z")
        #expect(state.status == .finished)
    }

    @Test func disabledChainAtFireTimeCancels() {
        var state = armed(planner, at: "2026-11-23T09:00:00Z")
        let disabled = FollowUpPlanner(chain: chain([hrs(4), hrs(24)], enabled: false), hours: .always)
        let (verdict, log) = fire(disabled, &state, at: "2026-11-23T13:00:00Z")
        #expect(verdict == .notNow)
        #expect(log.count == 1)
        #expect(log.first?.hasPrefix("cancelled followup_disabled") == true)
    }

    @Test func stepBeyondAnEditedChainFinishes() {
        let long = FollowUpPlanner(chain: chain([hrs(1), hrs(1), hrs(1)]), hours: .always)
        var state = armed(long, at: "2026-11-23T09:00:00Z")
        long.apply(.reminderSent(step: 1, at: iso("2026-11-23T10:00:00Z")), to: &state, facts: .init())
        long.apply(.reminderSent(step: 2, at: iso("2026-11-23T11:00:00Z")), to: &state, facts: .init())
        #expect(state.step == 3)
        let short = FollowUpPlanner(chain: chain([hrs(1), hrs(1)]), hours: .always)
        let (verdict, log) = fire(short, &state, at: "2026-11-23T12:00:00Z")
        #expect(verdict == .notNow)
        #expect(
            log == [
                "cancelled chain_changed run=1 step=3 at=2026-11-23T12:00:00Z due=2026-11-23T12:00:00Z sendsAt=2026-11-23T12:00:00Z detail=the chain has no step 3 any more",
                "finished chain_complete run=1 at=2026-11-23T12:00:00Z",
            ])
    }
}

// MARK: - Channel window (WhatsApp)

@Suite("Follow-up: free-form window")
struct FollowUpWindowTests {
    static let pullIn = ChannelCapabilities(freeFormWindow: whatsappWindow, pullIn: true)
    static let template = ChannelCapabilities(freeFormWindow: whatsappWindow, reengagementTemplate: "reengage_v1")
    static let both = ChannelCapabilities(freeFormWindow: whatsappWindow, pullIn: true, reengagementTemplate: "reengage_v1")
    static let bare = ChannelCapabilities(freeFormWindow: whatsappWindow)

    @Test(arguments: [
        // (client's last message, employee message, expected sends at) — Mon–Fri 09:00–18:00 MSK, one 24 h step.
        ("2026-11-23T07:00:00Z", "2026-11-23T07:05:00Z", "2026-11-24T06:50:00Z"),  // window closes Tue 10:00 MSK → 09:50
        ("2026-11-23T06:05:00Z", "2026-11-23T06:10:00Z", "2026-11-24T06:00:00Z"),  // closes Tue 09:05 → 09:00 (span start)
        ("2026-11-23T05:00:00Z", "2026-11-23T06:00:00Z", "2026-11-23T14:50:00Z"),  // closes Tue 08:00 → Mon 17:50
    ])
    func pullInToTheLastWorkingMomentBeforeTheWindowCloses(client: String, employee: String, sendsAt: String) {
        for channel in [Self.pullIn, Self.both] {
            let planner = FollowUpPlanner(chain: chain([hrs(24)]), hours: moscowOffice(), channel: channel)
            let facts = FollowUpPlanner.ChatFacts(lastClientMessageAt: iso(client))
            var state = FollowUpState()
            let log = planner.apply(.employeeMessage(at: iso(employee)), to: &state, facts: facts)
            let due = formatISO(iso(employee).addingTimeInterval(24 * 3600))
            #expect(
                lines(log) == [
                    "scheduled employee_message run=1 step=1 at=\(employee) due=\(due) sendsAt=\(sendsAt)",
                    "deferred pulled_into_window run=1 step=1 at=\(employee) due=\(due) sendsAt=\(sendsAt)",
                ])
            #expect(state.delivery == .freeForm)
            #expect(fire(planner, &state, at: sendsAt, facts: facts).0 == .send(step: 1, instruction: "step 1", delivery: .freeForm))
        }
    }

    /// Working time that runs on across midnight is one stretch: the margin is kept even when
    /// the window closes just after midnight.
    @Test func pullInMarginAcrossMidnight() {
        let facts = FollowUpPlanner.ChatFacts(lastClientMessageAt: iso("2026-11-23T00:05:00Z"))
        let planner = FollowUpPlanner(chain: chain([hrs(24)]), hours: .always, channel: Self.pullIn)
        var state = FollowUpState()
        planner.apply(.employeeMessage(at: iso("2026-11-23T00:10:00Z")), to: &state, facts: facts)
        #expect(text(state.sendsAt) == "2026-11-23T23:55:00Z")

        var hourMargin = Self.pullIn
        hourMargin.pullInMargin = .seconds(3600)
        let early = FollowUpPlanner(chain: chain([hrs(24)]), hours: .always, channel: hourMargin)
        var other = FollowUpState()
        early.apply(.employeeMessage(at: iso("2026-11-23T00:10:00Z")), to: &other, facts: facts)
        #expect(text(other.sendsAt) == "2026-11-23T23:05:00Z")
    }

    @Test func stepInsideTheWindowIsNotMoved() {
        let planner = FollowUpPlanner(chain: chain([hrs(4)]), hours: moscowOffice(), channel: Self.both)
        var state = FollowUpState()
        let log = planner.apply(
            .employeeMessage(at: iso("2026-11-23T07:05:00Z")), to: &state, facts: .init(lastClientMessageAt: iso("2026-11-23T07:00:00Z")))
        #expect(log.map(\.kind) == [.scheduled])
        #expect(text(state.sendsAt) == "2026-11-23T11:05:00Z")
        #expect(state.delivery == .freeForm)
    }

    @Test func templateWhenPullInIsOff() {
        let facts = FollowUpPlanner.ChatFacts(lastClientMessageAt: iso("2026-11-23T07:00:00Z"))
        let planner = FollowUpPlanner(chain: chain([hrs(24)]), hours: moscowOffice(), channel: Self.template)
        var state = FollowUpState()
        let log = planner.apply(.employeeMessage(at: iso("2026-11-23T07:05:00Z")), to: &state, facts: facts)
        #expect(
            lines(log) == [
                "scheduled employee_message run=1 step=1 at=2026-11-23T07:05:00Z due=2026-11-24T07:05:00Z sendsAt=2026-11-24T07:05:00Z",
                "deferred reengagement_template run=1 step=1 at=2026-11-23T07:05:00Z due=2026-11-24T07:05:00Z sendsAt=2026-11-24T07:05:00Z",
            ])
        #expect(state.delivery == .template("reengage_v1"))
        #expect(
            fire(planner, &state, at: "2026-11-24T07:05:00Z", facts: facts).0 == .send(step: 1, instruction: "step 1", delivery: .template("reengage_v1")))
    }

    @Test func templateWhenNoWorkingTimeIsLeftInTheWindow() {
        // The client wrote Fri 19:00 MSK; the window closes Sat 19:00 MSK with no working time before it.
        let facts = FollowUpPlanner.ChatFacts(lastClientMessageAt: iso("2026-11-27T16:00:00Z"))
        let planner = FollowUpPlanner(chain: chain([hrs(1)]), hours: moscowOffice(), channel: Self.both)
        var state = FollowUpState()
        planner.apply(.employeeMessage(at: iso("2026-11-27T16:05:00Z")), to: &state, facts: facts)
        #expect(state.status == .scheduled)
        #expect(state.delivery == .template("reengage_v1"))
        #expect(text(state.sendsAt) == "2026-11-30T06:00:00Z")

        // Without a template the step is skipped.
        let noTemplate = FollowUpPlanner(chain: chain([hrs(1)]), hours: moscowOffice(), channel: Self.pullIn)
        var skipped = FollowUpState()
        let log = noTemplate.apply(.employeeMessage(at: iso("2026-11-27T16:05:00Z")), to: &skipped, facts: facts)
        #expect(
            lines(log) == [
                "skipped window_closed run=1 step=1 at=2026-11-27T16:05:00Z due=2026-11-27T17:05:00Z",
                "finished chain_complete run=1 at=2026-11-27T16:05:00Z",
            ])
    }

    @Test func skipWithWindowClosedWhenNeitherPullInNorTemplate() {
        let facts = FollowUpPlanner.ChatFacts(lastClientMessageAt: iso("2026-11-23T09:00:00Z"))
        let planner = FollowUpPlanner(chain: chain([hrs(1), hrs(48)]), hours: .always, channel: Self.bare)
        var state = FollowUpState()
        planner.apply(.employeeMessage(at: iso("2026-11-23T09:05:00Z")), to: &state, facts: facts)
        #expect(text(state.sendsAt) == "2026-11-23T10:05:00Z")
        let log = planner.apply(.reminderSent(step: 1, at: iso("2026-11-23T10:05:00Z")), to: &state, facts: facts)
        #expect(
            lines(log) == [
                "sent employee_message run=1 step=1 at=2026-11-23T10:05:00Z due=2026-11-23T10:05:00Z sendsAt=2026-11-23T10:05:00Z",
                "skipped window_closed run=1 step=2 at=2026-11-23T10:05:00Z due=2026-11-25T10:05:00Z",
                "finished chain_complete run=1 at=2026-11-23T10:05:00Z",
            ])
        #expect(state.status == .finished)
    }

    @Test func stepAfterASkippedOneCountsFromTheSameAnchor() {
        let facts = FollowUpPlanner.ChatFacts(lastClientMessageAt: iso("2026-11-23T09:00:00Z"))
        let planner = FollowUpPlanner(chain: chain([hrs(48), hrs(2)]), hours: .always, channel: Self.bare)
        var state = FollowUpState()
        let log = planner.apply(.employeeMessage(at: iso("2026-11-23T09:05:00Z")), to: &state, facts: facts)
        #expect(
            lines(log) == [
                "skipped window_closed run=1 step=1 at=2026-11-23T09:05:00Z due=2026-11-25T09:05:00Z",
                "scheduled employee_message run=1 step=2 at=2026-11-23T09:05:00Z due=2026-11-23T11:05:00Z sendsAt=2026-11-23T11:05:00Z",
            ])
    }

    @Test func windowClosedAtFireTime() {
        // Planned inside the window (10:05), but the gateway only gets to it after the window closed.
        let facts = FollowUpPlanner.ChatFacts(lastClientMessageAt: iso("2026-11-23T09:00:00Z"))

        let withTemplate = FollowUpPlanner(chain: chain([hrs(1), hrs(24)]), hours: .always, channel: Self.both)
        var state = FollowUpState()
        withTemplate.apply(.employeeMessage(at: iso("2026-11-23T09:05:00Z")), to: &state, facts: facts)
        #expect(state.delivery == .freeForm)
        #expect(fire(withTemplate, &state, at: "2026-11-23T10:05:00Z", facts: facts).0 == .send(step: 1, instruction: "step 1", delivery: .freeForm))
        #expect(
            fire(withTemplate, &state, at: "2026-11-24T10:00:00Z", facts: facts).0
                == .send(step: 1, instruction: "step 1", delivery: .template("reengage_v1")))

        for channel in [Self.bare, Self.pullIn] {
            let planner = FollowUpPlanner(chain: chain([hrs(1), hrs(24)]), hours: .always, channel: channel)
            var late = FollowUpState()
            planner.apply(.employeeMessage(at: iso("2026-11-23T09:05:00Z")), to: &late, facts: facts)
            let (verdict, log) = fire(planner, &late, at: "2026-11-24T10:00:00Z", facts: facts)
            #expect(verdict == .notNow)
            #expect(
                log == [
                    "skipped window_closed run=1 step=1 at=2026-11-24T10:00:00Z due=2026-11-23T10:05:00Z sendsAt=2026-11-23T10:05:00Z",
                    "skipped window_closed run=1 step=2 at=2026-11-24T10:00:00Z due=2026-11-24T09:05:00Z",
                    "finished chain_complete run=1 at=2026-11-24T10:00:00Z",
                ])
        }
    }

    @Test func clientWhoNeverWroteHasNoOpenWindow() {
        let template = FollowUpPlanner(chain: chain([hrs(1)]), hours: .always, channel: Self.both)
        var state = FollowUpState()
        template.apply(.employeeMessage(at: iso("2026-11-23T09:00:00Z")), to: &state, facts: .init())
        #expect(state.delivery == .template("reengage_v1"))
        #expect(text(state.sendsAt) == "2026-11-23T10:00:00Z")

        let bare = FollowUpPlanner(chain: chain([hrs(1)]), hours: .always, channel: Self.pullIn)
        var skipped = FollowUpState()
        let log = bare.apply(.employeeMessage(at: iso("2026-11-23T09:00:00Z")), to: &skipped, facts: .init())
        #expect(log.map(\.reason) == [.windowClosed, .chainComplete])
    }

    @Test func channelWithoutAWindowIgnoresTheClientsLastMessage() {
        let planner = FollowUpPlanner(chain: chain([hrs(72)]), hours: .always, channel: .plain)
        var state = FollowUpState()
        let facts = FollowUpPlanner.ChatFacts(lastClientMessageAt: iso("2026-01-01T00:00:00Z"))
        let log = planner.apply(.employeeMessage(at: iso("2026-11-23T09:00:00Z")), to: &state, facts: facts)
        #expect(log.map(\.kind) == [.scheduled])
        #expect(state.delivery == .freeForm)
        #expect(fire(planner, &state, at: "2026-11-26T09:00:00Z", facts: facts).0 == .send(step: 1, instruction: "step 1", delivery: .freeForm))
    }

    /// What the scheduler's bug did: a reminder recorded as sent without the chat's facts sees
    /// a window that closed "long ago", so step 2 — well inside the real window — is skipped.
    @Test func theChatsFactsDecideWhetherTheNextStepFitsTheWindow() {
        let planner = FollowUpPlanner(chain: chain([hrs(4), hrs(16)]), hours: .always, channel: Self.bare)
        let facts = FollowUpPlanner.ChatFacts(lastClientMessageAt: iso("2026-11-23T06:00:00Z"))
        var state = armed(planner, at: "2026-11-23T06:00:00Z", facts: facts)
        var blind = state
        planner.apply(.reminderSent(step: 1, at: iso("2026-11-23T10:00:00Z")), to: &state, facts: facts)
        #expect(state.step == 2 && text(state.sendsAt) == "2026-11-24T02:00:00Z" && state.delivery == .freeForm)
        let log = planner.apply(.reminderSent(step: 1, at: iso("2026-11-23T10:00:00Z")), to: &blind, facts: .init())
        #expect(log.contains { $0.reason == .windowClosed && $0.step == 2 }, "without facts the window looks closed")
    }

    /// The provider refused the free-form text at once (131047): with a template the step is
    /// deferred to it, without one it is skipped; either way the chain moves on from the same anchor.
    @Test(arguments: [true, false])
    func aReminderRefusedForTheWindowMovesTheChainOn(withTemplate: Bool) {
        let planner = FollowUpPlanner(chain: chain([hrs(4), hrs(4)]), hours: .always, channel: withTemplate ? Self.template : Self.bare)
        let facts = FollowUpPlanner.ChatFacts(lastClientMessageAt: iso("2026-11-23T06:00:00Z"))
        var state = armed(planner, at: "2026-11-23T06:00:00Z", facts: facts)
        planner.apply(.reminderQueued(step: 1, at: iso("2026-11-23T10:00:00Z")), to: &state, facts: facts)
        let log = planner.apply(.reminderWindowClosed(step: 1, at: iso("2026-11-23T10:00:00Z"), detail: "131047: Re-engagement message"), to: &state, facts: facts)
        let first = try? #require(log.first)
        #expect(first?.kind == (withTemplate ? .deferred : .skipped))
        #expect(first?.reason == (withTemplate ? .reengagementTemplate : .windowClosed))
        #expect(first?.detail?.contains("131047") == true)
        #expect(state.step == 2 && text(state.due) == "2026-11-23T10:00:00Z", "step 2 counts from the same anchor, like any skipped step")
        #expect(planner.apply(.reminderWindowClosed(step: 1, at: iso("2026-11-23T10:01:00Z"), detail: "again"), to: &state, facts: facts).isEmpty,
                "a late second report changes nothing")
    }
}

// MARK: - Timeline

@Suite("Follow-up: timeline")
struct FollowUpTimelineTests {
    /// 4 h / 24 h / 48 h, Mon–Fri 09:00–18:00 MSK (UTC+3). Each later step counts from when the
    /// previous one is sent, i.e. from its `sendsAt`.
    @Test(arguments: [
        (
            // Thu 15:00 MSK: +4h = Thu 19:00 → Fri 09:00; +24h = Sat 09:00 → Mon 09:00; +48h = Wed 09:00 (opening time).
            "2026-11-26T12:00:00Z",
            [
                "1 due=2026-11-26T16:00:00Z sendsAt=2026-11-27T06:00:00Z",
                "2 due=2026-11-28T06:00:00Z sendsAt=2026-11-30T06:00:00Z",
                "3 due=2026-12-02T06:00:00Z sendsAt=2026-12-02T06:00:00Z",
            ]
        ),
        (
            // Mon 10:00 MSK: everything lands inside working hours.
            "2026-11-23T07:00:00Z",
            [
                "1 due=2026-11-23T11:00:00Z sendsAt=2026-11-23T11:00:00Z",
                "2 due=2026-11-24T11:00:00Z sendsAt=2026-11-24T11:00:00Z",
                "3 due=2026-11-26T11:00:00Z sendsAt=2026-11-26T11:00:00Z",
            ]
        ),
        (
            // Fri 17:30 MSK: +4h = 21:30 → Mon 09:00; then Tue 09:00; then Thu 09:00.
            "2026-11-27T14:30:00Z",
            [
                "1 due=2026-11-27T18:30:00Z sendsAt=2026-11-30T06:00:00Z",
                "2 due=2026-12-01T06:00:00Z sendsAt=2026-12-01T06:00:00Z",
                "3 due=2026-12-03T06:00:00Z sendsAt=2026-12-03T06:00:00Z",
            ]
        ),
        (
            // Wed 12:00 MSK: 16:00 Wed; 16:00 Thu; +48h = Sat 16:00 → Mon 09:00.
            "2026-11-25T09:00:00Z",
            [
                "1 due=2026-11-25T13:00:00Z sendsAt=2026-11-25T13:00:00Z",
                "2 due=2026-11-26T13:00:00Z sendsAt=2026-11-26T13:00:00Z",
                "3 due=2026-11-28T13:00:00Z sendsAt=2026-11-30T06:00:00Z",
            ]
        ),
        (
            // Mon 14:30 MSK: +4h = 18:30 → Tue 09:00; Wed 09:00; Fri 09:00.
            "2026-11-23T11:30:00Z",
            [
                "1 due=2026-11-23T15:30:00Z sendsAt=2026-11-24T06:00:00Z",
                "2 due=2026-11-25T06:00:00Z sendsAt=2026-11-25T06:00:00Z",
                "3 due=2026-11-27T06:00:00Z sendsAt=2026-11-27T06:00:00Z",
            ]
        ),
    ])
    func timelineOfA4h24h48hChainInMoscowOfficeHours(message: String, expected: [String]) {
        let planner = FollowUpPlanner(chain: chain([hrs(4), hrs(24), hrs(48)]), hours: moscowOffice())
        let timeline = planner.timeline(lastMessageAt: iso(message))
        #expect(timeline.map { "\($0.step) due=\(formatISO($0.due)) sendsAt=\(formatISO($0.sendsAt))" } == expected)
    }

    @Test func disabledChainHasAnEmptyTimeline() {
        let planner = FollowUpPlanner(chain: chain([hrs(4)], enabled: false), hours: moscowOffice())
        #expect(planner.timeline(lastMessageAt: iso("2026-11-23T07:00:00Z")).isEmpty)
    }
}

// MARK: - Composition failures

@Suite("Follow-up: composition failures")
struct FollowUpCompositionTests {
    let planner = FollowUpPlanner(chain: chain([hrs(4), hrs(24)]), hours: .always)

    @Test func retriesWithBackoffThenSkipsAfterMaxAttempts() {
        var state = armed(planner, at: "2026-11-23T09:00:00Z")
        var scratch: [FollowUpDecision] = []
        #expect(planner.beginComposition(state: &state, now: iso("2026-11-23T13:00:00Z"), maxAttempts: 3, facts: .init(), log: &scratch))

        var log = planner.compositionFailed(
            state: &state, now: iso("2026-11-23T13:00:00Z"), backoff: mins(5), maxAttempts: 3, facts: .init(), detail: "timeout")
        #expect(lines(log) == ["deferred composition_failed run=1 step=1 at=2026-11-23T13:00:00Z due=2026-11-23T13:00:00Z sendsAt=2026-11-23T13:05:00Z detail=timeout"])
        #expect(state.attempts == 1)
        #expect(state.status == .scheduled)
        #expect(state.step == 1)
        #expect(fire(planner, &state, at: "2026-11-23T13:04:59Z").0 == .notNow)
        #expect(fire(planner, &state, at: "2026-11-23T13:05:00Z").0 == .send(step: 1, instruction: "step 1", delivery: .freeForm))

        // The caller grows the backoff.
        #expect(planner.beginComposition(state: &state, now: iso("2026-11-23T13:05:00Z"), maxAttempts: 3, facts: .init(), log: &scratch))
        log = planner.compositionFailed(
            state: &state, now: iso("2026-11-23T13:05:00Z"), backoff: mins(10), maxAttempts: 3, facts: .init(), detail: "HTTP 503")
        #expect(state.attempts == 2)
        #expect(text(state.sendsAt) == "2026-11-23T13:15:00Z")
        #expect(log.map(\.detail) == ["HTTP 503"])

        #expect(planner.beginComposition(state: &state, now: iso("2026-11-23T13:15:00Z"), maxAttempts: 3, facts: .init(), log: &scratch))
        #expect(scratch.isEmpty)
        log = planner.compositionFailed(
            state: &state, now: iso("2026-11-23T13:15:00Z"), backoff: mins(20), maxAttempts: 3, facts: .init(), detail: "HTTP 503")
        #expect(
            lines(log) == [
                "skipped composition_failed run=1 step=1 at=2026-11-23T13:15:00Z detail=HTTP 503",
                // Nothing was sent, so step 2 still counts from the employee's message.
                "scheduled previous_reminder_sent run=1 step=2 at=2026-11-23T13:15:00Z due=2026-11-24T09:00:00Z sendsAt=2026-11-24T09:00:00Z",
            ])
        #expect(state.step == 2)
        #expect(state.attempts == 0)
        #expect(text(state.anchor) == "2026-11-23T09:00:00Z")
    }

    @Test func failingTheLastStepFinishes() {
        let single = FollowUpPlanner(chain: chain([hrs(4)]), hours: .always)
        var state = armed(single, at: "2026-11-23T09:00:00Z")
        var scratch: [FollowUpDecision] = []
        _ = single.beginComposition(state: &state, now: iso("2026-11-23T13:00:00Z"), maxAttempts: 1, facts: .init(), log: &scratch)
        let log = single.compositionFailed(
            state: &state, now: iso("2026-11-23T13:00:00Z"), backoff: mins(5), maxAttempts: 1, facts: .init(), detail: "bad")
        #expect(log.map(\.kind) == [.skipped, .finished])
        #expect(state.status == .finished)
    }

    @Test func compositionsAreCountedBeforeTheyStartSoACrashCountsToo() {
        var state = armed(planner, at: "2026-11-23T09:00:00Z")
        var log: [FollowUpDecision] = []
        // Two compositions started and never reported back (the process died each time).
        #expect(planner.beginComposition(state: &state, now: iso("2026-11-23T13:00:00Z"), maxAttempts: 2, facts: .init(), log: &log))
        #expect(planner.beginComposition(state: &state, now: iso("2026-11-23T13:02:00Z"), maxAttempts: 2, facts: .init(), log: &log))
        #expect(log.isEmpty)
        #expect(!planner.beginComposition(state: &state, now: iso("2026-11-23T13:04:00Z"), maxAttempts: 2, facts: .init(), log: &log))
        #expect(lines(log).first == "skipped composition_failed run=1 step=1 at=2026-11-23T13:04:00Z detail=gave up after 2 compositions")
        #expect(state.step == 2)
        #expect(state.attempts == 0)
    }

    @Test func replanningTheSameStepKeepsItsCount() {
        var state = armed(planner, at: "2026-11-23T09:00:00Z")
        var log: [FollowUpDecision] = []
        _ = planner.beginComposition(state: &state, now: iso("2026-11-23T13:00:00Z"), maxAttempts: 5, facts: .init(), log: &log)
        planner.apply(.chainChanged(at: iso("2026-11-23T13:01:00Z")), to: &state, facts: .init())
        #expect(state.step == 1)
        #expect(state.attempts == 1)
    }

    @Test func onlyAScheduledReminderCounts() {
        var state = armed(planner, at: "2026-11-23T09:00:00Z")
        planner.apply(.clientMessage(at: iso("2026-11-23T10:00:00Z"), text: "hi"), to: &state, facts: .init())
        let before = state
        let log = planner.compositionFailed(
            state: &state, now: iso("2026-11-23T13:00:00Z"), backoff: mins(5), maxAttempts: 3, facts: .init(), detail: "x")
        #expect(log.isEmpty)
        #expect(state == before)
    }
}

// MARK: - Outbox hand-off

@Suite("Follow-up: queued reminders")
struct FollowUpQueuedTests {
    let planner = FollowUpPlanner(chain: chain([hrs(4), hrs(24)]), hours: .always)

    @Test func queuedReminderIsSendingUntilReported() {
        var state = armed(planner, at: "2026-11-23T09:00:00Z")
        let log = planner.apply(.reminderQueued(step: 1, at: iso("2026-11-23T13:00:00Z")), to: &state, facts: .init())
        #expect(log.isEmpty)
        #expect(state.status == .sending)
        #expect(state.isPending)
        #expect(state.step == 1)

        let sentLog = planner.apply(.reminderSent(step: 1, at: iso("2026-11-23T13:00:05Z")), to: &state, facts: .init())
        #expect(sentLog.map(\.kind) == [.sent, .scheduled])
        #expect(state.status == .scheduled)
        #expect(state.step == 2)
        #expect(text(state.due) == "2026-11-24T13:00:05Z")
    }

    @Test func clientMessageCancelsAQueuedReminderAndItsLateReportIsIgnored() {
        var state = armed(planner, at: "2026-11-23T09:00:00Z")
        planner.apply(.reminderQueued(step: 1, at: iso("2026-11-23T13:00:00Z")), to: &state, facts: .init())
        let log = planner.apply(.clientMessage(at: iso("2026-11-23T13:00:01Z"), text: "hello"), to: &state, facts: .init())
        #expect(log.map(\.reason) == [.clientReplied])
        #expect(state.status == .cancelled)
        let cancelled = state
        #expect(planner.apply(.reminderSent(step: 1, at: iso("2026-11-23T13:00:02Z")), to: &state, facts: .init()).isEmpty)
        #expect(planner.apply(.reminderQueued(step: 1, at: iso("2026-11-23T13:00:02Z")), to: &state, facts: .init()).isEmpty)
        #expect(state == cancelled)
    }

    @Test func aConfigReloadLeavesAQueuedReminderAsItIs() {
        var state = armed(planner, at: "2026-11-23T09:00:00Z")
        planner.apply(.reminderQueued(step: 1, at: iso("2026-11-23T13:00:00Z")), to: &state, facts: .init())
        let sending = state
        // Any edit re-plans pending reminders; a composed one is not pulled back to "scheduled"
        // under the same key (it would never be queued again).
        let edited = FollowUpPlanner(chain: chain([hrs(2), hrs(24)]), hours: .always)
        #expect(edited.apply(.chainChanged(at: iso("2026-11-23T13:00:01Z")), to: &state, facts: .init()).isEmpty)
        #expect(state == sending)
        // The steps after it follow the new chain.
        edited.apply(.reminderSent(step: 1, at: iso("2026-11-23T13:00:05Z")), to: &state, facts: .init())
        #expect(state.step == 2)
        // Switched off in config: the queued one is dropped, with its reason.
        var other = sending
        let off = FollowUpPlanner(chain: chain([hrs(4)], enabled: false), hours: .always)
        #expect(lines(off.apply(.chainChanged(at: iso("2026-11-23T13:00:01Z")), to: &other, facts: .init())).first?.hasPrefix("cancelled followup_disabled run=1 step=1") == true)
    }

    @Test func anEmployeeMessageEndsThePendingStepBeforeARunStarts() {
        var state = armed(planner, at: "2026-11-23T09:00:00Z")
        let log = planner.apply(.employeeMessage(at: iso("2026-11-23T10:00:00Z")), to: &state, facts: .init())
        #expect(lines(log).first == "cancelled employee_message run=1 step=1 at=2026-11-23T10:00:00Z due=2026-11-23T13:00:00Z sendsAt=2026-11-23T13:00:00Z")
        #expect(log.last?.kind == .scheduled && log.last?.run == 2)
    }

    @Test func switchingOffAndOnWhileQueuedResumesUnderANewRun() {
        var state = armed(planner, at: "2026-11-23T09:00:00Z")
        planner.apply(.reminderQueued(step: 1, at: iso("2026-11-23T13:00:00Z")), to: &state, facts: .init())
        planner.apply(.chatFollowUp(enabled: false, at: iso("2026-11-23T13:01:00Z")), to: &state, facts: .init())
        let log = planner.apply(.chatFollowUp(enabled: true, at: iso("2026-11-23T13:02:00Z")), to: &state, facts: .init())
        #expect(state.status == .scheduled)
        #expect(state.run == 2, "run 1 step 1 ended as cancelled; its outbox key is spent")
        #expect(log.map(\.run) == [2])
        // The late report of run 1's delivery changes nothing for run 2 only when the caller checks the run;
        // the planner sees a pending step 1 and must not be told about run 1 (the scheduler filters by run).
    }

    @Test func queuingTwiceOrFromAnotherStateDoesNothing() {
        var state = armed(planner, at: "2026-11-23T09:00:00Z")
        planner.apply(.reminderQueued(step: 1, at: iso("2026-11-23T13:00:00Z")), to: &state, facts: .init())
        let sending = state
        planner.apply(.reminderQueued(step: 1, at: iso("2026-11-23T13:00:01Z")), to: &state, facts: .init())
        #expect(state == sending)
        var idle = FollowUpState()
        planner.apply(.reminderQueued(step: 1, at: iso("2026-11-23T13:00:00Z")), to: &idle, facts: .init())
        #expect(idle.status == .idle)
    }
}

@Suite struct OptOutPhraseTests {
    let chain = FollowUpChain(enabled: true, steps: [], optOutPhrases: ["Stop", "Не пишите мне", "unsubscribe"])

    @Test func aWholeMessageMatchesIgnoringCaseSpacesAndTrailingPunctuation() {
        #expect(chain.isOptOut("stop"))
        #expect(chain.isOptOut("  STOP!!!  "))
        #expect(chain.isOptOut("не пишите мне."))
        #expect(chain.isOptOut("Unsubscribe"))
    }

    @Test func longerMessagesAndOtherWordsDoNot() {
        #expect(!chain.isOptOut("don't stop now"))
        #expect(!chain.isOptOut("stopp"))
        #expect(!chain.isOptOut(String(repeating: "Здравствуйте! ", count: 50)))
        #expect(!FollowUpChain(enabled: true, steps: [], optOutPhrases: []).isOptOut("stop"))
    }
}
