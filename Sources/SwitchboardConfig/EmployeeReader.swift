import Foundation
import SwitchboardCore

/// Reads `employees:` — personas, working hours, and follow-up chains — with every rule of the
/// config contract checked where the problem is.
struct EmployeeReader {
    let sink: DiagnosticSink

    func readEmployees(_ top: MappingReader) -> [Employee] {
        guard let items = top.list("employees") else {
            if top.value("employees") == nil { top.reportMissing("employees") }
            return []
        }
        var employees: [Employee] = []
        var seen: Set<String> = []
        for item in items {
            guard let reader = MappingReader(item, context: "an employee", sink: sink) else { continue }
            let employee = readEmployee(reader)
            reader.finish()
            guard let employee else { continue }
            if !seen.insert(employee.id).inserted, let node = reader.value("id") {
                sink.report("duplicate employee id '\(employee.id)'", at: node)
                continue
            }
            employees.append(employee)
        }
        return employees
    }

    private func readEmployee(_ r: MappingReader) -> Employee? {
        let id = r.string("id", required: true)
        if let id, !isIdentifier(id), let node = r.value("id") {
            sink.report("employee id '\(id)' may contain only a-z, 0-9, '-' and '_'", at: node)
        }
        let name = r.string("name") ?? id ?? ""
        let persona = r.string("persona") ?? ""
        var hours = WorkingHours.always
        var outside = OutsideHoursPolicy.silent
        if let wh = r.mapping("working_hours") {
            if let parsed = readWorkingHours(wh) { hours = parsed }
            if let o = wh.mapping("outside_hours") {
                outside = readOutsideHours(o)
                o.finish()
            }
            wh.finish()
        }
        var chain = FollowUpChain.disabled
        if let af = r.mapping("auto_followup") {
            chain = readChain(af)
            af.finish()
        }
        guard let id else { return nil }
        return Employee(id: id, name: name, persona: persona, workingHours: hours, outsideHours: outside, followUp: chain)
    }

    // MARK: Working hours

    private func readWorkingHours(_ r: MappingReader) -> WorkingHours? {
        var timeZone: TimeZone?
        if let name = r.string("timezone", required: true) {
            timeZone = TimeZone(identifier: name)
            if timeZone == nil, let node = r.value("timezone") {
                sink.report("unknown time zone '\(name)' (use an IANA name such as Europe/Moscow)", at: node)
            }
        }
        var week: [Weekday: [WorkingInterval]] = [:]
        if let w = r.mapping("week") {
            for day in Weekday.allCases {
                if let node = w.value(day.key), let intervals = readIntervals(node, what: day.key) {
                    week[day] = intervals
                }
            }
            w.finish()
        }
        var special: [LocalDate: [WorkingInterval]] = [:]
        for item in r.list("special_days") ?? [] {
            guard let s = MappingReader(item, context: "a special day", sink: sink) else { continue }
            let dateText = s.string("date", required: true)
            let date = dateText.flatMap(LocalDate.init)
            if dateText != nil, date == nil, let node = s.value("date") {
                sink.report("'date' must be a date written YYYY-MM-DD", at: node)
            }
            var intervals: [WorkingInterval]?
            if let node = s.value("hours") {
                intervals = readIntervals(node, what: "special day")
            } else {
                s.reportMissing("hours")
            }
            if let date, let intervals {
                if special[date] != nil, let node = s.value("date") {
                    sink.report("special day \(date) is listed twice", at: node)
                }
                special[date] = intervals
            }
            s.finish()
        }
        guard let timeZone else { return nil }
        let hours = WorkingHours(timeZone: timeZone, week: week, specialDays: special)
        if !hours.hasAnyWorkingTime {
            sink.report("working_hours has no working time at all: list at least one interval in 'week' or 'special_days'", at: r.node)
        }
        return hours
    }

    /// `off`, one `HH:MM-HH:MM`, or a list of them; inverted or overlapping intervals are reported.
    private func readIntervals(_ node: ConfigNode, what: String) -> [WorkingInterval]? {
        let items: [ConfigNode]
        switch node.value {
        case .scalar(let text) where ["off", "false", "closed"].contains(text.lowercased()):
            return []
        case .scalar:
            items = [node]
        case .sequence(let list):
            items = list
        default:
            sink.report("\(what) must be 'off' or a list of intervals such as [\"09:00-18:00\"]", at: node)
            return nil
        }
        var intervals: [(WorkingInterval, ConfigNode)] = []
        var ok = true
        for item in items {
            guard let text = item.scalar, let interval = WorkingInterval(text) else {
                sink.report("'\(item.scalar ?? item.kindName)' is not an interval HH:MM-HH:MM (00:00 to 24:00)", at: item)
                ok = false
                continue
            }
            if interval.isInverted {
                sink.report("interval \(interval) ends before it starts (a day ends at 24:00; split overnight hours across two days)", at: item)
                ok = false
                continue
            }
            if let clash = intervals.first(where: { $0.0.overlaps(interval) }) {
                sink.report("interval \(interval) overlaps \(clash.0) on the same day", at: item)
                ok = false
                continue
            }
            intervals.append((interval, item))
        }
        return ok ? intervals.map(\.0) : nil
    }

