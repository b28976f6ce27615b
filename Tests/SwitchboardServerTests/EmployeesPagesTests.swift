import Foundation
import SwitchboardCore
import SwitchboardTesting
import Testing

@testable import SwitchboardServer

private func at(_ iso: String) -> Date { parseISO(iso) }

/// `/employees` and `/employees/{id}` with the five tabs: how the gateway understood the YAML,
/// each value with the file and line it came from.
@Suite(.serialized, .awaitedTeardown) struct EmployeesPagesTests {
    @Test func theListShowsEveryEmployeeWithWhereItIsDefined() async throws {
        let h = try await GatewayHarness(employeeYAML: GatewayHarness.team)
        onTeardown { await h.shutdown() }
        let page = h.pageClient()
        onTeardown { await page.shutdown() }
        #expect(try await page.get("/employees").location == "/signin?next=/employees")
        try await page.signIn()
        let html = try await page.get("/employees").body
        #expect(html.contains(#"<a href="/employees" aria-current="page">Employees</a>"#))
        #expect(html.contains("<strong>Alexey</strong>") && html.contains("<strong>Мария</strong>") && html.contains("<strong>Sam</strong>"))
        // 06:00Z on Monday: 09:00 in Moscow (opens at 09:00), 10:00 in Yerevan.
        #expect(html.contains("Open now · until 18:00"))
        #expect(html.contains("On · 3 steps") && html.contains("On · 2 steps") && html.contains(">Off<"))
        #expect(html.contains(#"<code class="src">config.yaml:5</code>"#), "Alexey's list item")
    }

    @Test func theTabsShowTheConfigWithFileAndLine() async throws {
        let h = try await GatewayHarness(employeeYAML: GatewayHarness.team)
        onTeardown { await h.shutdown() }
        let page = h.pageClient()
        onTeardown { await page.shutdown() }
        try await page.signIn()

        let persona = try await page.get("/employees/alexey").body
        for tab in ["Persona", "Working Hours", "Channels", "Chats", "Auto Follow-up"] {
            #expect(persona.contains(">\(tab)</a>"), "tab \(tab)")
        }
        #expect(persona.contains(#"<a href="/employees/alexey?tab=persona" aria-current="page">Persona</a>"#))
        #expect(persona.contains("Friendly concierge of the Riverside hotel.") && persona.contains("<code>fake-model</code>"))
        #expect(persona.contains(#"<h3>Persona text <code class="src">config.yaml:7</code></h3>"#))
        #expect(persona.contains(#"<code class="src">config.yaml:2</code>"#), "the model, in composer:")
        #expect(persona.contains(#"<svg class="usage-chart""#), "the usage chart on the employee's page")

        let hours = try await page.get("/employees/alexey?tab=hours").body
        #expect(hours.contains(#"<svg class="week-grid""#))
        #expect(hours.contains("Europe/Moscow <code class=\"src\">config.yaml:9</code>"))
        #expect(hours.contains(#"<tr class="today"><th scope="row">Monday <span class="badge muted">today</span></th><td>09:00–18:00</td><td><code class="src">config.yaml:10</code></td></tr>"#))
        #expect(hours.contains(#"<th scope="row">Saturday</th><td>Closed</td><td><code class="src">default · config.yaml:10</code></td>"#))
        #expect(hours.contains("Answers once per closed period with: “We are closed now and will answer in the morning.”"))
        #expect(hours.contains("None: every date follows the week above."))

        let channels = try await page.get("/employees/alexey?tab=channels").body
        #expect(channels.contains(#"<a href="/chats?channel=tg">tg</a>"#) && channels.contains(">Telegram<"))
        #expect(channels.contains(#"<span class="badge scheduled">Up</span>"#))
        #expect(channels.contains("No messages yet") && channels.contains(#"<code class="src">channels/telegram.yaml:1</code>"#))
        _ = try await h.seedScheduledChat(key: "c", client: "Ana K", repliedAt: at("2026-11-23T05:30:00Z"))
        #expect(try await page.get("/employees/alexey?tab=channels").body.contains(#"<time datetime="2026-11-23T05:30:00Z">Mon 23 Nov, 08:30 · 30 min ago</time>"#))

        let chats = try await page.get("/employees/alexey?tab=chats").body
        #expect(chats.contains("Ana K") && chats.contains(#"href="/chats?employee=alexey""#))
        #expect(try await page.get("/employees/maria?tab=chats").body.contains("No chats yet"))

        let followup = try await page.get("/employees/alexey?tab=followup").body
        #expect(followup.contains(#"id="followup-state">Enabled</span>"#))
        #expect(followup.contains(#"<tr><th scope="row">2</th><td>1 day</td><td>Ask if the question is still relevant</td><td>Yes</td><td><code class="src">config.yaml:16</code></td></tr>"#))
        #expect(followup.contains("No daily budget"))
        // Quiet from Mon 09:00 Moscow: step 1 at 13:00; step 2 due Tue 13:00; step 3 due Thu 13:00.
        #expect(followup.contains(#"<strong>Step 1</strong> would go <time datetime="2026-11-23T10:00:00Z""#))
        #expect(followup.contains(#"<strong>Step 3</strong> would go <time datetime="2026-11-26T10:00:00Z""#))
        #expect(try await page.get("/employees/nobody").status == 404)
    }

    @Test func thePreviewExplainsEveryMoveByWorkingHours() async throws {
        // Friday 17:00 in Moscow: step 1 (4 h) is due at 21:00, after hours, and moves to Monday 09:00.
        let h = try await GatewayHarness(clock: ManualClock("2026-11-27T14:00:00Z"))
        onTeardown { await h.shutdown() }
        let page = h.pageClient()
        onTeardown { await page.shutdown() }
        try await page.signIn()
        let html = try await page.get("/employees/alexey?tab=followup").body
        #expect(html.contains(#"<strong>Step 1</strong> would go <time datetime="2026-11-30T06:00:00Z" title="2026-11-30 06:00 UTC">Mon 30 Nov, 09:00</time>"#))
        #expect(html.contains("due Fri 27 Nov, 21:00, outside working hours: moved to the next working moment"))
        #expect(try await page.get("/employees/alexey").body.contains("Open now · until 18:00"))
        h.manualClock.advance(to: at("2026-11-27T16:00:00Z"))
        #expect(try await page.get("/employees/alexey").body.contains("Closed · opens Mon 09:00"))
    }
}
