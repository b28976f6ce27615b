import Foundation
import SwitchboardConfig
import SwitchboardCore

// `/employees` and `/employees/{id}`: how the gateway understood each employee's YAML, with the
// file and line of every value (`ConfigSources`), so an admin knows where to edit.

/// `config.yaml:12`, for a value's "where to edit"; `nil` for a value the file does not set
/// (a default), which the page says.
struct Source: Sendable {
    var text: String

    init(_ sources: ConfigSources, _ path: String) {
        text = sources[path]?.description ?? sources.nearest(path).map { "default · \($0)" } ?? "default"
    }
}

/// Open or closed now, and when that changes: `Open now · until 18:00`, `Closed · opens Mon 09:00`.
struct OpenStatus: Sendable {
    var text: String
    var open: Bool

    init(hours: WorkingHours, now: Date) {
        let time = TimeText(now: now)
        let zone = hours.timeZone
        if hours.isWorking(at: now) {
            open = true
            // The working span that contains now ends when work stops (spans are merged across midnight).
            let end = hours.workingSpans(from: now, to: now.addingTimeInterval(8 * 86400)).first?.end
            text = end.map { span in
                span.timeIntervalSince(now) >= 7 * 86400 ? "Open now · around the clock" : "Open now · until \(Self.when(span, time: time, zone: zone, now: now))"
            } ?? "Open now"
        } else {
            open = false
            text = hours.nextWorkingMoment(atOrAfter: now).map { "Closed · opens \(Self.when($0, time: time, zone: zone, now: now))" } ?? "Closed · no working time ahead"
        }
    }

    /// `18:00` today, else `Mon 09:00`.
    static func when(_ date: Date, time: TimeText, zone: TimeZone, now: Date) -> String {
        let clock = time.clock(date, zone).replacingOccurrences(of: " UTC", with: "")
        if time.day(date, zone) == time.day(now, zone) { return clock }
        return time.local(date, zone).components(separatedBy: " ").first.map { "\($0) \(clock)" } ?? clock
    }
}

/// A row of the employees list.
struct EmployeeSummary: Sendable {
    var id: String
    var href: String
    var name: String
    var initials: String
    var timeZone: String
    var status: OpenStatus
    var followUp: String
    var channels: String
    var source: Source
}

/// `/employees` (`employees.mustache`).
struct EmployeesPageModel: Sendable {
    var chrome: Chrome
    var employees: [EmployeeSummary]
    var hasEmployees: Bool

    init(config: GatewayConfig, roster: Roster, csrf: String, now: Date) {
        chrome = Chrome(title: "Employees", csrf: csrf, current: "employees")
        let sources = config.sources
        employees = roster.employees.values.sorted { ($0.name, $0.id) < ($1.name, $1.id) }.map { employee in
            let channels = roster.channelOwners.filter { $0.value == employee.id }.keys.sorted()
            let chain = employee.followUp
            return EmployeeSummary(
                id: employee.id, href: "/employees/\(employee.id)", name: employee.name, initials: PageViews.initials(employee.name),
                timeZone: employee.workingHours.timeZone.identifier, status: OpenStatus(hours: employee.workingHours, now: now),
                followUp: chain.enabled && !chain.steps.isEmpty ? "On · \(chain.steps.count) step\(chain.steps.count == 1 ? "" : "s")" : "Off",
                channels: channels.isEmpty ? "No channel" : channels.joined(separator: ", "), source: Source(sources, "employees.\(employee.id)"))
        }
        hasEmployees = !employees.isEmpty
    }
}

/// `/employees/{id}` with its five tabs (`employee.mustache`).
struct EmployeePageModel: Sendable {
    enum Tab: String, CaseIterable, Sendable {
        case persona, hours, channels, chats, followup

        var label: String {
            switch self {
            case .persona: "Persona"
            case .hours: "Working Hours"
            case .channels: "Channels"
            case .chats: "Chats"
            case .followup: "Auto Follow-up"
            }
        }
    }

    struct TabLink: Sendable {
        var href: String
        var label: String
        var current: Bool
    }

    struct Persona: Sendable {
        var text: String
        var source: Source
        var name: String
        var nameSource: Source
        var model: String
        var modelSource: Source
    }

    struct DayRow: Sendable {
        var day: String
        var intervals: String
        var source: Source
        var today: Bool
    }

