import Foundation
import SwitchboardChannelKit
import Testing
@testable import WidgetChannel

@Suite struct WidgetHTTPTests {
    private func json(_ response: BrowserResponse) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any] ?? [:]
    }

    @Test func theSessionCallIssuesKeepsAndRenewsVisitorTokens() async throws {
        let bed = try WidgetTestbed()
        let first = await bed.channel.handleBrowserRequest(bed.session(body: #"{"visitor_token": null}"#))
        #expect(first.status == 200)
        #expect(first.headers["Access-Control-Allow-Origin"] == "https://riverside.example" && first.headers["Vary"] == "Origin")
        #expect(first.headers["Cache-Control"] == "no-store")
        let token = try #require(json(first)["visitor_token"] as? String)
        #expect(json(first)["new_visitor"] as? Bool == true && json(first)["socket_path"] as? String == "/widget/web/ws")
        #expect(json(first)["employee_name"] as? String == "Alexey")

        let again = await bed.channel.handleBrowserRequest(bed.session(body: #"{"visitor_token": "\#(token)"}"#))
        #expect(json(again)["visitor_token"] as? String == token && json(again)["new_visitor"] as? Bool == false)

        bed.realNow.advance(2 * 86400)
        let renewed = await bed.channel.handleBrowserRequest(bed.session(body: #"{"visitor_token": "\#(token)"}"#))
        let renewedToken = try #require(json(renewed)["visitor_token"] as? String)
        #expect(renewedToken != token && visitorID(of: renewedToken) == visitorID(of: token), "same visitor, fresh expiry")

        let forged = await bed.channel.handleBrowserRequest(bed.session(body: #"{"visitor_token": "v1.0123456789abcdef01234567.1.AAAA"}"#))
        #expect(json(forged)["new_visitor"] as? Bool == true, "a bad token buys a new visitor, never someone else's chat")
        #expect(visitorID(of: json(forged)["visitor_token"] as? String ?? "x.y") != "0123456789abcdef01234567")
    }

    @Test func aForeignSiteIsRefusedButTheGatewaysOwnPageAndNonBrowsersAreNot() async throws {
        let bed = try WidgetTestbed()
        let foreign = await bed.channel.handleBrowserRequest(bed.session(body: "{}", origin: "https://evil.example"))
        #expect(foreign.status == 403 && json(foreign)["error"] as? String == "origin_not_allowed")
        #expect(foreign.headers["Access-Control-Allow-Origin"] == "https://evil.example", "the page may read why, so it stops trying")
        let same = await bed.channel.handleBrowserRequest(bed.session(body: "{}", origin: "http://gw.example.com"))
        #expect(same.status == 200)
        let curl = await bed.channel.handleBrowserRequest(bed.session(body: "", origin: nil))
        #expect(curl.status == 200 && curl.headers["Access-Control-Allow-Origin"] == nil)
        #expect(await bed.channel.handleBrowserRequest(bed.session(body: "[1,2", origin: nil)).status == 400)
        #expect(await bed.channel.handleBrowserRequest(bed.session(body: String(repeating: " ", count: 5000), origin: nil)).status == 413)

        #expect(bed.channel.acceptsSocket(BrowserRequest(method: "GET", path: "ws", headers: ["Origin": "https://riverside.example", "Host": "gw.example.com"])))
        #expect(bed.channel.acceptsSocket(BrowserRequest(method: "GET", path: "ws", headers: ["Origin": "http://gw.example.com", "Host": "gw.example.com"])))
        #expect(!bed.channel.acceptsSocket(BrowserRequest(method: "GET", path: "ws", headers: ["Origin": "https://evil.example", "Host": "gw.example.com"])))

        let preflight = await bed.channel.handleBrowserRequest(
            BrowserRequest(method: "OPTIONS", path: "session", headers: ["Origin": "https://riverside.example", "Host": "gw.example.com"]))
        #expect(preflight.status == 204 && preflight.headers["Access-Control-Allow-Methods"] == "POST")
        let badPreflight = await bed.channel.handleBrowserRequest(
            BrowserRequest(method: "OPTIONS", path: "session", headers: ["Origin": "https://evil.example", "Host": "gw.example.com"]))
        #expect(badPreflight.status == 403)
    }

    @Test func oneAddressMayStartOnlySoManyNewVisitorsAndReturningOnesAreNeverRefused() async throws {
        let bed = try WidgetTestbed(WidgetChannel.Configuration(allowedOrigins: ["https://riverside.example"], newVisitorsPerHour: 60, newVisitorBurst: 2))
        var tokens: [String] = []
        for _ in 0..<2 {
            let answer = await bed.channel.handleBrowserRequest(bed.session(body: "{}", from: "203.0.113.7"))
            #expect(answer.status == 200)
            tokens.append(try #require(json(answer)["visitor_token"] as? String))
        }
        let refused = await bed.channel.handleBrowserRequest(bed.session(body: "{}", from: "203.0.113.7"))
        #expect(refused.status == 429 && json(refused)["error"] as? String == "rate_limited")
        let retryAfter = try #require(refused.headers["Retry-After"].flatMap(Int.init))
        #expect((55...60).contains(retryAfter), "one new visitor a minute: \(retryAfter)")
        #expect(((json(refused)["retry_after_ms"] as? NSNumber)?.intValue ?? 0) > 50_000)
        #expect(refused.headers["Access-Control-Allow-Origin"] == "https://riverside.example"
            && refused.headers["Access-Control-Expose-Headers"] == "Retry-After", "the page may read why and how long")
        // A forged or expired token is a new visitor too.
        #expect(await bed.channel.handleBrowserRequest(bed.session(body: #"{"visitor_token":"v1.forged.x"}"#, from: "203.0.113.7")).status == 429)
        // A returning visitor keeps their chat; another address is not affected.
        let back = await bed.channel.handleBrowserRequest(bed.session(body: #"{"visitor_token":"\#(tokens[0])"}"#, from: "203.0.113.7"))
        #expect(back.status == 200 && json(back)["new_visitor"] as? Bool == false)
        #expect(await bed.channel.handleBrowserRequest(bed.session(body: "{}", from: "198.51.100.1")).status == 200)
    }

    @Test func theScriptCarriesTheSettingsAndTheTestHooks() async throws {
        let bed = try WidgetTestbed(WidgetChannel.Configuration(title: "Riverside </script> Hotel", accentColor: "#1d4ed8"))
        let response = await bed.channel.handleBrowserRequest(BrowserRequest(method: "GET", path: "widget.js"))
        #expect(response.status == 200 && response.headers["Content-Type"] == "text/javascript; charset=utf-8")
        let script = String(decoding: response.body, as: UTF8.self)
        #expect(!script.contains(WidgetAssets.configMarker))
        #expect(script.contains(##""accent":"#1d4ed8""##) && script.contains(#""channel":"web""#) && script.contains(#""employeeName":"Alexey""#))
        for hook in ["widget-open", "widget-input", "widget-send", "widget-message", "data-author"] {
            #expect(script.contains(hook), "test hook \(hook) is part of the contract")
        }
        let etag = try #require(response.headers["ETag"])
        let cached = await bed.channel.handleBrowserRequest(BrowserRequest(method: "GET", path: "widget.js", headers: ["If-None-Match": etag]))
        #expect(cached.status == 304 && cached.body.isEmpty)
        #expect(bed.channel.scriptByteCount == response.body.count)
    }

    @Test func theDemoPageEmbedsTheWidgetLikeACustomerWould() async throws {
        let bed = try WidgetTestbed(WidgetChannel.Configuration(title: "Riverside <Hotel>"))
        let page = await bed.channel.handleBrowserRequest(BrowserRequest(method: "GET", path: "demo"))
        #expect(page.status == 200 && page.headers["Content-Type"] == "text/html; charset=utf-8")
        let html = String(decoding: page.body, as: UTF8.self)
        #expect(html.contains(#"<script src="/widget/web/widget.js" async></script>"#))
        #expect(html.contains("Riverside &lt;Hotel&gt;") && !html.contains("<Hotel>"), "settings are escaped")
        #expect(!html.contains("{{"))
        #expect(bed.channel.browserPages == [BrowserPage(title: "Riverside <Hotel> — widget demo", path: "demo")])

        let off = try WidgetTestbed(WidgetChannel.Configuration(demo: false))
        #expect(await off.channel.handleBrowserRequest(BrowserRequest(method: "GET", path: "demo")).status == 404)
        #expect(off.channel.browserPages.isEmpty)
        #expect(await bed.channel.handleBrowserRequest(BrowserRequest(method: "GET", path: "nope")).status == 404)
        #expect(await bed.channel.handleBrowserRequest(BrowserRequest(method: "GET", path: "ws")).status == 426)
    }
}
