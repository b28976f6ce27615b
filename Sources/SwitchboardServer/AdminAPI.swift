import Foundation
import Hummingbird
import NIOCore
import SwitchboardChannelKit
import SwitchboardCore

/// Refuses admin requests without `Authorization: Bearer <admin token>`. Failed tokens count
/// per client (the peer address, or a trusted proxy's `X-Forwarded-For`) in the same limiter as
/// the sign-in form; a limited client gets 429 without its token being checked, and nobody
/// else's failures ever limit a client.
struct BearerAuthMiddleware<Context: RequestContext>: RouterMiddleware {
    let access: AdminAccess
    let clients: ClientAddressResolver

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard access.current != nil else {
            throw HTTPError(.forbidden, message: "the admin API is closed: set admin.token in config.yaml")
        }
        let client = clients.client(request, context: context)
        if let wait = try await access.limiter.retryAfter(client: client) {
            // Every refused request would be a warning an attacker could repeat at will: the
            // warning is logged once, when the client becomes limited (below).
            context.logger.debug("admin API refused: too many failed tokens from this client")
            throw HTTPError(.tooManyRequests, headers: [.retryAfter: "\(Int(wait.seconds.rounded(.up)))"], message: "too many wrong tokens; try again later")
        }
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer "), access.accepts(header.dropFirst("Bearer ".count)) else {
            // Only a presented token is a guess; a request without one is not counted.
            if request.headers[.authorization] != nil {
                try await access.limiter.recordFailure(client: client)
                if try await access.limiter.retryAfter(client: client) != nil {
                    context.logger.warning("admin API: a client is refused for a while after too many wrong tokens")
                }
            }
            throw HTTPError(.unauthorized, headers: [.wwwAuthenticate: "Bearer"], message: "missing or wrong admin token")
        }
        try await access.limiter.recordSuccess(client: client)
        return try await next(request, context)
    }
}

struct OperatorMessage: Decodable {
    var text: String
}

struct FollowUpSwitch: Decodable {
    var enabled: Bool
}

/// `GET /api/usage`: an employee's token usage over a period, per day of the employee's calendar.
struct UsageReport: Encodable, Sendable {
    struct Day: Encodable, Sendable {
        var date: String
        var promptTokens: Int
        var completionTokens: Int
        var totalTokens: Int

        enum CodingKeys: String, CodingKey {
            case date, promptTokens = "prompt_tokens", completionTokens = "completion_tokens", totalTokens = "total_tokens"
        }
    }

    var employeeID: String
    var timeZone: String
    var from: Date
    var to: Date
    var promptTokens: Int
    var completionTokens: Int
    var totalTokens: Int
    var byPurpose: [String: UsageView]
    var byDay: [Day]

    enum CodingKeys: String, CodingKey {
        case employeeID = "employee_id", timeZone = "time_zone", from, to, promptTokens = "prompt_tokens", completionTokens = "completion_tokens"
        case totalTokens = "total_tokens", byPurpose = "by_purpose", byDay = "by_day"
    }
}

/// Page size of `GET /api/followups` unless `limit` says otherwise, and the most it may say.
let followUpPageSize = 100
let followUpPageLimit = 1000

/// The admin API (mounted at `/api/`), behind the admin token. The console's pages and
/// `switchboard followups` show the same data through the same queries.
struct AdminAPIRoutes<Context: RequestContext>: Sendable {
    let gateway: Gateway