    struct SpecialRow: Sendable {
        var date: String
        var label: String
        var intervals: String
        var source: Source
    }

    struct Hours: Sendable {
        var timeZone: String
        var timeZoneSource: Source
        var grid: String
        var days: [DayRow]
        var specialDays: [SpecialRow]
        var hasSpecialDays: Bool
        var outside: String
        var outsideSource: Source
    }

    struct ChannelRow: Sendable {
        var id: String
        var type: String
        var typeName: String
        var health: String
        var healthTone: String
        var lastMessage: String
        var lastMessageISO: String?
        var source: Source
        var chatsHref: String
    }

    struct StepRow: Sendable {
        var number: Int
        var delay: String
        var instruction: String
        var once: Bool
        var source: Source
    }

    struct PreviewRow: Sendable {
        var step: Int
        var sendsLocal: String
        var sendsISO: String
        var sendsUTC: String
        var relative: String
        /// Why the reminder does not go at its due time; `nil` when it does.
        var moved: String?
    }

    struct FollowUp: Sendable {
        var enabled: Bool
        var enabledSource: Source
        var steps: [StepRow]
        var hasSteps: Bool
        var budget: String
        var budgetSource: Source
        var spentToday: String
        var budgetPercent: Int?
        var budgetMeter: String?
        var preview: [PreviewRow]
        var previewNote: String?
        var optOutPhrases: String
        var optOutSource: Source
        var armedAt: String
    }

    var chrome: Chrome
    var icons = InboxPageModel.Icons()
    var id: String
    var name: String
    var initials: String
    var status: OpenStatus
    var tabs: [TabLink]
    var isPersona: Bool
    var isHours: Bool
    var isChannels: Bool
    var isChats: Bool
    var isFollowUp: Bool
    var usage: UsageChartModel
    var persona: Persona?
    var hours: Hours?
    var channels: [ChannelRow]
    var hasChannels: Bool
    var chats: InboxPageModel?
    var chatsHref: String
    var followUp: FollowUp?

    /// What the page shows beyond config: the tab's own data, fetched by the route.
    struct Facts: Sendable {
        var usage: UsageChartModel
        var channelHealth: [String: String?] = [:]
        var channelTypes: [String: String] = [:]
        var enabledChannels: Set<String> = []
        var lastMessages: [String: Date] = [:]
        var chats: InboxPageModel?
        var followUpTokensToday = 0
    }

