import Foundation
import SwitchboardCore
import SwitchboardTesting
import Testing

private func at(_ iso: String) -> Date { parseISO(iso) }

/// The Follow-ups page in headless Chromium: sign in, search, filter, open a chat, switch its
/// follow-up off — saving screenshots on the way (see `Screenshots`: `docs/screenshots/` only
/// when refreshed on purpose).
@Suite(.serialized, .enabled(if: ChromeDriver.testsEnabled, "needs chromedriver (apt-get install -y chromium chromium-driver); always runs with CI=true"))
struct FollowUpsBrowserTests {
    @Test func anAdminSearchesFiltersOpensAChatAndSwitchesItsFollowUpOff() async throws {
        // Monday 16:30 in Moscow: Ana's first reminder falls after hours and moves to Tuesday morning.
        let h = try await GatewayHarness(employeeYAML: GatewayHarness.team, clock: ManualClock("2026-11-23T13:30:00Z"))
        let ana = try await h.conversationWithAna()
        try await h.seedTeamChats()

        try await withDriver(h) { driver in
            let browser = try await driver.session(width: 1280, height: 900)

            // Signing in.
            try await browser.navigate(to: h.baseURL + "/followups")
            let token = try await browser.waitForElement("#token")
            #expect(try await browser.currentURL().hasSuffix("/signin?next=/followups"))
            try await browser.saveScreenshot(to: Screenshots.url("followups-signin.png"))
            try await token.sendKeys("wrong-token-0123456789" + Key.enter)
            let alert = try await browser.waitForElement(".alert")
            #expect(try await alert.text() == "That token is not right.")
            try await browser.element("#token").sendKeys(GatewayHarness.adminToken + Key.enter)
            try await browser.waitForElement("table.list")
            #expect(try await browser.currentURL() == h.baseURL + "/followups")

            // The list: every scheduled chat, soonest first, the placeholder and the default filter.
            let search = try await browser.element("#search")
            #expect(try await search.attribute("placeholder") == "Search by name, agent, or client")
            #expect(try await browser.execute("return document.querySelector('#employee').selectedOptions[0].textContent").string == "All employees")
            let headers = try await browser.elements("th").asyncMap { try await $0.text() }
            #expect(headers.map { $0.lowercased() } == ["chat", "employee", "step", "sends at", "channel"])
            let all = try await browser.rowTitles()
            #expect(all.count == 8 && all.contains("Ana K"), "\(all)")
            let sendsAt = try await browser.element("tbody tr td.cell-time time")
            #expect(try await sendsAt.attribute("title")?.hasSuffix(" UTC") == true, "UTC on hover")
            try await browser.saveScreenshot(to: Screenshots.url("followups-list.png"), fullPage: true)

            // Search, Cyrillic and case-insensitive, as one types.
            try await search.sendKeys("михаил")
            try await browser.wait("search results") { try await browser.rowTitles() == ["Михаил Сидоров", "Михаил Петров"] }
            #expect(try await browser.currentURL().contains("search=%D0%BC"), "the URL keeps the search")
            try await browser.saveScreenshot(to: Screenshots.url("followups-search.png"))

            // Filter by employee, combined with the search, then alone.
            try await browser.element("#employee option[value=maria]").click()
            try await browser.wait("search within Мария's chats") { try await browser.rowTitles() == ["Михаил Сидоров"] }
            try await search.clear()
            try await browser.execute("arguments[0].dispatchEvent(new Event('input', {bubbles: true}))", [search.reference])
            try await browser.wait("Мария's chats") { try await browser.rowTitles().count == 3 }
            #expect(try await browser.elements("tbody td[data-label=Employee]").asyncMap { try await $0.text() }.allSatisfy { $0 == "Мария" })
            try await browser.saveScreenshot(to: Screenshots.url("followups-filter.png"))

            // Nothing matches: the empty list says so.
            try await search.sendKeys("nobody")
            let empty = try await browser.waitForElement("#empty")
            #expect(try await empty.text().contains("None of Мария's scheduled follow-ups matches “nobody”."))
            try await browser.saveScreenshot(to: Screenshots.url("followups-no-match.png"))

            // The list refreshes itself: a chat armed meanwhile appears without a reload.
            try await browser.navigate(to: h.baseURL + "/followups")
            try await browser.waitForElement("table.list")
            try await h.seedScheduledChat(key: "9001", client: "Liam Chen", employee: "alexey", repliedAt: at("2026-11-24T05:30:00Z"))
            try await browser.wait("the new chat", timeout: .seconds(15)) { try await browser.rowTitles().contains("Liam Chen") }

            // Keyboard: "/" focuses the search; Tab reaches the first chat's link; Enter opens it.
            try await browser.element("h1").click()
            try await browser.type("/")
            #expect(try await browser.activeElement().attribute("id") == "search")
            try await browser.type("ana k")
            try await browser.wait("Ana's row") { try await browser.rowTitles() == ["Ana K"] }
            // Read in one script: a late search response may re-render the rows (and drop the focus)
            // between finding the focused element and asking it for its class. Then tab again.
            try await browser.type(Key.tab + Key.tab)
            try await browser.wait("the first chat's link focused") {
                if try await browser.execute("return document.activeElement.className").string == "chat-link" { return true }
                try await browser.execute("document.querySelector('#search').focus()")
                try await browser.type(Key.tab + Key.tab)
                return try await browser.execute("return document.activeElement.className").string == "chat-link"
            }
            try await browser.type(Key.enter)
            try await browser.waitForElement(".timeline")
            #expect(try await browser.currentURL() == h.baseURL + "/chats/\(ana.id)")

            // The chat: its history with the decisions inline, tokens, and the switch.
            let timeline = try await browser.element(".timeline").text()
            #expect(timeline.contains("Do you have a double room for Friday?"))
            #expect(timeline.contains("Moved by working hours · step 1"))
            #expect(timeline.contains("Good morning, Ana!"))
            #expect(timeline.contains("139 tokens"), "tokens per composed message")
            #expect(try await browser.element("#tokens-total").text() == "190")
            let toggle = try await browser.element("#followup-toggle")
            #expect(try await toggle.attribute("aria-checked") == "true")
            try await browser.saveScreenshot(to: Screenshots.url("followups-chat.png"), fullPage: true)

            try await toggle.click()
            try await browser.wait("follow-up off") { try await browser.element("#followup-toggle").attribute("aria-checked") == "false" }
            #expect(try await h.gateway.store.followUpState(chatID: ana.id)?.optOut == .admin)
            #expect(try await browser.element(".timeline").text().contains("Cancelled · step 2"))
            try await browser.saveScreenshot(to: Screenshots.url("followups-chat-off.png"), fullPage: true)

            // Back on the list, Ana's chat has left it (the Chats inbox keeps it); clicking anywhere
            // on a row opens that chat.
            try await browser.element("nav.nav a[href='/followups']").click()
            try await browser.waitForElement("table.list")
            #expect(try await !browser.rowTitles().contains("Ana K"))
            try await browser.element("tbody tr td[data-label=Employee]").click()
            try await browser.waitForElement(".timeline")
            #expect(try await browser.currentURL().contains("/chats/"))

            // A phone.
            let phone = try await driver.session(width: 390, height: 844, mobile: true)
            try await phone.navigate(to: h.baseURL + "/followups")
            try await phone.waitForElement("#token").sendKeys(GatewayHarness.adminToken + Key.enter)
            try await phone.waitForElement("table.list")
            let overflow = try await phone.execute("return document.documentElement.scrollWidth > window.innerWidth").bool
            #expect(overflow == false, "nothing sticks out sideways at phone width")
            try await phone.saveScreenshot(to: Screenshots.url("followups-phone.png"))
            try await phone.navigate(to: h.baseURL + "/chats/\(ana.id)")
            try await phone.waitForElement(".timeline")
            try await phone.saveScreenshot(to: Screenshots.url("followups-chat-phone.png"))
        }
    }

