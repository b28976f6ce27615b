import Foundation
import Hummingbird
import NIOCore
import SwitchboardCore

/// The console pages written as templates: the Chats inbox, usage, and the chat page's
/// composer actions (reply as the employee, resume the AI). Behind the admin sign-in; every
/// form is same-site and carries the session's CSRF token (`PageAuth.checkForm`).
struct ConsoleRoutes<Context: RequestContext>: Sendable {
    let gateway: Gateway
    let auth: PageAuth
    let templates = ConsoleTemplates.shared

    var collection: RouteCollection<Context> {
        let routes = RouteCollection(context: Context.self)
        routes.get("chats") { request, _ in try await inbox(request) }
        routes.get("chats/rows") { request, _ in try await inboxRows(request) }
        routes.post("chats/{id}/messages") { request, context in try await reply(request, context: context) }
        routes.post("chats/{id}/resume-ai") { request, context in try await resumeAI(request, context: context) }
        routes.get("usage") { request, _ in try await usage(request) }
        routes.get("employees") { request, _ in try await employees(request) }
        routes.get("employees/{id}") { request, context in try await employee(request, context: context) }
        return routes
    }

    // MARK: - Chats inbox

    func inbox(_ request: Request) async throws -> Response {
        guard let (_, session) = try await auth.session(request) else { return Gateway.signInRedirect(request) }
        do {
            let model = try await inboxModel(request, csrf: session.csrfToken)
            return htmlResponse(templates.render(model, "inbox"))
        } catch let error as HTTPError {
            return htmlResponse(PageViews.message(title: "Not shown", text: error.body ?? "bad request", csrf: session.csrfToken), status: error.status)
        }
    }

    func inboxRows(_ request: Request) async throws -> Response {
        guard let (_, session) = try await auth.session(request) else { return htmlResponse("<p>Sign in again.</p>", status: .unauthorized) }
        return htmlResponse(templates.render(try await inboxModel(request, csrf: session.csrfToken), "inbox_rows"))
    }

    func inboxModel(_ request: Request, csrf: String) async throws -> InboxPageModel {
        let query = request.queryValues
        // Stale links (an employee or channel that left config) show everything, not an error.
        let roster = gateway.roster.roster
        var filters = try gateway.inboxFilters(query)
        if let employee = filters.employeeID, roster.employees[employee] == nil { filters.employeeID = nil }
        if let channel = filters.channelID, roster.channelOwners[channel] == nil { filters.channelID = nil }
        let page = try await gateway.chatInbox(filters, limit: inboxPageSize)
        return InboxPageModel(page: page, filters: filters, roster: roster, channelTypes: gateway.channels.types, csrf: csrf, now: gateway.clock.now())
    }

    // MARK: - Reply as the employee

