import Foundation
import SwitchboardCore
import SwitchboardTesting
import Testing

private func at(_ iso: String) -> Date { parseISO(iso) }

/// The console in headless Chromium: the Chats inbox (search, state filter, pages), replying
/// as the employee and resuming the AI from a chat's page, the Employees tabs and the usage
/// chart — saving screenshots on the way (`Screenshots`: `docs/screenshots/` only when
/// refreshed on purpose by scripts/refresh-screenshots.sh).
@Suite(.serialized, .enabled(if: ChromeDriver.testsEnabled, "needs chromedriver (apt-get install -y chromium chromium-driver); always runs with CI=true"))
struct ConsoleBrowserTests {
    @Test func anOperatorFindsAChatRepliesAsTheEmployeeAndResumesTheAI() async throws {
        // Monday 16:30 in Moscow.
        let h = try await GatewayHarness(employeeYAML: GatewayHarness.team, clock: ManualClock("2026-11-23T13:30:00Z"))
        let ana = try await h.conversationWithAna()
        try await h.seedTeamChats()
        try await h.seedClientAnswer(key: "1002", at: at("2026-11-24T05:58:00Z"))
        for day in 0..<12 {
            try await h.gateway.store.recordUsage(
                UsageRecord(employeeID: "alexey", chatID: ana.id, purpose: day.isMultiple(of: 3) ? .reminder : .reply,
                            usage: TokenUsage(promptTokens: 400 + 90 * day, completionTokens: 60 + 7 * day), model: "gpt-4o-mini",
                            at: at("2026-11-24T05:00:00Z").addingTimeInterval(-Double(day) * 86400)))
        }

        try await withConsoleDriver(h) { driver in
            let browser = try await driver.session(width: 1280, height: 900)
            try await browser.navigate(to: h.baseURL + "/chats")
            try await browser.waitForElement("#token").sendKeys(GatewayHarness.adminToken + Key.enter)
            try await browser.waitForElement("table.inbox")
            #expect(try await browser.currentURL() == h.baseURL + "/chats")

            // The inbox: every chat, newest activity first, each with its state.
            let all = try await browser.rowTitles()
            #expect(all.count == 8 && all.first == "Ana K", "the reminder sent at 09:00 is the newest activity: \(all)")
            #expect(try await browser.element("table.inbox").text().contains("Waiting for the employee"))
            let headers = try await browser.elements("table.inbox th").asyncMap { try await $0.text() }
            #expect(headers.map { $0.lowercased() } == ["chat", "last message", "employee", "state", "last activity", "channel"])
            try await browser.saveScreenshot(to: Screenshots.url("console-inbox.png"), fullPage: true)

            // Search reaches message text; the state filter narrows the list as one picks it.
            let search = try await browser.element("#search")
            try await search.sendKeys("double room")
            try await browser.wait("message-text search") { try await browser.rowTitles() == ["Ana K"] }
            try await search.clear()
            try await browser.execute("arguments[0].dispatchEvent(new Event('input', {bubbles: true}))", [search.reference])
            try await browser.element("#state option[value=waiting]").click()
            try await browser.wait("waiting chats") { try await browser.rowTitles() == ["Anna Smith (Riverside Hotel)"] }
            #expect(try await browser.currentURL().contains("state=waiting"))
            try await browser.saveScreenshot(to: Screenshots.url("console-inbox-waiting.png"))

            // Open Ana's chat from the inbox and reply as Alexey.
            try await browser.navigate(to: h.baseURL + "/chats?search=ana")
            try await browser.waitForElement("table.inbox")
            try await browser.element("a.chat-link").click()
            try await browser.waitForElement("#composer-text")
            #expect(try await browser.currentURL() == h.baseURL + "/chats/\(ana.id)")
            #expect(try await browser.element("#ai-status").text().contains("AI answering"))
            try await browser.element("#composer-text").sendKeys("Ana, I have put the double room on hold for you until Thursday.")
            try await browser.saveScreenshot(to: Screenshots.url("console-chat-composer.png"))
            try await browser.element("#composer-send").click()
            // The message and the pause appear without a reload; the box is empty for the next one.
            try await browser.wait("the pause shown", timeout: .seconds(15)) { try await browser.element("#ai-status").text().contains("AI paused") }
            try await browser.wait("the message in the history", timeout: .seconds(15)) {
                try await browser.element("#timeline").text().contains("I have put the double room on hold")
            }
            #expect(try await browser.element("#composer-text").property("value").string == "")
            try await eventually("delivered to Telegram") { h.sentTexts.last == "Ana, I have put the double room on hold for you until Thursday." }
            #expect(try await h.gateway.store.chat(id: ana.id)?.aiPausedUntil == at("2026-11-24T06:15:00Z"))
            try await browser.wait("delivered in the history", timeout: .seconds(15)) {
                try await browser.element("#timeline").text().contains("Operator (as Alexey)")
            }
            try await browser.saveScreenshot(to: Screenshots.url("console-chat-paused.png"), fullPage: true)

            // Resume the AI early.
            try await browser.element("#resume-ai").click()
            try await browser.wait("the AI answering again") { try await browser.element("#ai-status").text().contains("AI answering") }
            #expect(try await browser.element("#ai-status").text().contains("The AI has answered again since Tue 24 Nov, 09:00."))
            #expect(try await h.gateway.store.chat(id: ana.id)?.aiPausedUntil == at("2026-11-24T06:00:00Z"))
            try await browser.saveScreenshot(to: Screenshots.url("console-chat-resumed.png"))

            // The employee: five tabs, each value with the file and line it came from.
            try await browser.navigate(to: h.baseURL + "/employees")
            try await browser.waitForElement("table.employees")
            try await browser.saveScreenshot(to: Screenshots.url("console-employees.png"))
            try await browser.element("a.chat-link[href='/employees/alexey']").click()
            try await browser.waitForElement("#persona-text")
            #expect(try await browser.element("#persona-text").text() == "Friendly concierge of the Riverside hotel.")
            #expect(try await browser.element("#open-status").text() == "Open now · until 18:00")
            try await browser.saveScreenshot(to: Screenshots.url("console-employee-persona.png"), fullPage: true)
            let tabs = try await browser.elements("nav.tabs a").asyncMap { try await $0.text() }
            #expect(tabs == ["Persona", "Working Hours", "Channels", "Chats", "Auto Follow-up"])
            for (tab, selector, shot) in [
                ("Working Hours", "svg.week-grid", "console-employee-hours.png"), ("Channels", "table.channels", "console-employee-channels.png"),
                ("Chats", "table.inbox", "console-employee-chats.png"), ("Auto Follow-up", "#followup-preview", "console-employee-followup.png"),
            ] {
                try await browser.element("nav.tabs a:nth-child(\(tabs.firstIndex(of: tab)! + 1))").click()
                try await browser.waitForElement(selector)
                #expect(try await browser.element("nav.tabs a[aria-current=page]").text() == tab)
                try await browser.saveScreenshot(to: Screenshots.url(shot), fullPage: true)
            }
            #expect(try await browser.element("#followup-preview").text().contains("Step 1 would go"))
            #expect(try await browser.elements("code.src").count > 3, "file:line next to the values")

            // Usage: the chart with the totals beside it.
            try await browser.navigate(to: h.baseURL + "/usage")
            try await browser.waitForElement("svg.usage-chart")
            #expect(try await browser.elements("svg.usage-chart").count == 3)
            #expect(try await browser.element("#usage-alexey").text() == "Alexey")
            try await browser.saveScreenshot(to: Screenshots.url("console-usage.png"), fullPage: true)

            // A phone: nothing sticks out sideways.
            let phone = try await driver.session(width: 390, height: 844, mobile: true)
            try await phone.navigate(to: h.baseURL + "/chats")
            try await phone.waitForElement("#token").sendKeys(GatewayHarness.adminToken + Key.enter)
            try await phone.waitForElement("table.inbox")
            #expect(try await phone.execute("return document.documentElement.scrollWidth > window.innerWidth").bool == false)
            try await phone.saveScreenshot(to: Screenshots.url("console-inbox-phone.png"))
            try await phone.navigate(to: h.baseURL + "/chats/\(ana.id)")
            try await phone.waitForElement("#composer-text")
            #expect(try await phone.execute("return document.documentElement.scrollWidth > window.innerWidth").bool == false)
            try await phone.navigate(to: h.baseURL + "/employees/alexey?tab=hours")
            try await phone.waitForElement("svg.week-grid")
            #expect(try await phone.execute("return document.documentElement.scrollWidth > window.innerWidth").bool == false)
            try await phone.saveScreenshot(to: Screenshots.url("console-employee-phone.png"))
        }
    }
}

/// Runs `body` with a chromedriver, then stops it and the gateway — also when `body` fails.
private func withConsoleDriver(_ h: GatewayHarness, _ body: (ChromeDriver) async throws -> Void) async throws {
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