    init(employee: Employee, tab: Tab, config: GatewayConfig, roster: Roster, facts: Facts, csrf: String, now: Date) {
        let sources = config.sources
        let path = "employees.\(employee.id)"
        let time = TimeText(now: now)
        let zone = employee.workingHours.timeZone
        chrome = Chrome(title: employee.name, csrf: csrf, current: "employees")
        id = employee.id
        name = employee.name
        initials = PageViews.initials(employee.name)
        status = OpenStatus(hours: employee.workingHours, now: now)
        tabs = Tab.allCases.map { TabLink(href: "/employees/\(employee.id)?tab=\($0.rawValue)", label: $0.label, current: $0 == tab) }
        isPersona = tab == .persona
        isHours = tab == .hours
        isChannels = tab == .channels
        isChats = tab == .chats
        isFollowUp = tab == .followup
        usage = facts.usage
        chatsHref = "/chats?employee=\(employee.id)"
        chats = facts.chats

        persona = Persona(
            text: employee.persona.isEmpty ? "No persona: the model gets only the employee's name." : employee.persona,
            source: Source(sources, path + ".persona"), name: employee.name, nameSource: Source(sources, path + ".name"),
            model: config.composer.model, modelSource: Source(sources, "composer.model"))

        let hoursPath = path + ".working_hours"
        let today = employee.workingHours.localDate(of: now).weekday
        let order: [Weekday] = [.mon, .tue, .wed, .thu, .fri, .sat, .sun]
        let names: [Weekday: String] = [.mon: "Monday", .tue: "Tuesday", .wed: "Wednesday", .thu: "Thursday", .fri: "Friday", .sat: "Saturday", .sun: "Sunday"]
        hours = Hours(
            timeZone: zone.identifier, timeZoneSource: Source(sources, hoursPath + ".timezone"),
            grid: WeekGrid.svg(employee.workingHours, today: today, order: order),
            days: order.map { day in
                let intervals = employee.workingHours.week[day] ?? []
                return DayRow(
                    day: names[day] ?? day.key, intervals: Self.intervalsText(intervals),
                    source: Source(sources, hoursPath + ".week." + day.key), today: day == today)
            },
            specialDays: employee.workingHours.specialDays.keys.sorted().map { date in
                SpecialRow(
                    date: date.description, label: UsageChartModel.dayLabel(date) + " \(date.components.year)",
                    intervals: Self.intervalsText(employee.workingHours.specialDays[date] ?? []),
                    source: Source(sources, hoursPath + ".special_days." + date.description))
            },
            hasSpecialDays: !employee.workingHours.specialDays.isEmpty,
            outside: {
                switch employee.outsideHours {
                case .silent: "Says nothing outside working hours and answers when work resumes."
                case .autoReply(let text): "Answers once per closed period with: “\(text)” — and the real answer when work resumes."
                }
            }(),
            outsideSource: Source(sources, hoursPath + ".outside_hours"))

        let owned = roster.channelOwners.filter { $0.value == employee.id }.keys.sorted()
        channels = owned.map { channel in
            let type = facts.channelTypes[channel] ?? "unknown"
            let (health, tone): (String, String) =
                if !facts.enabledChannels.contains(channel) {
                    ("Disabled in its file", "muted")
                } else if let problem = facts.channelHealth[channel] {
                    problem.map { ("Down: \($0)", "danger") } ?? ("Up", "scheduled")
                } else {
                    ("Not running", "danger")
                }
            let last = facts.lastMessages[channel]
            return ChannelRow(
                id: channel, type: type, typeName: PageViews.channelName(type: type), health: health, healthTone: tone,
                lastMessage: last.map { "\(time.local($0, zone)) · \(time.ago($0))" } ?? "No messages yet",
                lastMessageISO: last.map(AdminJSON.format), source: Source(sources, "channels.\(channel).type"),
                chatsHref: "/chats?channel=\(channel)")
        }
        hasChannels = !channels.isEmpty

        let chain = employee.followUp
        let chainPath = path + ".auto_followup"
        let timeline = FollowUpPlanner(employee: employee).timeline(lastMessageAt: now)
        var note: String?
        if !chain.enabled || chain.steps.isEmpty {
            note = "Auto Follow-up is off: nothing would be sent."
        } else if timeline.count < chain.steps.count {
            note = "\(chain.steps.count - timeline.count) step(s) not shown: there is no working time ahead for them."
        }
        let budget = chain.dailyTokenBudget
        let percent = budget.map { min(100, facts.followUpTokensToday * 100 / max($0, 1)) }
        followUp = FollowUp(
            enabled: chain.enabled && !chain.steps.isEmpty, enabledSource: Source(sources, chainPath + ".enabled"),
            steps: chain.steps.enumerated().map { index, step in
                StepRow(
                    number: index + 1, delay: Self.delayText(step.delay), instruction: step.instruction, once: step.oncePerChat,
                    source: Source(sources, chainPath + ".steps.\(index)"))
            },
            hasSteps: !chain.steps.isEmpty,
            budget: budget.map { "\(PageViews.formatted($0)) tokens a day" } ?? "No daily budget",
            budgetSource: Source(sources, chainPath + ".daily_token_budget"),
            spentToday: PageViews.formatted(facts.followUpTokensToday), budgetPercent: percent,
            budgetMeter: budget.map { UsageMeter.svg(spent: facts.followUpTokensToday, budget: $0) },
            preview: chain.enabled ? timeline.map { entry in
                PreviewRow(
                    step: entry.step, sendsLocal: time.local(entry.sendsAt, zone), sendsISO: AdminJSON.format(entry.sendsAt),
                    sendsUTC: time.utc(entry.sendsAt), relative: time.relative(entry.sendsAt),
                    moved: entry.sendsAt == entry.due
                        ? nil
                        : "due \(time.local(entry.due, zone)), outside working hours: moved to the next working moment")
            } : [],
            previewNote: note,
            optOutPhrases: chain.optOutPhrases.map { "“\($0)”" }.joined(separator: ", "),
            optOutSource: Source(sources, chainPath + ".opt_out_phrases"),
            armedAt: time.local(now, zone))
    }