    /// The composer's form: the same operator path as `POST /api/chats/{id}/messages`, so the
    /// AI pauses and the message goes through the outbox like any other.
    func reply(_ request: Request, context: Context) async throws -> Response {
        let id = try context.parameters.require("id")
        guard try await auth.session(request) != nil else { return Gateway.signInRedirect(request, next: "/chats/\(id)") }
        let form = try await Gateway.readForm(request)
        let signedIn: (id: String, session: AdminSessions.Session)
        do {
            signedIn = try await auth.checkForm(request, form: form)
        } catch let error as HTTPError {
            return htmlResponse(PageViews.message(title: "Not sent", text: error.body ?? "refused", csrf: nil), status: error.status)
        }
        let text = (form["text"] ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty else {
            return htmlResponse(
                PageViews.message(title: "Not sent", text: "The message was empty.", csrf: signedIn.session.csrfToken), status: .badRequest)
        }
        guard try await gateway.store.chat(id: id) != nil else {
            return htmlResponse(PageViews.message(title: "No such chat", text: "There is no chat \(id).", csrf: signedIn.session.csrfToken), status: .notFound)
        }
        _ = try await gateway.conversation.sendOperatorMessage(chatID: id, text: text)
        context.logger.info("operator replied from the console", metadata: ["chat.id": "\(id)"])
        return redirect(to: "/chats/\(id)#composer")
    }

    func resumeAI(_ request: Request, context: Context) async throws -> Response {
        let id = try context.parameters.require("id")
        guard try await auth.session(request) != nil else { return Gateway.signInRedirect(request, next: "/chats/\(id)") }
        let form = try await Gateway.readForm(request)
        do {
            _ = try await auth.checkForm(request, form: form)
        } catch let error as HTTPError {
            return htmlResponse(PageViews.message(title: "Not changed", text: error.body ?? "refused", csrf: nil), status: error.status)
        }
        guard try await gateway.store.chat(id: id) != nil else { return redirect(to: "/chats") }
        _ = try await gateway.conversation.resumeAI(chatID: id)
        return redirect(to: "/chats/\(id)#composer")
    }

    // MARK: - Employees

    func employees(_ request: Request) async throws -> Response {
        guard let (_, session) = try await auth.session(request) else { return Gateway.signInRedirect(request) }
        let model = EmployeesPageModel(config: gateway.currentConfig, roster: gateway.roster.roster, csrf: session.csrfToken, now: gateway.clock.now())
        return htmlResponse(templates.render(model, "employees"))
    }

    func employee(_ request: Request, context: Context) async throws -> Response {
        guard let (_, session) = try await auth.session(request) else { return Gateway.signInRedirect(request) }
        let id = try context.parameters.require("id")
        let roster = gateway.roster.roster
        guard let employee = roster.employees[id] else {
            return htmlResponse(
                PageViews.message(title: "No such employee", text: "There is no employee \(id) in config.yaml.", csrf: session.csrfToken), status: .notFound)
        }
        let tab = request.queryValues["tab"].flatMap(EmployeePageModel.Tab.init(rawValue:)) ?? .persona
        let now = gateway.clock.now()
        var facts = EmployeePageModel.Facts(usage: try await gateway.usageChart(for: employee))
        let owned = roster.channelOwners.filter { $0.value == id }.keys.sorted()
        facts.channelTypes = gateway.channels.types
        facts.channelHealth = Dictionary(gateway.channels.health.map { ($0.id, $0.health.problem) }, uniquingKeysWith: { a, _ in a })
        facts.enabledChannels = Set(gateway.currentConfig.channels.filter(\.enabled).map(\.id))
        switch tab {
        case .channels:
            for channel in owned {
                // The newest chat of the channel carries its latest message time (an index lookup).
                if let row = try await gateway.store.chatInbox(ChatInboxQuery(channelID: channel, limit: 1)).items.first {
                    facts.lastMessages[channel] = row.lastActivityAt
                }
            }
        case .chats:
            let filters = InboxPageModel.Filters(employeeID: id, channelID: nil, state: nil, search: "", after: nil)
            var chats = InboxPageModel(
                page: try await gateway.chatInbox(filters, limit: inboxPageSize), filters: filters, roster: roster,
                channelTypes: gateway.channels.types, csrf: session.csrfToken, now: now)
            // The employee is the page, not a filter the operator set: an empty list is news.
            chats.filtered = false
            chats.emptyTitle = "No chats yet"
            chats.emptyText = "\(employee.name)'s chats appear here with the first message a client sends on one of their channels."
            if chats.nextHref != nil { chats.countText += " · the inbox has the rest" }
            chats.nextHref = nil
            facts.chats = chats
        case .followup:
            let hours = employee.workingHours
            facts.followUpTokensToday = try await gateway.store.tokenUsage(
                employeeID: id, purpose: .reminder, from: hours.startOfDay(containing: now), to: .distantFuture
            ).totalTokens
        case .persona, .hours:
            break
        }
        let model = EmployeePageModel(
            employee: employee, tab: tab, config: gateway.currentConfig, roster: roster, facts: facts, csrf: session.csrfToken, now: now)
        return htmlResponse(templates.render(model, "employee"))
    }

    // MARK: - Usage

    func usage(_ request: Request) async throws -> Response {
        guard let (_, session) = try await auth.session(request) else { return Gateway.signInRedirect(request) }
        let employees = gateway.roster.roster.employees.values.sorted { ($0.name, $0.id) < ($1.name, $1.id) }
        let only = request.queryValues["employee"].flatMap { $0.isEmpty ? nil : $0 }
        var charts: [UsageChartModel] = []
        for employee in employees where only == nil || only == employee.id {
            charts.append(try await gateway.usageChart(for: employee))
        }
        return htmlResponse(templates.render(UsagePageModel(charts: charts, csrf: session.csrfToken, days: Gateway.usageDays), "usage"))
    }
}

/// Page size of the inbox page, and of `GET /api/chats` unless `limit` says otherwise.
let inboxPageSize = 50
let inboxPageLimit = 500

extension Gateway {
    /// The inbox's query parameters (`employee`, `channel`, `state`, `search`, `after`), validated
    /// with errors that say what is accepted.
    func inboxFilters(_ query: [String: String]) throws -> InboxPageModel.Filters {
        func value(_ name: String) -> String? { query[name].flatMap { $0.isEmpty ? nil : $0 } }
        let search = String((query["search"] ?? "").prefix(201))
        if search.count > 200 { throw HTTPError(.badRequest, message: "search is limited to 200 characters") }
        var state: ChatInboxState?
        if let text = value("state") {
            guard let parsed = ChatInboxState(rawValue: text) else {
                throw HTTPError(.badRequest, message: "state must be one of: \(ChatInboxState.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            state = parsed
        }
        var after: ChatInboxCursor?
        if let token = value("after") {
            guard let cursor = ChatInboxCursor(token: token) else {
                throw HTTPError(.badRequest, message: "after must be the `next` value of a previous page")
            }
            after = cursor
        }
        return InboxPageModel.Filters(employeeID: value("employee"), channelID: value("channel"), state: state, search: search, after: after)
    }

    func chatInbox(_ filters: InboxPageModel.Filters, limit: Int) async throws -> ChatInboxPage {
        try await ChatInboxListing(store: store, roster: roster).list(
            employeeID: filters.employeeID, channelID: filters.channelID, state: filters.state, search: filters.search, after: filters.after,
            limit: limit)
    }
}
