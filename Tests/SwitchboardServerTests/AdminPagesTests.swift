import Foundation
import SwitchboardCore
import SwitchboardTesting
import Testing

private func at(_ iso: String) -> Date { parseISO(iso) }

/// The Follow-ups page and a chat's page over plain HTTP: sign-in, session cookie, CSRF,
/// rate limiting, and what the server renders. The browser test drives the same pages in Chromium.
@Suite(.serialized, .awaitedTeardown) struct AdminPagesTests {
    @Test func pagesSendStrangersToTheSignInForm() async throws {
        let h = try await GatewayHarness()
        onTeardown { await h.shutdown() }
        let page = h.pageClient()
        onTeardown { await page.shutdown() }

        let list = try await page.get("/followups?search=ana")
        #expect(list.status == 303 && list.location == "/signin?next=/followups%3Fsearch%3Dana")
        #expect(try await page.get("/chats/abc").location == "/signin?next=/chats/abc")
        #expect(try await page.get("/followups/rows").status == 401)
        let form = try await page.get("/signin?next=/followups")
        #expect(form.status == 200 && form.body.contains(#"name="token""#) && form.body.contains(#"type="password""#))
        #expect(!form.body.contains(GatewayHarness.adminToken))
        #expect(form.headers["content-security-policy"]?.contains("script-src 'self'") == true)
        #expect(form.headers["x-frame-options"] == "DENY")

        let wrong = try await page.signIn(token: "not-the-token")
        #expect(wrong.status == 401 && wrong.body.contains("That token is not right.") && page.sessionCookie == nil)

        let signedIn = try await page.signIn(next: "/followups?search=ana")
        #expect(signedIn.status == 303 && signedIn.location == "/followups?search=ana")
        let cookie = try #require(signedIn.setCookies.first)
        #expect(cookie.hasPrefix("switchboard_session="))
        #expect(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict") && cookie.contains("Path=/"))
        #expect(!cookie.contains("Secure"), "plain HTTP in tests; Secure behind HTTPS")
        #expect(!cookie.contains(GatewayHarness.adminToken), "the cookie is a session id, not the token")
        #expect(try await page.get("/followups").status == 200)

        #expect(try await page.signIn(next: "https://evil.example/").location == "/followups", "no open redirect")
        #expect(try await page.signIn(next: "//evil.example/").location == "/followups")
    }

    @Test func failedSignInsAreRateLimited() async throws {
        let h = try await GatewayHarness()
        onTeardown { await h.shutdown() }
        let page = h.pageClient()
        onTeardown { await page.shutdown() }
        for attempt in 1...5 {
            #expect(try await page.signIn(token: "guess-\(attempt)").status == 401)
        }
        let limited = try await page.signIn()
        #expect(limited.status == 429, "even the right token waits once the limit is hit")
        #expect(Int(limited.headers["retry-after"] ?? "") ?? 0 > 0)
        #expect(limited.body.contains("Too many failed sign-ins"))
        #expect(page.sessionCookie == nil)
        // The API shares the per-address limit, so guessing cannot move there; other addresses
        // are unaffected (SignInLimiterTests).
        #expect(try await h.get("/api/followups").0 == 429, "the same client is limited on the API too")
    }

