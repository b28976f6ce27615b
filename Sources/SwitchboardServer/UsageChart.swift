import Foundation
import SwitchboardCore

/// One employee's token usage over the last days, as `usage_chart.mustache` shows it: a stacked
/// bar chart drawn here as inline SVG (no script, nothing to load), the totals in a table beside
/// it, and every day's figures in a table under it — the chart is for the eye, the tables for
/// screen readers and for copying numbers.
struct UsageChartModel: Sendable {
    struct Day: Sendable {
        var date: String
        var label: String
        var replies: String
        var reminders: String
        var total: String
    }

    struct Total: Sendable {
        var label: String
        var tokens: String
    }

    var id: String
    var name: String
    var timeZone: String
    var range: String
    var svg: String
    var totals: [Total]
    var days: [Day]
    var isEmpty: Bool

    /// Figures for one day of the employee's calendar.
    struct Input: Sendable, Hashable {
        var date: LocalDate
        var replies: Int
        var reminders: Int
    }

    /// `days` is every day of the range, oldest first (days without usage as zeros).
    init(employee: Employee, days: [Input], autoReplies: Int) {
        id = employee.id
        name = employee.name
        timeZone = employee.workingHours.timeZone.identifier
        let replies = days.reduce(0) { $0 + $1.replies }
        let reminders = days.reduce(0) { $0 + $1.reminders }
        range = days.first.map { first in "\(Self.dayLabel(first.date)) – \(Self.dayLabel(days[days.count - 1].date))" } ?? ""
        totals = [
            Total(label: "Replies", tokens: PageViews.formatted(replies)),
            Total(label: "Reminders", tokens: PageViews.formatted(reminders)),
        ]
        if autoReplies > 0 { totals.append(Total(label: "Auto-replies", tokens: PageViews.formatted(autoReplies))) }
        totals.append(Total(label: "Total", tokens: PageViews.formatted(replies + reminders + autoReplies)))
        self.days = days.reversed().map { day in
            Day(
                date: day.date.description, label: Self.dayLabel(day.date), replies: PageViews.formatted(day.replies),
                reminders: PageViews.formatted(day.reminders), total: PageViews.formatted(day.replies + day.reminders))
        }
        isEmpty = replies + reminders == 0
        svg = Self.svg(days: days, title: "Tokens per day for \(employee.name), replies and reminders", id: employee.id)
    }

    /// `Mon 23 Nov`.
    static func dayLabel(_ date: LocalDate) -> String {
        let (_, month, day) = date.components
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        return "\(String(describing: date.weekday).prefix(3).capitalized) \(day) \(months[month - 1])"
    }

    /// The axis maximum: the largest day rounded up to 1, 2 or 5 times a power of ten.
    static func niceMaximum(_ value: Int) -> Int {
        guard value > 0 else { return 10 }
        var magnitude = 1
        while magnitude * 10 <= value { magnitude *= 10 }
        for step in [1, 2, 5, 10] where step * magnitude >= value { return step * magnitude }
        return 10 * magnitude
    }

    /// `12k`, `1.5M`: short axis labels.
    static func short(_ value: Int) -> String {
        switch value {
        case 1_000_000...: value % 1_000_000 == 0 ? "\(value / 1_000_000)M" : String(format: "%.1fM", Double(value) / 1_000_000)
        case 1000...: value % 1000 == 0 ? "\(value / 1000)k" : String(format: "%.1fk", Double(value) / 1000)
        default: "\(value)"
        }
    }

