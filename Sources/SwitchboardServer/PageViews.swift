import Foundation
import SwitchboardCore

/// The admin pages that came before the console — sign-in, a message, the Follow-ups list and a
/// chat's page — rendered from their templates, and the small formatting helpers every page
/// shares. The data comes from the same queries as the admin API.
enum PageViews {
    static let stylesheet = "/admin/assets/admin.css?v=\(AdminAssets.version)"
    static let script = "/admin/assets/admin.js?v=\(AdminAssets.version)"

    // MARK: - Sign in

    static func signIn(next: String, error: String?, closed: Bool) -> HTML {
        ConsoleTemplates.shared.render(SignInPageModel(next: next, error: error, closed: closed), "signin")
    }

    static func message(title: String, text: String, csrf: String?) -> HTML {
        ConsoleTemplates.shared.render(MessagePageModel(title: title, text: text, csrf: csrf), "message")
    }

    // MARK: - Follow-ups

    struct ListModel {
        var items: [FollowUpListItem]
        var total: Int
        var search: String
        var employeeID: String
        var employees: [Employee]
        var channelTypes: [String: String]
        var emptyExplanation: String
        var now: Date

        /// Why the list is empty, naming the search and the employee when there are any.
        var emptyText: String {
            let search = search.trimmingCharacters(in: .whitespaces)
            let employee = employees.first { $0.id == employeeID }?.name
            switch (search.isEmpty, employee) {
            case (true, nil): return emptyExplanation
            case (true, let name?): return "No reminders are scheduled in \(name)'s chats right now."
            case (false, nil): return "No scheduled follow-up matches “\(search)” in a client's name, an employee's name or a chat title."
            case (false, let name?): return "None of \(name)'s scheduled follow-ups matches “\(search)”."
            }
        }
    }

    static func followUps(_ model: ListModel, csrf: String) -> HTML {
        ConsoleTemplates.shared.render(FollowUpsPageModel(model, csrf: csrf), "followups")
    }

    /// The part of the Follow-ups page that refreshes itself.
    static func followUpResults(_ model: ListModel) -> HTML {
        ConsoleTemplates.shared.render(FollowUpResultsModel(model), "followups_rows")
    }

    // MARK: - Chat

    /// A chat's page with its composer (`chat.mustache`).
    static func chat(_ detail: ChatDetailView, csrf: String, now: Date, operatorPause: Duration) -> HTML {
        ConsoleTemplates.shared.render(ChatPageModel(detail, csrf: csrf, operatorPause: operatorPause, now: now), "chat")
    }

    // MARK: - Pieces

    static func channelName(type: String) -> String {
        switch type {
        case "telegram": "Telegram"
        case "whatsapp": "WhatsApp"
        case "widget": "Web chat"
        case "email": "Email"
        case "http": "HTTP"
        default: type.prefix(1).uppercased() + type.dropFirst()
        }
    }

    static func initials(_ name: String) -> String {
        let words = name.split(whereSeparator: { $0.isWhitespace || $0.isPunctuation }).filter { $0.first?.isLetter == true }
        let letters = words.prefix(2).compactMap(\.first).map { String($0).uppercased() }.joined()
        return letters.isEmpty ? "#" : letters
    }

    static func formatted(_ number: Int) -> String {
        number.formatted(.number.grouping(.automatic).locale(Locale(identifier: "en_US")))
    }

    /// Why a reminder was scheduled, moved, skipped or stopped, in words.
    static func reasonText(_ reason: ReasonCode) -> String {
        switch reason {
        case .employeeMessage: "the employee's message is the last in the chat"
        case .previousReminderSent: "the previous reminder was sent"
        case .outsideWorkingHours: "the due time is outside working hours"
        case .pulledIntoWindow: "pulled in before the channel's reply window closes"
        case .reengagementTemplate: "the channel's window will be closed, so its re-engagement template goes instead"
        case .windowClosed: "the channel's reply window is closed"
        case .oncePerChatFired: "this step runs once per chat and already ran"
        case .followUpDisabled: "Auto Follow-up is off for the employee"
        case .chatDisabled: "an admin switched follow-up off for this chat"
        case .chatEnabled: "an admin switched follow-up on for this chat"
        case .clientReplied: "the client replied"
        case .clientOptedOut: "the client asked not to get reminders"
        case .operatorActive: "a human operator is handling the chat"
        case .chatUnreachable: "the client cannot be reached (blocked or left)"
        case .tokenBudgetSpent: "the employee's daily token budget for follow-ups is spent"
        case .deliveryFailed: "delivery failed"
        case .chainChanged: "the employee's chain changed in config"
        case .chainComplete: "every step has run"
        case .noWorkingTime: "there is no working time ahead"
        case .compositionFailed: "the model could not compose the reminder"
        case .channelUnavailable: "the chat's channel is not running; the reminder waits until it is back"
        case .replyBudgetSpent: "the employee's daily token budget for AI replies is spent, so the client got the budget reply instead"
        }
    }
}

