import Foundation
import SwitchboardCore
import SwitchboardTesting
import Testing

/// The widget in a real Chromium, as a visitor uses it: the demo page, a question, the
/// employee's answer; the visitor leaves, the follow-up chain runs in scaled time, and when
/// they come back every reminder is there once, announced by the launcher's badge.
///
/// Runs when chromedriver is installed, and always on CI (`CI=true`).
@Suite(.serialized, .enabled(if: ChromeDriver.testsEnabled, "needs chromedriver (apt-get install -y chromium chromium-driver)"))
struct WidgetBrowserTests {
    /// Stands in for the LLM with what a concierge would write, so the screenshots read like
    /// the product.
    struct ConciergeComposer: Composer {
        static let reply =
            "Good morning! Yes — breakfast is included with the River King room. It's served 7:00–11:00 in the garden room, and we can bring it up to your balcony for €8. Shall I note that for your stay?"
        static let reminders = [
            "Just checking in — if anything else about your stay comes to mind, I'm right here to help.",
            "Is the breakfast question still open for you? Happy to hold a balcony breakfast for your first morning.",
            "I'll leave it here for now. Have a wonderful trip, and write anytime — we're always happy to help!",
        ]

        func compose(_ request: CompositionRequest) async throws -> Composition {
            let text: String
            switch request.purpose {
            case .reply: text = Self.reply
            case .reminder(let step, _): text = Self.reminders[min(max(step, 1), 3) - 1]
            case .autoReply: text = "We're closed right now; Alexey will answer in the morning."
            }
            return Composition(text: text, usage: TokenUsage(promptTokens: 180, completionTokens: 45), model: "scripted")
        }
    }

    /// A chain of three 3-hour steps; at 3600× each is three real seconds.
    static let chain = """
            auto_followup:
              steps:
                - { delay: { hours: 3 }, instruction: "Remind the user that we're available and ready to help" }
                - { delay: { hours: 3 }, instruction: "Ask if the question is still relevant" }
                - { delay: { hours: 3 }, instruction: "Say a warm goodbye and let them know we're always happy to help" }
        """

    /// 04:00 UTC today: the visitor writes in the morning (at 3600×, a few real seconds later)
    /// and the reminders land the same afternoon, so the screenshots read like one day.
    static func earlyToday() -> Date {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = .gmt
        return calendar.startOfDay(for: Date()).addingTimeInterval(4 * 3600)
    }

    @Test func aVisitorChatsLeavesAndComesBackToEveryReminderOnce() async throws {
        let h = try await WidgetGatewayHarness(
            employeeYAML: Self.chain, clock: ScaledClock(scale: 3600, startingAt: Self.earlyToday()), composer: ConciergeComposer())
        let driver = try await ChromeDriver.start()
        do {
            try await story(h, driver)
        } catch {
            await driver.stop()
            await h.shutdown()
            throw error
        }
        await driver.stop()
        await h.shutdown()
    }

    /// A first visit on a 375×740 phone: the header's "Book a room" stays on one line inside the
    /// screen, and the teaser (like the launcher) covers neither it nor the booking form with its
    /// "Check availability" — the widget keeps to the corner strip beside its launcher.
    @Test func onAPhoneTheTeaserCoversNoneOfThePagesButtons() async throws {
        let h = try await WidgetGatewayHarness(composer: ConciergeComposer())
        let driver = try await ChromeDriver.start()
        do {
            let phone = try await driver.session(width: 375, height: 740, mobile: true)
            try await phone.navigate(to: h.baseURL + "/widget/web/demo")
            _ = try await phone.waitForElement("[data-testid=widget-teaser]:not([hidden])")
            try await phone.wait("the teaser's fade-in to finish") {
                try await phone.execute("return document.querySelector('[data-testid=widget-teaser]').getAnimations().length").int == 0
            }
            let layout = try await phone.execute(Self.measure).string ?? ""
            let boxes = try #require(try JSONSerialization.jsonObject(with: Data(layout.utf8)) as? [String: Any], "\(layout)")
            func rect(_ name: String) throws -> (left: Double, top: Double, right: Double, bottom: Double) {
                let r = try #require(boxes[name] as? [String: Double], "\(name) in \(layout)")
                return (r["left"] ?? 0, r["top"] ?? 0, r["right"] ?? 0, r["bottom"] ?? 0)
            }
            func overlap(_ a: String, _ b: String) throws -> Bool {
                let (x, y) = (try rect(a), try rect(b))
                return x.left < y.right && y.left < x.right && x.top < y.bottom && y.top < x.bottom
            }
            #expect(boxes["width"] as? Double == 375, "\(layout)")
            #expect(boxes["bookLines"] as? Double == 1, "\"Book a room\" on one line: \(layout)")
            #expect(try rect("book").right <= 375 && rect("book").left >= 0, "inside the screen: \(layout)")
            for target in ["book", "form", "check"] {
                #expect(try !overlap("teaser", target), "the teaser covers \(target): \(layout)")
                #expect(try !overlap("launcher", target), "the launcher covers \(target): \(layout)")
            }
            try await phone.saveScreenshot(to: Screenshots.url("widget-demo-phone.png"))
        } catch {
            await driver.stop()
            await h.shutdown()
            throw error
        }
        await driver.stop()
        await h.shutdown()
    }