    var collection: RouteCollection<Context> {
        let api = RouteCollection(context: Context.self)
            .add(middleware: BearerAuthMiddleware<Context>(access: gateway.adminAccess, clients: gateway.clientAddresses))

        api.get("/employees") { _, _ -> Response in
            try jsonResponse(gateway.employeeViews())
        }

        api.get("/followups") { request, _ -> Response in
            let query = request.queryValues
            let (items, total) = try await gateway.followUpList(employee: query["employee"], search: query["search"], limit: query["limit"])
            return try jsonResponse(FollowUpListView(items: items, total: total))
        }

        api.get("/chats") { request, _ -> Response in
            let query = request.queryValues
            var limit = inboxPageSize
            if let text = query["limit"] {
                guard let value = Int(text), (1...inboxPageLimit).contains(value) else {
                    throw HTTPError(.badRequest, message: "limit must be a number from 1 to \(inboxPageLimit)")
                }
                limit = value
            }
            let filters = try gateway.inboxFilters(query)
            if let channel = filters.channelID, gateway.roster.roster.channelOwners[channel] == nil {
                throw HTTPError(.badRequest, message: "unknown channel '\(channel)'; channels: \(gateway.roster.roster.channelOwners.keys.sorted().joined(separator: ", "))")
            }
            do {
                return try jsonResponse(ChatListView(try await gateway.chatInbox(filters, limit: limit), roster: gateway.roster.roster, channelTypes: gateway.channels.types))
            } catch let unknown as FollowUpListing.UnknownEmployee {
                throw HTTPError(.badRequest, message: "unknown employee '\(unknown.id)': GET /api/employees lists them")
            }
        }

        api.post("/chats/{id}/resume-ai") { _, context -> Response in
            let id = try context.parameters.require("id")
            guard try await gateway.store.chat(id: id) != nil else { throw HTTPError(.notFound, message: "no chat \(id)") }
            let chat = try await gateway.conversation.resumeAI(chatID: id)
            return try jsonResponse(AIPauseView(chatID: id, aiPausedUntil: chat.aiPausedUntil, now: gateway.clock.now()))
        }

        api.get("/chats/{id}") { _, context -> Response in
            let id = try context.parameters.require("id")
            guard let detail = try await gateway.chatDetail(id: id) else { throw HTTPError(.notFound, message: "no chat \(id)") }
            return try jsonResponse(detail)
        }

        api.post("/chats/{id}/followup") { request, context -> Response in
            let id = try context.parameters.require("id")
            let change = try await Gateway.decodeJSON(FollowUpSwitch.self, from: request, example: #"{"enabled": false}"#)
            try await gateway.setFollowUp(chatID: id, enabled: change.enabled, context: context)
            guard let detail = try await gateway.chatDetail(id: id) else { throw HTTPError(.notFound, message: "no chat \(id)") }
            return try jsonResponse(detail.followup)
        }

        api.post("/chats/{id}/messages") { request, context -> Response in
            let id = try context.parameters.require("id")
            let message = try await Gateway.decodeJSON(OperatorMessage.self, from: request, example: #"{"text": "Hello"}"#)
            let text = message.text.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !text.isEmpty else { throw HTTPError(.badRequest, message: "text must not be empty") }
            guard try await gateway.store.chat(id: id) != nil else { throw HTTPError(.notFound, message: "no chat \(id)") }
            let entry = try await gateway.conversation.sendOperatorMessage(chatID: id, text: text)
            let json = #"{"outbox_id": \#(entry.id), "status": "queued"}"#
            return Response(status: .accepted, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: json)))
        }

        api.get("/usage") { request, _ -> Response in
            try jsonResponse(try await gateway.usageReport(request.queryValues))
        }
        return api
    }
}

extension Gateway {
    /// The Follow-ups list for the API and the page, with their parameters validated.
    func followUpList(employee: String?, search: String?, limit: String? = nil) async throws -> (items: [FollowUpListItem], total: Int) {
        let employee = employee.flatMap { $0.isEmpty ? nil : $0 }
        if let search, search.count > 200 { throw HTTPError(.badRequest, message: "search is limited to 200 characters") }
        var pageSize = followUpPageSize
        if let limit {
            guard let value = Int(limit), (1...followUpPageLimit).contains(value) else {
                throw HTTPError(.badRequest, message: "limit must be a number from 1 to \(followUpPageLimit)")
            }
            pageSize = value
        }
        do {
            return try await FollowUpListing(store: store, roster: roster).list(employeeID: employee, search: search, limit: pageSize)
        } catch let unknown as FollowUpListing.UnknownEmployee {
            throw HTTPError(.badRequest, message: "unknown employee '\(unknown.id)': GET /api/employees lists them")
        }
    }

