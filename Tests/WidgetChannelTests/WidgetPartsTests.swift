import Foundation
import SwitchboardChannelKit
import SwitchboardCore
import Testing
@testable import WidgetChannel

@Suite struct VisitorTokenTests {
    let key = TokenKey(bytes: Array(repeating: 7, count: 32))
    let now = Date(timeIntervalSince1970: 1_795_000_000)
    let ttl: TimeInterval = 180 * 86400

    @Test func aTokenVerifiesOnItsOwnChannelOnly() throws {
        let token = VisitorToken(visitorID: VisitorToken.newVisitorID(), issuedAt: now)
        let text = token.encoded(channelID: "web", key: key)
        #expect(text.hasPrefix("v1.\(token.visitorID).1795000000."))
        #expect(try VisitorToken.verify(text, channelID: "web", key: key, now: now.addingTimeInterval(3600), ttl: ttl) == token)
        #expect(throws: VisitorToken.Rejection.badSignature) { try VisitorToken.verify(text, channelID: "shop", key: key, now: now, ttl: ttl) }
        #expect(throws: VisitorToken.Rejection.badSignature) {
            try VisitorToken.verify(text, channelID: "web", key: TokenKey(bytes: Array(repeating: 8, count: 32)), now: now, ttl: ttl)
        }
    }

    @Test func aTamperedForgedOrMalformedTokenIsRefused() throws {
        let token = VisitorToken(visitorID: "0123456789abcdef01234567", issuedAt: now).encoded(channelID: "web", key: key)
        let otherVisitor = token.replacingOccurrences(of: "0123456789abcdef01234567", with: "0123456789abcdef01234568")
        #expect(throws: VisitorToken.Rejection.badSignature) { try VisitorToken.verify(otherVisitor, channelID: "web", key: key, now: now, ttl: ttl) }
        let later = token.replacingOccurrences(of: ".1795000000.", with: ".1795000001.")
        #expect(throws: VisitorToken.Rejection.badSignature) { try VisitorToken.verify(later, channelID: "web", key: key, now: now, ttl: ttl) }
        for bad in ["", "v1", "v2" + token.dropFirst(2), "v1.NOTHEX.1.abc", token + ".x", String(token.dropLast(3)), String(repeating: "a", count: 300)] {
            #expect(throws: VisitorToken.Rejection.self) { try VisitorToken.verify(bad, channelID: "web", key: key, now: now, ttl: ttl) }
        }
    }

    @Test func tokensExpireAndMayNotComeFromTheFuture() throws {
        let token = VisitorToken(visitorID: VisitorToken.newVisitorID(), issuedAt: now).encoded(channelID: "web", key: key)
        #expect(throws: VisitorToken.Rejection.expired) { try VisitorToken.verify(token, channelID: "web", key: key, now: now.addingTimeInterval(ttl + 1), ttl: ttl) }
        #expect(throws: VisitorToken.Rejection.fromTheFuture) { try VisitorToken.verify(token, channelID: "web", key: key, now: now.addingTimeInterval(-301), ttl: ttl) }
        _ = try VisitorToken.verify(token, channelID: "web", key: key, now: now.addingTimeInterval(-299), ttl: ttl)
    }

    @Test func visitorIDsAreRandomHex() {
        let ids = Set((0..<200).map { _ in VisitorToken.newVisitorID() })
        #expect(ids.count == 200)
        #expect(ids.allSatisfy(VisitorToken.isVisitorID))
    }
}

@Suite struct OriginPolicyTests {
    @Test(arguments: [
        ("https://Riverside.Example", "https://riverside.example"), ("https://riverside.example/", "https://riverside.example"),
        ("https://riverside.example:443", "https://riverside.example"), ("http://localhost:8000", "http://localhost:8000"),
        ("http://[::1]:8080", "http://[::1]:8080"),
    ])
    func originsAreNormalized(_ input: String, _ expected: String) {
        #expect(OriginPolicy.normalize(input) == expected)
    }