    @Test func anEmptyListExplainsWhy() async throws {
        let h = try await GatewayHarness(employeeYAML: GatewayHarness.team)
        try await withDriver(h) { driver in
            let browser = try await driver.session(width: 1280, height: 760)
            try await browser.navigate(to: h.baseURL + "/signin")
            try await browser.waitForElement("#token").sendKeys(GatewayHarness.adminToken + Key.enter)
            let empty = try await browser.waitForElement("#empty")
            #expect(try await empty.text().contains("every client has answered, every chain has finished"))
            try await browser.saveScreenshot(to: Screenshots.url("followups-empty.png"))
        }
    }
}

/// Runs `body` with a chromedriver, then stops it and the gateway — also when `body` fails,
/// so no chromedriver outlives the test process.
private func withDriver(_ h: GatewayHarness, _ body: (ChromeDriver) async throws -> Void) async throws {
    let driver = try await ChromeDriver.start()
    do {
        try await body(driver)
    } catch {
        await driver.stop()
        await h.shutdown()
        throw error
    }
    await driver.stop()
    await h.shutdown()
}

extension GatewayHarness {
    /// Ana writes late on Monday; Alexey answers; the first reminder moves to Tuesday 09:00 and
    /// goes out; the second is scheduled.
    func conversationWithAna() async throws -> Chat {
        openAI.respond(text: "Hello Ana! Yes, we have a double room with a garden view for Friday, 4 900 ₽ a night with breakfast. Shall I hold it for you?")
        _ = try await deliver(GatewayHarness.textUpdate("Do you have a double room for Friday?"))
        try await eventually("reply") { self.sentTexts.count == 1 }
        let chat = try #require(try await self.chat)
        try await eventually("chain armed") { try await self.gateway.store.followUpState(chatID: chat.id)?.status == .scheduled }
        openAI.respond(text: "Good morning, Ana! Just checking whether you'd like me to hold the double room for Friday — it's still free.", promptTokens: 118, completionTokens: 21)
        manualClock.advance(to: at("2026-11-24T06:00:00Z"))
        try await eventually("reminder") { self.sentTexts.count == 2 }
        try await eventually("step 2 planned") { try await self.gateway.store.followUpState(chatID: chat.id)?.step == 2 }
        return chat
    }