    /// Switches follow-up off or on for one chat (off cancels the pending reminder).
    func setFollowUp(chatID: String, enabled: Bool, context: some RequestContext) async throws {
        guard let chat = try await store.chat(id: chatID) else { throw HTTPError(.notFound, message: "no chat \(chatID)") }
        guard roster.roster.employees[chat.employeeID] != nil else {
            throw HTTPError(.conflict, message: "the chat's employee '\(chat.employeeID)' is no longer in config.yaml")
        }
        _ = try await conversation.setFollowUp(chatID: chatID, enabled: enabled)
        context.logger.info("follow-up switched for a chat", metadata: ["chat.id": "\(chatID)", "followup.enabled": "\(enabled)"])
    }

    /// `GET /api/usage?employee=ID[&from=DATE&to=DATE]`. Dates are days of the employee's
    /// calendar (`2026-11-23`, `to` inclusive) or ISO 8601 instants; the default is the last 30 days.
    func usageReport(_ query: [String: String]) async throws -> UsageReport {
        guard let employeeID = query["employee"], !employeeID.isEmpty else {
            throw HTTPError(.badRequest, message: "employee is required: GET /api/usage?employee=ID[&from=YYYY-MM-DD&to=YYYY-MM-DD]")
        }
        guard let employee = roster.roster.employees[employeeID] else {
            throw HTTPError(.notFound, message: "unknown employee '\(employeeID)': GET /api/employees lists them")
        }
        let hours = employee.workingHours
        func instant(_ name: String, endOfDay: Bool) throws -> Date? {
            guard let text = query[name], !text.isEmpty else { return nil }
            if let day = LocalDate(text) { return hours.instant(on: endOfDay ? day.adding(days: 1) : day, minutes: 0) }
            if let date = try? Date(text, strategy: Date.ISO8601FormatStyle()) { return date }
            throw HTTPError(.badRequest, message: "\(name) must be a date (2026-11-23) or an ISO 8601 instant (2026-11-23T10:00:00Z)")
        }
        let now = clock.now()
        let to = try instant("to", endOfDay: true) ?? now
        let from = try instant("from", endOfDay: false) ?? hours.instant(on: hours.localDate(of: now).adding(days: -29), minutes: 0)
        guard from < to else { throw HTTPError(.badRequest, message: "from must be before to") }

        async let daysQuery = store.tokenUsageByDay(employeeID: employeeID, from: from, to: to, timeZone: hours.timeZone)
        var byPurpose: [String: UsageView] = [:]
        for purpose in [UsagePurpose.reply, .reminder, .autoReply] {
            byPurpose[purpose.rawValue] = UsageView(try await store.tokenUsage(employeeID: employeeID, purpose: purpose, from: from, to: to))
        }
        let days = try await daysQuery
        let prompt = days.reduce(0) { $0 + $1.usage.promptTokens }
        let completion = days.reduce(0) { $0 + $1.usage.completionTokens }
        return UsageReport(
            employeeID: employeeID, timeZone: hours.timeZone.identifier, from: from, to: to, promptTokens: prompt, completionTokens: completion,
            totalTokens: prompt + completion, byPurpose: byPurpose,
            byDay: days.map {
                .init(date: $0.date.description, promptTokens: $0.usage.promptTokens, completionTokens: $0.usage.completionTokens, totalTokens: $0.usage.totalTokens)
            })
    }

    /// Reads a small JSON body, with a 4xx that says what was expected when it is not.
    static func decodeJSON<T: Decodable>(_ type: T.Type, from request: Request, example: String) async throws -> T {
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: adminBodyLimit)
        } catch is NIOTooManyBytesError {
            throw HTTPError(.contentTooLarge, message: "body over \(adminBodyLimit) bytes")
        }
        do {
            return try JSONDecoder().decode(T.self, from: Data(body.readableBytesView))
        } catch {
            throw HTTPError(.badRequest, message: "expected a JSON body like \(example)")
        }
    }
}