    @Test(arguments: ["riverside.example", "https://riverside.example/shop", "ftp://riverside.example", "https://", "null", "https://a@b.example",
                      "https://riverside.example:99999", "https://riverside.example?x=1"])
    func notAnOrigin(_ input: String) {
        #expect(OriginPolicy.normalize(input) == nil)
    }

    @Test func theGatewaysOwnPageAndTheListedSitesAreAllowedNothingElse() {
        let policy = OriginPolicy(allowed: ["https://riverside.example", "http://localhost:8000"])
        #expect(policy.judge(origin: "https://riverside.example", host: "gw.example.com") == .allowed)
        #expect(policy.judge(origin: "http://localhost:8000", host: "gw.example.com") == .allowed)
        #expect(policy.judge(origin: "https://gw.example.com", host: "gw.example.com") == .sameOrigin)
        #expect(policy.judge(origin: "http://127.0.0.1:8080", host: "127.0.0.1:8080") == .sameOrigin)
        #expect(policy.judge(origin: "https://evil.example", host: "gw.example.com") == .refused)
        #expect(policy.judge(origin: "http://riverside.example", host: "gw.example.com") == .refused, "the scheme counts")
        #expect(policy.judge(origin: "https://riverside.example.evil.example", host: "gw.example.com") == .refused)
        #expect(policy.judge(origin: "null", host: "gw.example.com") == .refused)
        #expect(policy.judge(origin: nil, host: "gw.example.com") == .noOrigin)
    }

    /// Configured origins are normalized at load; the header is compared as browsers spell it, so
    /// a trailing slash (or capitals, or a default port) is refused — for a listed site and for
    /// the gateway's own page alike, at the handshake and at the session call alike.
    @Test(arguments: ["https://riverside.example/", "HTTPS://Riverside.example", "https://riverside.example:443", "http://gw.example.com/",
                      "http://GW.example.com"])
    func anOriginHeaderNotSpelledAsBrowsersSendItIsRefused(_ header: String) async throws {
        let policy = OriginPolicy(allowed: ["https://riverside.example/"])
        #expect(policy.allowed == ["https://riverside.example"], "a trailing slash in the config is forgiven")
        #expect(policy.judge(origin: "https://riverside.example", host: "gw.example.com") == .allowed)
        #expect(policy.judge(origin: header, host: "gw.example.com") == .refused)

        let bed = try WidgetTestbed(WidgetChannel.Configuration(allowedOrigins: ["https://riverside.example/"]))
        #expect(!bed.channel.acceptsSocket(BrowserRequest(method: "GET", path: "ws", headers: ["Origin": header, "Host": "gw.example.com"])))
        let session = await bed.channel.handleBrowserRequest(bed.session(body: "{}", origin: header))
        #expect(session.status == 403)
        let preflight = await bed.channel.handleBrowserRequest(
            BrowserRequest(method: "OPTIONS", path: "session", headers: ["Origin": header, "Host": "gw.example.com"]))
        #expect(preflight.status == 403)
    }
}

@Suite struct TokenBucketTests {
    @Test func aBurstThenTheRefillRate() {
        let start = ContinuousClock.now
        var bucket = TokenBucket(capacity: 3, perMinute: 60, now: start)
        #expect(bucket.take(now: start) == nil)
        #expect(bucket.take(now: start) == nil)
        #expect(bucket.take(now: start) == nil)
        #expect(bucket.take(now: start) == .milliseconds(1000), "empty: one token a second")
        #expect(bucket.take(now: start + .milliseconds(500)) == .milliseconds(500))
        #expect(bucket.take(now: start + .milliseconds(1000)) == nil)
        #expect(!bucket.isFull(now: start + .seconds(3)))
        #expect(bucket.isFull(now: start + .seconds(4)))
    }