    /// Seven more chats of Alexey and Мария, all with a reminder ahead.
    func seedTeamChats() async throws {
        let chats: [(String, String, String?, String, String)] = [
            ("1001", "Михаил Петров", nil, "alexey", "2026-11-24T05:10:00Z"),
            ("1002", "Anna Smith", "Anna Smith (Riverside Hotel)", "maria", "2026-11-24T05:20:00Z"),
            ("1003", "Михаил Сидоров", nil, "maria", "2026-11-24T05:50:00Z"),
            ("1004", "Sofia García", nil, "alexey", "2026-11-24T05:40:00Z"),
            ("1005", "Екатерина Смирнова", nil, "alexey", "2026-11-24T05:55:00Z"),
            ("1006", "Omar Haddad", "Omar Haddad · Acme Travel", "maria", "2026-11-24T05:05:00Z"),
            ("1007", "Олег Кузнецов", nil, "alexey", "2026-11-24T04:30:00Z"),
        ]
        for (key, client, title, employee, replied) in chats {
            try await seedScheduledChat(key: key, client: client, title: title, employee: employee, repliedAt: at(replied))
        }
    }
}

extension WebDriverSession {
    /// The chat titles of the list's rows, in order.
    func rowTitles() async throws -> [String] {
        let value = try await execute("return [...document.querySelectorAll('tbody .chat-name strong')].map(e => e.textContent)")
        return (value.array ?? []).compactMap(\.string)
    }
}

extension Sequence where Element: Sendable {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var result: [T] = []
        for element in self { result.append(try await transform(element)) }
        return result
    }
}