    @Test func theListRendersEveryScheduledChatWithLocalTimes() async throws {
        let h = try await GatewayHarness(employeeYAML: GatewayHarness.team)
        onTeardown { await h.shutdown() }
        try await h.seedScheduledChat(key: "1", client: "Anna Smith", title: "Anna Smith (Riverside Hotel)", employee: "maria", repliedAt: at("2026-11-23T06:00:00Z"))
        try await h.seedScheduledChat(key: "2", client: "Михаил Петров", employee: "alexey", repliedAt: at("2026-11-23T06:00:00Z"))
        try await h.seedScheduledChat(key: "3", client: #"<script>alert("x")</script>"#, employee: "alexey", repliedAt: at("2026-11-23T06:30:00Z"))
        let page = h.pageClient()
        onTeardown { await page.shutdown() }
        try await page.signIn()

        let html = try await page.get("/followups").body
        #expect(html.contains(#"placeholder="Search by name, agent, or client""#))
        #expect(html.contains(#"<option value="">All employees</option>"#))
        #expect(!html.contains(" selected>"), "all employees by default")
        for column in ["Chat", "Employee", "Step", "Sends at", "Channel"] {
            #expect(html.contains(#"<th scope="col">\#(column)</th>"#), "column \(column)")
        }
        #expect(html.contains("3 chats"))
        // Anna's reminder: 08:00 UTC is noon in Yerevan; Михаил's: 10:00 UTC is 13:00 in Moscow.
        #expect(html.contains(#"<time datetime="2026-11-23T08:00:00Z" title="2026-11-23 08:00 UTC">Mon 23 Nov, 12:00</time>"#))
        #expect(html.contains(#"<time datetime="2026-11-23T10:00:00Z" title="2026-11-23 10:00 UTC">Mon 23 Nov, 13:00</time>"#))
        #expect(html.contains("in 2 h · Asia/Yerevan"), "relative to the gateway's clock")
        #expect(html.contains(#"<strong>1</strong> of 2"#) && html.contains(#"<strong>1</strong> of 3"#), "step of the employee's chain")
        #expect(html.contains(">Telegram<"))
        #expect(!html.contains("<script>alert"), "client names are escaped")
        #expect(html.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"))
        let anna = try #require(html.range(of: "Anna Smith (Riverside Hotel)"))
        let mikhail = try #require(html.range(of: "Михаил Петров"))
        #expect(anna.lowerBound < mikhail.lowerBound, "soonest first")

        let filtered = try await page.get("/followups?search=%D0%BC%D0%B8%D1%85%D0%B0%D0%B8%D0%BB&employee=alexey").body
        #expect(filtered.contains("Михаил Петров") && !filtered.contains("Anna Smith"))
        #expect(filtered.contains(#"value="михаил""#) && filtered.contains(#"<option value="alexey" selected>Alexey</option>"#))

        let rows = try await page.get("/followups/rows?employee=maria")
        #expect(rows.status == 200 && rows.body.contains("Anna Smith") && !rows.body.contains("Михаил") && !rows.body.contains("<html"))
        let none = try await page.get("/followups/rows?search=nobody").body
        #expect(none.contains("Nothing matches") && none.contains("No scheduled follow-up matches “nobody”"))
    }

    @Test func anEmptyListSaysWhy() async throws {
        let h = try await GatewayHarness()
        onTeardown { await h.shutdown() }
        let page = h.pageClient()
        onTeardown { await page.shutdown() }
        try await page.signIn()
        let html = try await page.get("/followups").body
        #expect(html.contains("No follow-ups scheduled"))
        #expect(html.contains("every client has answered, every chain has finished, or follow-up was switched off"))

        let off = try await GatewayHarness(employeeYAML: """
              - id: alexey
                name: Alexey
                working_hours: { timezone: UTC, week: { mon: ["09:00-18:00"] } }
            """)
        onTeardown { await off.shutdown() }
        let offPage = off.pageClient()
        onTeardown { await offPage.shutdown() }
        try await offPage.signIn()
        #expect(try await offPage.get("/followups").body.contains("Auto Follow-up is not enabled for any employee"))
    }

    @Test func theChatPageTogglesFollowUpOnlyWithItsCSRFToken() async throws {
        let h = try await GatewayHarness()
        onTeardown { await h.shutdown() }
        let chat = try await h.seedScheduledChat(key: "7", client: "Ana K", repliedAt: at("2026-11-23T06:00:00Z"))
        let page = h.pageClient()
        onTeardown { await page.shutdown() }
        try await page.signIn()

        let html = try await page.get("/chats/\(chat.id)").body
        #expect(html.contains("Hello, is the room still available?") && html.contains("Yes, it is. Shall I book it for you?"))
        #expect(html.contains(#"role="switch" aria-checked="true""#))
        #expect(html.contains("Scheduled · step 1"), "the decision log inline")
        let csrf = try #require(PageClient.csrf(in: html))

        let forged = try await page.postForm("/chats/\(chat.id)/followup", [("enabled", "false")])
        #expect(forged.status == 403)
        let wrong = try await page.postForm("/chats/\(chat.id)/followup", [("enabled", "false"), ("csrf", String(csrf.reversed()))])
        #expect(wrong.status == 403)
        let crossSite = try await page.postForm("/chats/\(chat.id)/followup", [("enabled", "false"), ("csrf", csrf)], headers: [("Sec-Fetch-Site", "cross-site")])
        #expect(crossSite.status == 403)
        #expect(try await h.gateway.store.followUpState(chatID: chat.id)?.status == .scheduled, "refused forms change nothing")

        let toggled = try await page.postForm("/chats/\(chat.id)/followup", [("enabled", "false"), ("csrf", csrf)])
        #expect(toggled.status == 303 && toggled.location == "/chats/\(chat.id)")
        #expect(try await h.gateway.store.followUpState(chatID: chat.id)?.optOut == .admin)
        let after = try await page.get("/chats/\(chat.id)").body
        #expect(after.contains(#"aria-checked="false""#) && after.contains("Cancelled"))
        #expect(try await page.get("/followups").body.contains("No follow-ups scheduled"))

        let stranger = h.pageClient()
        onTeardown { await stranger.shutdown() }
        #expect(try await stranger.postForm("/chats/\(chat.id)/followup", [("enabled", "true"), ("csrf", csrf)]).status == 303, "to the sign-in form")
        #expect(try await h.gateway.store.followUpState(chatID: chat.id)?.optOut == .admin, "a stolen CSRF token alone does nothing")

        #expect(try await page.get("/chats/nope").status == 404)
    }

    @Test func signingOutEndsTheSession() async throws {
        let h = try await GatewayHarness()
        onTeardown { await h.shutdown() }
        let page = h.pageClient()
        onTeardown { await page.shutdown() }
        try await page.signIn()
        let session = try #require(page.sessionCookie)
        let csrf = try #require(PageClient.csrf(in: try await page.get("/followups").body))
        let out = try await page.postForm("/signout", [("csrf", csrf)])
        #expect(out.status == 303 && out.location == "/signin")
        #expect(page.sessionCookie == nil)
        // The old cookie no longer works either.
        let replay = h.pageClient()
        onTeardown { await replay.shutdown() }
        #expect(try await replay.get("/followups", headers: [("Cookie", session)]).status == 303)
    }

    @Test func assetsAreServedWithoutSignIn() async throws {
        let h = try await GatewayHarness()
        onTeardown { await h.shutdown() }
        let page = h.pageClient()
        onTeardown { await page.shutdown() }
        let css = try await page.get("/admin/assets/admin.css")
        #expect(css.status == 200 && css.headers["content-type"]?.hasPrefix("text/css") == true)
        let js = try await page.get("/admin/assets/admin.js")
        #expect(js.status == 200 && js.body.contains("/followups/rows"))
    }
}