    @Test func aKeyedLimiterForgetsRefilledKeys() {
        let limiter = KeyedRateLimiter(capacity: 1, perSecond: 1)
        let start = ContinuousClock.now
        for i in 0..<1022 { #expect(limiter.take("k\(i)", now: start) == nil) }
        #expect(limiter.take("k0", now: start) != nil, "limited per key")
        #expect(limiter.take("other", now: start + .seconds(5)) == nil)
        #expect(limiter.trackedKeys == 1, "every refilled bucket was dropped at the sweep")
    }
}

@Suite struct WidgetConfigurationTests {
    private func decode(_ json: String) throws -> WidgetChannel.Configuration {
        try JSONDecoder().decode(WidgetChannel.Configuration.self, from: Data(json.utf8))
    }

    @Test func defaults() throws {
        let c = try decode("{}")
        #expect(c.allowedOrigins.isEmpty && c.title == "Chat with us" && c.accentColor == "#0f766e" && c.position == .right)
        #expect(c.maxTextLength == 4000 && c.maxFrameBytes == 16384 && c.messagesPerMinute == 20 && c.messageBurst == 5)
        #expect(c.maxConnectionsPerVisitor == 5 && c.historyLimit == 50 && c.authTimeout == 10 && c.tokenTTLDays == 180 && c.demo && c.askContact)
        #expect(c.tokenSecret == nil)
    }

    @Test func everyKey() throws {
        let c = try decode(
            #"""
            {"allowed_origins": ["https://Riverside.example/", "http://localhost:8000"], "title": "Riverside Hotel", "subtitle": "Alexey replies fast",
             "greeting": "Hello!", "launcher_label": "Chat", "accent_color": "#1D4ED8", "accent_text_color": "#fff", "position": "left",
             "ask_contact": false, "demo": false, "token_secret": "0123456789abcdef0123456789abcdef", "token_ttl_days": 30,
             "max_text_length": 2000, "max_frame_bytes": 8192, "messages_per_minute": 10, "message_burst": 3,
             "max_connections_per_visitor": 2, "history_limit": 20, "auth_timeout": 5}
            """#)
        #expect(c.allowedOrigins == ["https://riverside.example", "http://localhost:8000"])
        #expect(c.title == "Riverside Hotel" && c.subtitle == "Alexey replies fast" && c.greeting == "Hello!" && c.launcherLabel == "Chat")
        #expect(c.accentColor == "#1d4ed8" && c.accentTextColor == "#fff" && c.position == .left && !c.askContact && !c.demo)
        #expect(c.tokenSecret?.value.count == 32 && c.tokenTTLDays == 30 && c.maxTextLength == 2000 && c.maxFrameBytes == 8192)
        #expect(c.messagesPerMinute == 10 && c.messageBurst == 3 && c.maxConnectionsPerVisitor == 2 && c.historyLimit == 20 && c.authTimeout == 5)
    }

    @Test(arguments: [
        (#"{"allowed_origin": []}"#, "unknown key 'allowed_origin'"),
        (#"{"allowed_origins": ["riverside.example"]}"#, "scheme://host[:port]"),
        (#"{"allowed_origins": ["https://riverside.example/shop"]}"#, "no path"),
        (#"{"accent_color": "teal"}"#, "hex colour"),
        (#"{"position": "top"}"#, "position must be one of right, left"),
        (#"{"token_secret": "short"}"#, "at least 32 characters"),
        (#"{"title": ""}"#, "title must be 1–80 characters"),
        (#"{"max_frame_bytes": 100}"#, "max_frame_bytes must be 1024–1048576"),
        (#"{"messages_per_minute": 0}"#, "messages_per_minute must be"),
    ])
    func refusesWithAMessageThatSaysWhat(_ json: String, _ expected: String) {
        do {
            _ = try decode(json)
            Issue.record("accepted \(json)")
        } catch let DecodingError.dataCorrupted(context) {
            #expect(context.debugDescription.contains(expected), "\(context.debugDescription)")
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func theSecretNeverAppearsInTheError() {
        do {
            _ = try decode(#"{"token_secret": "hunter2-is-my-password"}"#)
        } catch {
            #expect(!"\(error)".contains("hunter2"))
        }
    }
}