    private func readOutsideHours(_ r: MappingReader) -> OutsideHoursPolicy {
        let text = r.string("text")
        switch r.string("reply") {
        case "auto"?:
            return .autoReply(text ?? "Thank you for your message. We are outside working hours now and will answer as soon as we are back.")
        case "silent"?, nil:
            return .silent
        case let other?:
            if let node = r.value("reply") { sink.report("'reply' must be auto or silent, not '\(other)'", at: node) }
            return .silent
        }
    }

    // MARK: Follow-up chain

    private func readChain(_ r: MappingReader) -> FollowUpChain {
        let enabled = r.bool("enabled") ?? true
        var steps: [FollowUpStep] = []
        let items = r.list("steps") ?? []
        for (index, item) in items.enumerated() {
            if index == maximumFollowUpSteps {
                sink.report("a chain may have at most \(maximumFollowUpSteps) steps; this is step \(index + 1) of \(items.count)", at: item)
            }
            guard let s = MappingReader(item, context: "a follow-up step", sink: sink) else { continue }
            var delay: Duration?
            if let node = s.value("delay") {
                delay = readDelay(node)
            } else {
                s.reportMissing("delay")
            }
            let instruction = s.string("instruction", required: true)
            let once = s.bool("once_per_chat") ?? false
            s.finish()
            if let delay, let instruction {
                steps.append(FollowUpStep(delay: delay, instruction: instruction, oncePerChat: once))
            }
        }
        if enabled && items.isEmpty {
            sink.report("auto_followup is enabled but has no steps", at: r.node)
        }
        var chain = FollowUpChain(enabled: enabled, steps: Array(steps.prefix(maximumFollowUpSteps)))
        if let phrases = r.list("opt_out_phrases") {
            chain.optOutPhrases = phrases.compactMap { node in
                guard let s = node.scalar else {
                    sink.report("opt-out phrases must be text", at: node)
                    return nil
                }
                return s
            }
        }
        chain.dailyTokenBudget = r.int("daily_token_budget", range: 1...Int.max)
        return chain
    }

    /// `{hours: 4, minutes: 30}` or `"4h30m"`; at least one minute.
    private func readDelay(_ node: ConfigNode) -> Duration? {
        var seconds: Int64?
        if case .mapping = node.value, let m = MappingReader(node, context: "'delay'", sink: sink) {
            let days = m.int("days", range: 0...365) ?? 0
            let hours = m.int("hours", range: 0...100_000) ?? 0
            let minutes = m.int("minutes", range: 0...100_000) ?? 0
            m.finish()
            seconds = Int64(((days * 24 + hours) * 60 + minutes) * 60)
        } else if let duration = DurationText.parse(node) {
            seconds = duration.components.seconds
        } else {
            sink.report("'delay' must be {hours: H, minutes: M} or text such as 4h30m", at: node)
            return nil
        }
        guard let seconds, seconds >= 60 else {
            sink.report("'delay' must be at least 1 minute", at: node)
            return nil
        }
        return .seconds(seconds)
    }
}

/// Durations written as text: `4h30m`, `90m`, `2d`, `45s`.
enum DurationText {
    static func parse(_ node: ConfigNode) -> Duration? {
        guard let text = node.scalar?.replacingOccurrences(of: " ", with: "").lowercased(), !text.isEmpty else { return nil }
        var total: Int64 = 0
        var number = ""
        var sawUnit = false
        for ch in text {
            if ch.isASCII, ch.isNumber {
                number.append(ch)
                continue
            }
            guard let n = Int64(number) else { return nil }
            switch ch {
            case "d": total += n * 86400
            case "h": total += n * 3600
            case "m": total += n * 60
            case "s": total += n
            default: return nil
            }
            number = ""
            sawUnit = true
        }
        guard number.isEmpty, sawUnit else { return nil }
        return .seconds(total)
    }
}
