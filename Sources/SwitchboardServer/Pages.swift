import Foundation
import Hummingbird
import NIOCore
import SwitchboardChannelKit
import SwitchboardCore

/// The admin pages' sign-in state and the checks every page request goes through.
struct PageAuth: Sendable {
    let access: AdminAccess
    let clients: ClientAddressResolver
    /// Cookies get `Secure` when the gateway is reached over HTTPS.
    let publicURLIsHTTPS: Bool

    var sessions: AdminSessions { access.sessions }
    var limiter: SignInLimiter { access.limiter }

    /// The signed-in session of this request, if any.
    func session(_ request: Request) async throws -> (id: String, session: AdminSessions.Session)? {
        guard let token = access.current, let id = request.cookies[AdminSessions.cookieName]?.value,
            let session = try await sessions.session(id: id, token: token)
        else { return nil }
        return (id, session)
    }

    /// A state-changing form must come from our own page: same-site, and carrying the
    /// session's CSRF token.
    func checkForm(_ request: Request, form: [String: String]) async throws -> (id: String, session: AdminSessions.Session) {
        guard let signedIn = try await session(request) else { throw HTTPError(.unauthorized, message: "sign in first") }
        if let site = request.headers[.secFetchSiteHeader], site != "same-origin", site != "none" {
            throw HTTPError(.forbidden, message: "cross-site form refused")
        }
        guard let presented = form["csrf"], constantTimeEquals(Array(presented.utf8), Array(signedIn.session.csrfToken.utf8)) else {
            throw HTTPError(.forbidden, message: "this form has expired: reload the page and try again")
        }
        return signedIn
    }

    func cookie(value: String, maxAge: Int, request: Request) -> Cookie {
        let secure = publicURLIsHTTPS || request.headers[.xForwardedProtoHeader]?.lowercased() == "https"
        return Cookie(name: AdminSessions.cookieName, value: value, maxAge: maxAge, path: "/", secure: secure, httpOnly: true, sameSite: .strict)
    }

    /// Where to go after signing in: a path on this gateway, nothing else. Browsers drop tabs
    /// and newlines from a `Location` and read a backslash as `/`, so `/%09/evil.example` would become
    /// `//evil.example`, another site. The value is judged after percent-decoding (repeatedly,
    /// so an encoded `%2F` cannot hide a slash): it must start with one `/`, and contain no `//`,
    /// no backslash and no control or invisible formatting characters.
    static func safeNext(_ next: String?) -> String {
        let fallback = "/followups"
        guard let next, next.hasPrefix("/"), next.utf8.count <= 2048 else { return fallback }
        var decoded = next
        for _ in 0..<4 {
            guard isSafePath(decoded) else { return fallback }
            guard decoded.contains("%") else { return next }
            // Malformed percent-encoding is not a path we made.
            guard let once = decoded.removingPercentEncoding else { return fallback }
            if once == decoded { return next }
            decoded = once
        }
        return fallback
    }

    private static func isSafePath(_ path: String) -> Bool {
        guard path.hasPrefix("/"), !path.contains("//"), !path.contains("\\") else { return false }
        return path.unicodeScalars.allSatisfy { scalar in
            switch scalar.properties.generalCategory {
            case .control, .format, .lineSeparator, .paragraphSeparator: false
            default: true
            }
        }
    }
}

/// The admin pages: sign-in, `/followups`, `/chats/{id}` and their assets, plus the console's
/// template pages (`ConsoleRoutes`). Server-rendered from the same queries as the admin API;
/// they work without JavaScript, which only adds live search and refreshing.
struct PageRoutes<Context: RequestContext>: Sendable {
    let gateway: Gateway

