import AsyncHTTPClient
import Foundation
import NIOCore
import SwitchboardCore
import Synchronization
import Testing

extension GatewayHarness {
    /// Alexey (Moscow), Мария (Yerevan, a two-step chain) and Sam (no follow-ups).
    static let team = alexey + "\n" + """
          - id: maria
            name: Мария
            persona: Reception at the Riverside hotel.
            working_hours:
              timezone: Asia/Yerevan
              week: { mon: ["08:00-20:00"], tue: ["08:00-20:00"], wed: ["08:00-20:00"], thu: ["08:00-20:00"], fri: ["08:00-20:00"] }
            auto_followup:
              enabled: true
              steps:
                - { delay: { hours: 2 }, instruction: "Ask whether the booking question is settled" }
                - { delay: { hours: 24 }, instruction: "Say goodbye warmly" }
          - id: sam
            name: Sam
            persona: Night desk.
            working_hours:
              timezone: UTC
              week: { mon: ["00:00-23:59"] }
        """

    /// A chat where the client wrote, the employee answered at `repliedAt` and the planner armed
    /// the chain — the state a chat is in when it shows up on the Follow-ups page.
    @discardableResult
    func seedScheduledChat(key: String, client: String, title: String? = nil, employee: String = "alexey", repliedAt: Date) async throws -> Chat {
        let store = gateway.store
        guard let person = gateway.roster.roster.employees[employee] else { throw SeedError(message: "no employee \(employee)") }
        let message = InboundMessage(
            channelID: "tg", conversationKey: key, providerMessageID: "seed-\(key)", senderName: client, chatTitle: title ?? client,
            receivedAt: repliedAt.addingTimeInterval(-120), text: "Hello, is the room still available?")
        guard case .stored(let chat, _) = try await store.recordInbound(message, employeeID: employee, followUp: { _, _ in [] }) else {
            throw SeedError(message: "chat \(key) already seeded")
        }
        let planner = FollowUpPlanner(employee: person)
        _ = try await store.appendMessage(NewMessage(chatID: chat.id, author: .employee, text: "Yes, it is. Shall I book it for you?", at: repliedAt)) { state, _ in
            planner.apply(.employeeMessage(at: repliedAt), to: &state, facts: .init())
        }
        return chat
    }

    /// The client of a seeded chat writes again, which cancels the pending reminder.
    func seedClientAnswer(key: String, at time: Date) async throws {
        guard let chat = try await gateway.store.chat(channelID: "tg", conversationKey: key),
            let person = gateway.roster.roster.employees[chat.employeeID]
        else { throw SeedError(message: "no seeded chat \(key)") }
        let planner = FollowUpPlanner(employee: person)
        let message = InboundMessage(channelID: "tg", conversationKey: key, providerMessageID: "seed-\(key)-answer", receivedAt: time, text: "Thanks!")
        _ = try await gateway.store.recordInbound(message, employeeID: chat.employeeID) { state, _ in
            planner.apply(.clientMessage(at: time, text: "Thanks!"), to: &state, facts: .init())
        }
    }

    /// A client with a private browser: cookies kept, redirects not followed.
    func pageClient() -> PageClient { PageClient(baseURL: baseURL) }
}

struct SeedError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

/// Talks to the admin pages like a browser would, minus the rendering.
final class PageClient: Sendable {
    struct Reply: Sendable {
        var status: Int
        /// Header values by lowercased name (the last one of a repeated header).
        var headers: [String: String]
        var setCookies: [String]
        var body: String
        var location: String? { headers["location"] }
    }

    let baseURL: String
    private let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(redirectConfiguration: .disallow))
    private let cookie = Mutex<String?>(nil)

    init(baseURL: String) { self.baseURL = baseURL }

    var sessionCookie: String? { cookie.withLock { $0 } }

    func get(_ path: String, headers: [(String, String)] = []) async throws -> Reply {
        try await send(HTTPClientRequest(url: baseURL + path), headers: headers)
    }

    func postForm(_ path: String, _ fields: [(String, String)], headers: [(String, String)] = []) async throws -> Reply {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = .POST
        let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-._~"))
        let body = fields.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")" }.joined(separator: "&")
        request.body = .bytes(ByteBuffer(string: body))
        return try await send(request, headers: [("Content-Type", "application/x-www-form-urlencoded")] + headers)
    }

    /// Signs in with `token`; returns the sign-in response.
    @discardableResult
    func signIn(token: String = GatewayHarness.adminToken, next: String = "/followups") async throws -> Reply {
        try await postForm("/signin", [("token", token), ("next", next)])
    }

    /// The CSRF token of a page's forms.
    static func csrf(in html: String) -> String? {
        guard let range = html.range(of: #"name="csrf" value=""#) else { return nil }
        return String(html[range.upperBound...].prefix { $0 != "\"" })
    }

    private func send(_ request: HTTPClientRequest, headers: [(String, String)]) async throws -> Reply {
        var request = request
        if let cookie = sessionCookie { request.headers.add(name: "Cookie", value: cookie) }
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        let response = try await client.execute(request, timeout: .seconds(10))
        let body = String(buffer: try await response.body.collect(upTo: 1 << 22))
        for header in response.headers[canonicalForm: "Set-Cookie"] {
            guard let pair = header.split(separator: ";").first else { continue }
            let value = String(pair)
            cookie.withLock { $0 = value.hasSuffix("=") ? nil : value }
        }
        var fields: [String: String] = [:]
        for header in response.headers { fields[header.name.lowercased()] = header.value }
        return Reply(status: Int(response.status.code), headers: fields, setCookies: response.headers["Set-Cookie"], body: body)
    }

    func shutdown() async {
        try? await client.shutdown()
    }
}