/// Instants as the pages show them: in an employee's time zone, with UTC on hover and a
/// relative time against the gateway's clock.
struct TimeText {
    let now: Date

    private static func formatter(_ format: String, _ zone: TimeZone) -> DateFormatter {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_GB")
        formatter.timeZone = zone
        formatter.dateFormat = format
        return formatter
    }

    /// `Mon 23 Nov, 13:00`
    func local(_ date: Date, _ zone: TimeZone) -> String { Self.formatter("EEE d MMM, HH:mm", zone).string(from: date) }
    /// `13:00`
    func clock(_ date: Date, _ zone: TimeZone = .gmt) -> String { Self.formatter("HH:mm", zone).string(from: date) + (zone == .gmt ? " UTC" : "") }
    /// `Monday 23 November 2026`
    func day(_ date: Date, _ zone: TimeZone) -> String { Self.formatter("EEEE d MMMM yyyy", zone).string(from: date) }
    /// `2026-11-23 10:00 UTC`
    func utc(_ date: Date) -> String { Self.formatter("yyyy-MM-dd HH:mm", .gmt).string(from: date) + " UTC" }

    /// `just now`, `12 min ago`, `3 h ago`, `2 days ago`: how long since a past instant.
    func ago(_ date: Date) -> String {
        let seconds = Int(now.timeIntervalSince(date).rounded())
        if seconds < 60 { return "just now" }
        let minutes = seconds / 60
        if minutes < 60 { return "\(minutes) min ago" }
        let hours = minutes / 60
        if hours < 24 { return "\(hours) h ago" }
        let days = hours / 24
        return days == 1 ? "yesterday" : "\(days) days ago"
    }

    /// `in 3 h 20 min`, `in 2 days`, `due now`.
    func relative(_ date: Date) -> String {
        let seconds = Int(date.timeIntervalSince(now).rounded())
        if seconds <= 30 { return "due now" }
        let minutes = (seconds + 59) / 60
        if minutes < 60 { return "in \(minutes) min" }
        let hours = minutes / 60
        if hours < 24 { return minutes % 60 == 0 ? "in \(hours) h" : "in \(hours) h \(minutes % 60) min" }
        let days = hours / 24
        return hours % 24 == 0 ? "in \(days) day\(days == 1 ? "" : "s")" : "in \(days) d \(hours % 24) h"
    }
}

/// Small inline icons (no image requests, nothing for the CSP to allow).
enum Icon {
    static let logo: HTML = """
        <svg class="logo" viewBox="0 0 24 24" width="24" height="24" aria-hidden="true"><rect width="24" height="24" rx="7" fill="currentColor"/><path d="M7 9.5h10M7 14.5h6" stroke="#fff" stroke-width="2.2" stroke-linecap="round"/><circle cx="16.5" cy="14.5" r="1.6" fill="#fff"/></svg>
        """
    static let search: HTML = """
        <svg class="icon" viewBox="0 0 20 20" width="18" height="18" aria-hidden="true"><circle cx="9" cy="9" r="6" fill="none" stroke="currentColor" stroke-width="1.8"/><path d="m13.5 13.5 4 4" stroke="currentColor" stroke-width="1.8" stroke-linecap="round"/></svg>
        """
    static let back: HTML = """
        <svg viewBox="0 0 20 20" width="16" height="16" aria-hidden="true"><path d="M12.5 4.5 7 10l5.5 5.5" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round"/></svg>
        """
    static let calm: HTML = """
        <svg class="empty-icon" viewBox="0 0 48 48" width="48" height="48" aria-hidden="true"><rect x="6" y="10" width="36" height="30" rx="6" fill="none" stroke="currentColor" stroke-width="2"/><path d="M6 18h36M16 6v8M32 6v8" stroke="currentColor" stroke-width="2" stroke-linecap="round"/><path d="m18 29 4 4 8-8" fill="none" stroke="currentColor" stroke-width="2.2" stroke-linecap="round" stroke-linejoin="round"/></svg>
        """
    static let info: HTML = """
        <svg class="empty-icon" viewBox="0 0 48 48" width="48" height="48" aria-hidden="true"><circle cx="24" cy="24" r="18" fill="none" stroke="currentColor" stroke-width="2"/><path d="M24 22v11" stroke="currentColor" stroke-width="2.4" stroke-linecap="round"/><circle cx="24" cy="16" r="1.8" fill="currentColor"/></svg>
        """
}