    var collection: RouteCollection<Context> {
        let router = RouteCollection(context: Context.self)
        let auth = PageAuth(
            access: gateway.adminAccess, clients: gateway.clientAddresses,
            publicURLIsHTTPS: gateway.config.server.publicURL?.lowercased().hasPrefix("https://") ?? false)
        router.addRoutes(ConsoleRoutes<Context>(gateway: gateway, auth: auth).collection)

        router.get("/admin/assets/admin.css") { _, _ in
            Gateway.asset(AdminAssets.css, type: "text/css; charset=utf-8")
        }
        router.get("/admin/assets/admin.js") { _, _ in
            Gateway.asset(AdminAssets.js, type: "text/javascript; charset=utf-8")
        }

        router.get("/signin") { request, _ -> Response in
            let next = PageAuth.safeNext(request.queryValues["next"])
            if try await auth.session(request) != nil { return redirect(to: next) }
            let closed = auth.access.current == nil
            return htmlResponse(PageViews.signIn(next: next, error: nil, closed: closed), status: closed ? .forbidden : .ok)
        }

        router.post("/signin") { request, context -> Response in
            let form = try await Gateway.readForm(request)
            let next = PageAuth.safeNext(form["next"])
            guard auth.access.current != nil else {
                return htmlResponse(PageViews.signIn(next: next, error: nil, closed: true), status: .forbidden)
            }
            let client = auth.clients.client(request, context: context)
            if let wait = try await auth.limiter.retryAfter(client: client) {
                let minutes = max(1, Int((wait.seconds / 60).rounded(.up)))
                // Logged as a warning once, when the client became limited; not on every retry.
                context.logger.debug("sign-in refused: too many failed attempts")
                return htmlResponse(
                    PageViews.signIn(next: next, error: "Too many failed sign-ins. Try again in \(minutes) minute\(minutes == 1 ? "" : "s").", closed: false),
                    status: .tooManyRequests, headers: [.retryAfter: "\(Int(wait.seconds.rounded(.up)))"])
            }
            guard let presented = form["token"], auth.access.accepts(presented), let token = auth.access.current else {
                try await auth.limiter.recordFailure(client: client)
                context.logger.notice("sign-in failed: wrong admin token")
                if try await auth.limiter.retryAfter(client: client) != nil {
                    context.logger.warning("sign-in: a client is refused for a while after too many wrong tokens")
                }
                return htmlResponse(PageViews.signIn(next: next, error: "That token is not right.", closed: false), status: .unauthorized)
            }
            try await auth.limiter.recordSuccess(client: client)
            let (id, _) = try await auth.sessions.start(token: token)
            var response = redirect(to: next)
            response.setCookie(auth.cookie(value: id, maxAge: Int(AdminSessions.lifetime.seconds), request: request))
            context.logger.info("admin signed in")
            return response
        }

        router.post("/signout") { request, _ -> Response in
            let form = try await Gateway.readForm(request)
            if let (id, _) = try? await auth.checkForm(request, form: form) { try await auth.sessions.end(id: id) }
            var response = redirect(to: "/signin")
            response.setCookie(auth.cookie(value: "", maxAge: 0, request: request))
            return response
        }

        router.get("/followups") { request, context -> Response in
            guard let (_, session) = try await auth.session(request) else { return Gateway.signInRedirect(request) }
            let model = try await gateway.followUpListModel(request)
            return htmlResponse(PageViews.followUps(model, csrf: session.csrfToken))
        }

        router.get("/followups/rows") { request, _ -> Response in
            guard try await auth.session(request) != nil else { return htmlResponse("<p>Sign in again.</p>", status: .unauthorized) }
            return htmlResponse(PageViews.followUpResults(try await gateway.followUpListModel(request)))
        }

        router.get("/chats/{id}") { request, context -> Response in
            guard let (_, session) = try await auth.session(request) else { return Gateway.signInRedirect(request) }
            let id = try context.parameters.require("id")
            guard let detail = try await gateway.chatDetail(id: id) else {
                return htmlResponse(
                    PageViews.message(title: "No such chat", text: "There is no chat \(id). It may have been removed.", csrf: session.csrfToken),
                    status: .notFound)
            }
            return htmlResponse(
                PageViews.chat(
                    detail, csrf: session.csrfToken, now: gateway.clock.now(), operatorPause: gateway.currentConfig.conversation.operatorPause))
        }

        router.post("/chats/{id}/followup") { request, context -> Response in
            let id = try context.parameters.require("id")
            // The session cookie first: a request without one costs no body bytes.
            guard try await auth.session(request) != nil else { return Gateway.signInRedirect(request, next: "/chats/\(id)") }
            let form = try await Gateway.readForm(request)
            let signedIn: (id: String, session: AdminSessions.Session)
            do {
                signedIn = try await auth.checkForm(request, form: form)
            } catch let error as HTTPError {
                return htmlResponse(PageViews.message(title: "Not changed", text: error.body ?? "refused", csrf: nil), status: error.status)
            }
            guard let enabled = form["enabled"].flatMap(Bool.init) else {
                return htmlResponse(PageViews.message(title: "Not changed", text: "The form was incomplete.", csrf: signedIn.session.csrfToken), status: .badRequest)
            }
            try await gateway.setFollowUp(chatID: id, enabled: enabled, context: context)
            return redirect(to: "/chats/\(id)")
        }
        return router
    }
}

extension Gateway {
    func followUpListModel(_ request: Request) async throws -> PageViews.ListModel {
        let query = request.queryValues
        let employees = roster.roster.employees.values.sorted { ($0.name, $0.id) < ($1.name, $1.id) }
        // A stale link with an employee who left config shows everyone rather than an error.
        let employeeID = query["employee"].flatMap { roster.roster.employees[$0] == nil ? nil : $0 } ?? ""
        let search = String((query["search"] ?? "").prefix(200))
        let listing = FollowUpListing(store: store, roster: roster)
        let (items, total) = try await listing.list(employeeID: employeeID.isEmpty ? nil : employeeID, search: search, limit: followUpPageSize)
        let filtered = !employeeID.isEmpty || !search.trimmingCharacters(in: .whitespaces).isEmpty
        let channelTypes = channels.types
        return PageViews.ListModel(
            items: items, total: total, search: search, employeeID: employeeID, employees: employees, channelTypes: channelTypes,
            emptyExplanation: listing.emptyExplanation(filtered: filtered), now: clock.now())
    }

    static func signInRedirect(_ request: Request, next: String? = nil) -> Response {
        let target = next ?? (request.uri.path + (request.uri.query.map { "?" + $0 } ?? ""))
        let encoded = target.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~/"))) ?? "/followups"
        return redirect(to: "/signin?next=" + encoded)
    }

    static func readForm(_ request: Request) async throws -> [String: String] {
        do {
            let body = try await request.body.collect(upTo: adminBodyLimit)
            return FormValues.parse(String(buffer: body))
        } catch is NIOTooManyBytesError {
            throw HTTPError(.contentTooLarge, message: "form over \(adminBodyLimit) bytes")
        }
    }

    static func asset(_ text: String, type: String) -> Response {
        Response(
            status: .ok,
            headers: [.contentType: type, .cacheControl: "public, max-age=86400", .xContentTypeOptions: "nosniff"],
            body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}