    static func intervalsText(_ intervals: [WorkingInterval]) -> String {
        if intervals.count == 1, intervals[0].start.minutes == 0, intervals[0].end.minutes == 1440 { return "All day" }
        return intervals.isEmpty ? "Closed" : intervals.map { "\($0.start)–\($0.end)" }.joined(separator: ", ")
    }

    /// `4 h`, `1 day`, `1 h 30 min`.
    static func delayText(_ delay: Duration) -> String {
        let minutes = Int(delay.components.seconds / 60)
        let days = minutes / 1440, hours = (minutes % 1440) / 60, rest = minutes % 60
        var parts: [String] = []
        if days > 0 { parts.append("\(days) day\(days == 1 ? "" : "s")") }
        if hours > 0 { parts.append("\(hours) h") }
        if rest > 0 || parts.isEmpty { parts.append("\(rest) min") }
        return parts.joined(separator: " ")
    }
}

/// The week as a grid: a row per day, the working intervals as bars on a 24-hour axis. Drawn
/// as SVG because the console's CSP allows no inline styles to position plain elements.
enum WeekGrid {
    static func svg(_ hours: WorkingHours, today: Weekday, order: [Weekday]) -> String {
        let width = 640.0, left = 44.0, right = 8.0, rowHeight = 22.0, top = 18.0
        let plot = width - left - right
        let height = top + rowHeight * Double(order.count) + 4
        func x(_ minutes: Int) -> String { String(format: "%.1f", left + plot * Double(minutes) / 1440) }
        var svg = """
            <svg class="week-grid" viewBox="0 0 \(Int(width)) \(Int(height))" role="img" aria-label="Working hours by day of the week; the table below lists them" \
            xmlns="http://www.w3.org/2000/svg">
            """
        for hour in stride(from: 0, through: 24, by: 3) {
            svg += "<line class=\"tick\" x1=\"\(x(hour * 60))\" x2=\"\(x(hour * 60))\" y1=\"\(Int(top) - 4)\" y2=\"\(Int(height) - 4)\"/>"
            svg += "<text class=\"axis\" x=\"\(x(hour * 60))\" y=\"10\" text-anchor=\"middle\">\(String(format: "%02d", hour))</text>"
        }
        for (row, day) in order.enumerated() {
            let y = top + rowHeight * Double(row)
            let label = String(day.key.prefix(1)).uppercased() + day.key.dropFirst()
            svg += "<text class=\"axis day\(day == today ? " today" : "")\" x=\"\(Int(left) - 8)\" y=\"\(String(format: "%.1f", y + rowHeight / 2 + 3))\" text-anchor=\"end\">\(label)</text>"
            svg += "<rect class=\"lane\" x=\"\(x(0))\" y=\"\(String(format: "%.1f", y + 3))\" width=\"\(String(format: "%.1f", plot))\" height=\"\(Int(rowHeight - 6))\" rx=\"4\"/>"
            let intervals = hours.week[day] ?? []
            for interval in intervals {
                svg += "<rect class=\"work\" x=\"\(x(interval.start.minutes))\" y=\"\(String(format: "%.1f", y + 3))\" "
                    + "width=\"\(String(format: "%.1f", plot * Double(interval.end.minutes - interval.start.minutes) / 1440))\" height=\"\(Int(rowHeight - 6))\" rx=\"4\">"
                    + "<title>\(HTML.escape("\(label) \(interval.start)–\(interval.end)"))</title></rect>"
            }
        }
        return svg + "</svg>"
    }
}

/// Today's follow-up tokens against the daily budget, as a bar.
enum UsageMeter {
    static func svg(spent: Int, budget: Int) -> String {
        let fraction = min(1, Double(spent) / Double(max(budget, 1)))
        let tone = fraction >= 1 ? "over" : fraction >= 0.8 ? "near" : "ok"
        return """
            <svg class="meter \(tone)" viewBox="0 0 200 10" preserveAspectRatio="none" role="img" aria-label="\(Int(fraction * 100)) percent of the budget" \
            xmlns="http://www.w3.org/2000/svg"><rect class="track" width="200" height="10" rx="5"/>\
            <rect class="fill" width="\(String(format: "%.1f", 200 * fraction))" height="10" rx="5"/></svg>
            """
    }
}