    /// The boxes the phone test compares, and how many lines "Book a room" takes (one rect per
    /// line box of its text).
    static let measure = """
        function box(selector) {
          var r = document.querySelector(selector).getBoundingClientRect();
          return { left: r.left, top: r.top, right: r.right, bottom: r.bottom };
        }
        var text = document.createRange();
        text.selectNodeContents(document.querySelector('nav a.book'));
        return JSON.stringify({
          width: window.innerWidth, bookLines: text.getClientRects().length, book: box('nav a.book'),
          form: box('form.booking'), check: box('.booking button'), teaser: box('[data-testid=widget-teaser]'), launcher: box('[data-testid=widget-open]')
        });
        """

    private func story(_ h: WidgetGatewayHarness, _ driver: ChromeDriver) async throws {
        let demo = h.baseURL + "/widget/web/demo"
        let browser = try await driver.session(width: 1280, height: 860)

        // The demo page: a business site with the launcher in the corner.
        try await browser.navigate(to: demo)
        let launcher = try await browser.waitForElement("[data-testid=widget-open]")
        #expect(try await launcher.attribute("aria-expanded") == "false")
        _ = try await browser.waitForElement("[data-testid=widget-teaser]:not([hidden])")
        try await browser.wait("the teaser's fade-in to finish") {
            try await browser.execute("return document.querySelector('[data-testid=widget-teaser]').getAnimations().length").int == 0
        }
        try await browser.saveScreenshot(to: Screenshots.url("widget-demo.png"))

        // A question, and the employee's answer.
        try await launcher.click()
        let input = try await browser.waitForElement("[data-testid=widget-input]")
        try await browser.wait("the panel to open") { try await browser.element("[data-testid=widget-panel]").isDisplayed() }
        try await input.sendKeys("Hi! Is breakfast included with the River King room?")
        try await browser.element("[data-testid=widget-send]").click()
        try await browser.wait("the AI reply", timeout: .seconds(15)) {
            try await browser.elements("[data-testid=widget-message][data-author=employee]").count == 1
        }
        let reply = try await browser.element("[data-testid=widget-message][data-author=employee]").text()
        #expect(reply.contains(ConciergeComposer.reply))
        #expect(try await browser.elements("[data-testid=widget-message][data-author=client]").count == 1)
        try await browser.saveScreenshot(to: Screenshots.url("widget-chat.png"))
        let storageKey = "switchboard-widget:\(h.baseURL):web"
        let saved = try await browser.execute("return localStorage.getItem(arguments[0])", [storageKey]).string ?? ""
        #expect(saved.contains("\"token\":\"v1."), "the visitor token is kept in localStorage")

        // The visitor leaves; the chain plays out while no page is open.
        try await browser.navigate(to: "about:blank")
        let token = try #require(saved.split(separator: "\"").first { $0.hasPrefix("v1.") }.map(String.init))
        let chat = try #require(try await h.chat(visitorToken: token))
        try await browser.wait("three reminders sent", timeout: .seconds(40)) {
            try await h.gateway.store.messages(chatID: chat.id, limit: 20).filter { $0.followUpStep != nil }.count == 3
        }
        let away = try await h.gateway.store.messages(chatID: chat.id, limit: 20).filter { $0.followUpStep != nil }
        #expect(away.map(\.text) == ConciergeComposer.reminders)
        #expect(away.allSatisfy { $0.deliveredAt == nil }, "stored for the visitor, not delivered: \(away.map(\.deliveredAt))")

        // Back on the page: the launcher says three new messages; the panel shows each once.
        try await browser.navigate(to: demo)
        let badge = try await browser.waitForElement("[data-testid=widget-unread]:not([hidden])", timeout: .seconds(15))
        #expect(try await badge.text() == "3")
        try await browser.saveScreenshot(to: Screenshots.url("widget-unread.png"))
        try await browser.element("[data-testid=widget-open]").click()
        try await browser.wait("the conversation") {
            try await browser.elements("[data-testid=widget-message][data-author=employee]").count == 4
        }
        var texts: [String] = []
        for message in try await browser.elements("[data-testid=widget-message]") { texts.append(try await message.text()) }
        for reminder in ConciergeComposer.reminders {
            #expect(texts.filter { $0.contains(reminder) }.count == 1, "replayed once: \(reminder)")
        }
        #expect(texts.filter { $0.contains(ConciergeComposer.reply) }.count == 1)
        #expect(texts.filter { $0.contains("Is breakfast included") }.count == 1)
        #expect(try await browser.elements("[data-testid=widget-unread]:not([hidden])").isEmpty, "read once the panel is open")
        try await browser.saveScreenshot(to: Screenshots.url("widget-replay.png"))
        let delivered = try await h.gateway.store.messages(chatID: chat.id, limit: 20).filter { $0.followUpStep != nil }
        #expect(delivered.allSatisfy { ($0.deliveredAt ?? .distantPast) > $0.at }, "delivered when the visitor came back, after being stored")

        // The same visitor on a phone-sized screen: the panel takes the whole screen.
        let phone = try await driver.session(width: 390, height: 844, mobile: true)
        try await phone.navigate(to: demo)
        _ = try await phone.waitForElement("[data-testid=widget-open]")
        try await phone.execute("localStorage.setItem(arguments[0], arguments[1])", [storageKey, saved])
        try await phone.refresh()
        try await phone.waitForElement("[data-testid=widget-open]").click()
        try await phone.wait("the conversation on the phone") {
            try await phone.elements("[data-testid=widget-message][data-author=employee]").count == 4
        }
        let width = try await phone.execute("return document.querySelector('[data-testid=widget-panel]').getBoundingClientRect().width").int
        #expect(width == 390, "full width on a phone")
        try await phone.saveScreenshot(to: Screenshots.url("widget-mobile.png"))
    }
}