    /// Stacked bars — replies below, reminders on top — with three gridlines and a date under
    /// every seventh bar. Each bar has a `<title>` (the day's figures), shown on hover.
    static func svg(days: [Input], title: String, id: String) -> String {
        let width = 640.0, height = 180.0, left = 44.0, right = 8.0, top = 10.0, bottom = 24.0
        let plotWidth = width - left - right, plotHeight = height - top - bottom
        let maximum = niceMaximum(days.map { $0.replies + $0.reminders }.max() ?? 0)
        let slot = plotWidth / Double(max(days.count, 1))
        let barWidth = max(2, slot * 0.68)
        func y(_ value: Int) -> Double { top + plotHeight - plotHeight * Double(value) / Double(maximum) }
        func number(_ value: Double) -> String { String(format: "%.1f", value) }
        let titleID = "usage-title-\(id)"
        var svg = """
            <svg class="usage-chart" viewBox="0 0 \(Int(width)) \(Int(height))" role="img" aria-labelledby="\(HTML.escape(titleID))" \
            preserveAspectRatio="xMidYMid meet" xmlns="http://www.w3.org/2000/svg">
            <title id="\(HTML.escape(titleID))">\(HTML.escape(title))</title>
            """
        for fraction in [0, 2, 4] {
            let value = maximum * fraction / 4
            let lineY = number(y(value))
            svg += "<line class=\"grid\" x1=\"\(number(left))\" x2=\"\(number(width - right))\" y1=\"\(lineY)\" y2=\"\(lineY)\"/>"
            svg += "<text class=\"axis\" x=\"\(number(left - 6))\" y=\"\(lineY)\" text-anchor=\"end\" dominant-baseline=\"middle\">\(short(value))</text>"
        }
        for (index, day) in days.enumerated() {
            let x = left + slot * Double(index) + (slot - barWidth) / 2
            let total = day.replies + day.reminders
            svg += "<g class=\"bar\"><title>\(HTML.escape("\(dayLabel(day.date)): \(PageViews.formatted(day.replies)) reply tokens, \(PageViews.formatted(day.reminders)) reminder tokens"))</title>"
            if day.replies > 0 {
                svg += "<rect class=\"replies\" x=\"\(number(x))\" y=\"\(number(y(day.replies)))\" width=\"\(number(barWidth))\" height=\"\(number(y(0) - y(day.replies)))\" rx=\"1.5\"/>"
            }
            if day.reminders > 0 {
                svg += "<rect class=\"reminders\" x=\"\(number(x))\" y=\"\(number(y(total)))\" width=\"\(number(barWidth))\" height=\"\(number(y(day.replies) - y(total)))\" rx=\"1.5\"/>"
            }
            // An empty day still has a target to hover.
            svg += "<rect class=\"hit\" x=\"\(number(left + slot * Double(index)))\" y=\"\(number(top))\" width=\"\(number(slot))\" height=\"\(number(plotHeight))\"/></g>"
            if (days.count - 1 - index) % 7 == 0 {
                svg += "<text class=\"axis\" x=\"\(number(x + barWidth / 2))\" y=\"\(number(height - 6))\" text-anchor=\"middle\">\(HTML.escape(dayLabel(day.date).dropFirst(4).description))</text>"
            }
        }
        return svg + "</svg>"
    }
}

/// `/usage`: every employee's chart (`usage.mustache`).
struct UsagePageModel: Sendable {
    var chrome: Chrome
    var charts: [UsageChartModel]
    var hasCharts: Bool
    var days: Int

    init(charts: [UsageChartModel], csrf: String, days: Int) {
        chrome = Chrome(title: "Usage", csrf: csrf, current: "usage")
        self.charts = charts
        hasCharts = !charts.isEmpty
        self.days = days
    }
}

extension Gateway {
    /// How many days the usage charts cover, today included.
    static let usageDays = 30

    /// An employee's chart: the last `usageDays` days of their own calendar, today included.
    func usageChart(for employee: Employee) async throws -> UsageChartModel {
        let hours = employee.workingHours
        let now = clock.now()
        let today = hours.localDate(of: now)
        let first = today.adding(days: -(Self.usageDays - 1))
        let from = hours.instant(on: first, minutes: 0)
        let to = hours.instant(on: today.adding(days: 1), minutes: 0)
        async let repliesQuery = store.tokenUsageByDay(employeeID: employee.id, purpose: .reply, from: from, to: to, timeZone: hours.timeZone)
        async let remindersQuery = store.tokenUsageByDay(employeeID: employee.id, purpose: .reminder, from: from, to: to, timeZone: hours.timeZone)
        let autoReplies = try await store.tokenUsage(employeeID: employee.id, purpose: .autoReply, from: from, to: to).totalTokens
        let replies = Dictionary(try await repliesQuery.map { ($0.date, $0.usage.totalTokens) }, uniquingKeysWith: +)
        let reminders = Dictionary(try await remindersQuery.map { ($0.date, $0.usage.totalTokens) }, uniquingKeysWith: +)
        let days = (0..<Self.usageDays).map { offset in
            let date = first.adding(days: offset)
            return UsageChartModel.Input(date: date, replies: replies[date] ?? 0, reminders: reminders[date] ?? 0)
        }
        return UsageChartModel(employee: employee, days: days, autoReplies: autoReplies)
    }
}
