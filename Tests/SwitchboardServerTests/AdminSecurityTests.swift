import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import SwitchboardChannels
import SwitchboardConfig
import SwitchboardCore
import SwitchboardFakes
import SwitchboardTesting
import Testing

@testable import SwitchboardServer

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A config folder with `config.yaml` and no channels, for gateways built without running.
private func configFolder(_ yaml: String) throws -> (URL, GatewayConfig) {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sb-admin-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    let path = directory.appendingPathComponent("config.yaml")
    try (yaml + "\nemployees:\n  - id: alexey\n").write(to: path, atomically: true, encoding: .utf8)
    return (directory, try ConfigLoader(channelValidators: ChannelRegistry.validators, environment: [:]).load(configPath: path.path))
}

@Suite(.serialized) struct AdminTokenDefaultsTests {
    @Test func withoutATokenOneIsGeneratedKeptBesideTheDatabaseAndAnnouncedByPathOnly() async throws {
        let (directory, config) = try configFolder("storage: { sqlite: state/db.sqlite }")
        defer { try? FileManager.default.removeItem(at: directory) }
        let capture = LogCapture()
        let first = try Gateway(config: config, options: GatewayOptions(host: "0.0.0.0", port: 0, logger: capture.logger(level: .info)))
        let file = directory.appendingPathComponent("state/admin-token").path
        let saved = try String(contentsOfFile: file, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(saved.count == 64 && saved.allSatisfy(\.isHexDigit))
        #expect(first.adminAccess.current?.value == saved)
        try await first.httpClient.shutdown()
        let permissions = try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as? Int
        #expect(permissions == 0o600)
        let announced = capture.all.filter { $0.contains(file) }
        #expect(announced.count == 1 && announced[0].contains("/signin"), "says once where the token is: \(capture.all)")
        #expect(!capture.all.contains { $0.contains(saved) }, "never what it is")

        // The next start uses the same token and does not announce a new one.
        let again = LogCapture()
        let second = try Gateway(config: config, options: GatewayOptions(host: "0.0.0.0", port: 0, logger: again.logger(level: .info)))
        #expect(second.adminAccess.current?.value == saved)
        try await second.httpClient.shutdown()
        #expect(!again.all.contains { $0.contains("generated and saved") || $0.contains("was generated") })
    }

    @Test(arguments: ["change-me-admin-token", "short-token-1", "CHANGE-ME-please-0123456789"])
    func aWeakTokenIsRefusedBeyondLoopbackAndWarnedAboutOnIt(token: String) async throws {
        let (directory, config) = try configFolder("admin: { token: \(token) }")
        defer { try? FileManager.default.removeItem(at: directory) }
        for host in ["0.0.0.0", "192.0.2.10", "::"] {
            #expect(throws: GatewayStartupError.self, "listening on \(host)") {
                _ = try Gateway(config: config, options: GatewayOptions(host: host, port: 0))
            }
        }
        let capture = LogCapture()
        let gateway = try Gateway(config: config, options: GatewayOptions(host: "127.0.0.1", port: 0, logger: capture.logger(level: .info)))
        #expect(gateway.adminAccess.current?.value == token)
        try await gateway.httpClient.shutdown()
        #expect(capture.all.contains { $0.contains("warning") && $0.contains("loopback") })
        #expect(!capture.all.contains { $0.contains(token) })
    }

    @Test func theShippedConfigStartsOnAFreshMachineWithAGeneratedToken() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let text = try String(contentsOf: root.appendingPathComponent("config.yaml"), encoding: .utf8)
        let config = try ConfigLoader(channelValidators: ChannelRegistry.validators, environment: [:])
            .parse(config: text, file: "config.yaml", channels: [], baseDirectory: "/tmp")
        #expect(config.admin.token == nil, "no placeholder token: the gateway generates one")
    }
}

@Suite(.serialized) struct RotationTests {
    @Test func aNewAdminTokenAndComposerKeyApplyOnReload() async throws {
        let h = try await GatewayHarness()
        defer { Task { await h.shutdown() } }
        #expect(try await h.get("/api/followups").0 == 200)

        let newToken = "rotated-admin-token-9876543210"
        let path = h.directory.appendingPathComponent("config.yaml")
        let original = try String(contentsOf: path, encoding: .utf8)
        try original.replacingOccurrences(of: GatewayHarness.adminToken, with: newToken).replacingOccurrences(of: "api_key: sk-test", with: "api_key: sk-rotated")
            .write(to: path, atomically: true, encoding: .utf8)
        for _ in 0..<100 where h.gateway.adminAccess.current?.value != newToken {
            try await Task.sleep(nanoseconds: 100_000_000)
        }
        #expect(try await h.get("/api/followups").0 == 401, "the old token is revoked")
        #expect(try await h.get("/api/followups", token: newToken).0 == 200)

        _ = try await h.deliver(GatewayHarness.textUpdate("Hello"))
        try await eventually("reply") { h.sentTexts.count == 1 }
        #expect(h.openAI.requests.last?.headers["authorization"] == "Bearer sk-rotated", "the composer uses the new key")
    }
}

/// Sends one raw HTTP/1.1 request from `source` (an address on this machine) and returns the
/// response's status code — the gateway sees `source` as the peer.
func rawRequest(from source: String, port: Int, _ text: String) async throws -> Int {
    try await rawResponse(from: source, port: port, text).code
}

/// The status code and the head (status line and headers) of the response to a raw request.
func rawResponse(from source: String, port: Int, _ text: String) async throws -> (code: Int, head: String) {
    // Blocking socket calls run on a thread of their own: on a small machine, blocking the few
    // threads of Swift's cooperative pool would stall the gateway under test as well.
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread {
            continuation.resume(with: Result { try blockingRawResponse(from: source, port: port, text) })
        }
    }
}

private func blockingRawResponse(from source: String, port: Int, _ text: String) throws -> (code: Int, head: String) {
    try {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ContractViolation(description: "socket() failed") }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        func address(_ ip: String, _ port: Int) -> sockaddr_in {
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            inet_pton(AF_INET, ip, &address.sin_addr)
            return address
        }
        var local = address(source, 0)
        var remote = address("127.0.0.1", port)
        let bound = withUnsafePointer(to: &local) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard bound == 0 else { throw ContractViolation(description: "cannot bind to \(source)") }
        let connected = withUnsafePointer(to: &remote) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard connected == 0 else { throw ContractViolation(description: "cannot connect") }
        let bytes = Array(text.utf8)
        guard send(fd, bytes, bytes.count, 0) == bytes.count else { throw ContractViolation(description: "short write") }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = recv(fd, &buffer, buffer.count, 0)
        let head = String(decoding: buffer.prefix(max(count, 0)), as: UTF8.self)
        guard head.hasPrefix("HTTP/1.1 "), let code = Int(head.dropFirst(9).prefix(3)) else {
            throw ContractViolation(description: "no HTTP response: \(head)")
        }
        return (code, head)
    }()
}

private func signIn(token: String, forwardedFor: String? = nil) -> String {
    let body = "token=\(token)&next=/followups"
    let forwarded = forwardedFor.map { "X-Forwarded-For: \($0)\r\n" } ?? ""
    return "POST /signin HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n\(forwarded)Content-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)"
}

private func api(token: String, forwardedFor: String? = nil) -> String {
    let forwarded = forwardedFor.map { "X-Forwarded-For: \($0)\r\n" } ?? ""
    return "GET /api/followups HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(token)\r\n\(forwarded)Connection: close\r\n\r\n"
}

@Suite(.serialized) struct SignInLimiterTests {
    var port: (GatewayHarness) -> Int { { Int($0.baseURL.split(separator: ":").last!)! } }

    @Test func failuresFromOneAddressNeverLockOutAnother() async throws {
        let h = try await GatewayHarness()
        defer { Task { await h.shutdown() } }
        let port = port(h)
        for _ in 0..<5 { #expect(try await rawRequest(from: "127.0.0.2", port: port, signIn(token: "wrong-token-0123456789")) == 401) }
        #expect(try await rawRequest(from: "127.0.0.2", port: port, signIn(token: "wrong-token-0123456789")) == 429)
        #expect(try await rawRequest(from: "127.0.0.2", port: port, api(token: "wrong-token-0123456789")) == 429, "the API shares the limit")
        #expect(try await rawRequest(from: "127.0.0.2", port: port, signIn(token: GatewayHarness.adminToken)) == 429, "limited: not even checked")

        #expect(try await rawRequest(from: "127.0.0.1", port: port, signIn(token: GatewayHarness.adminToken)) == 303)
        #expect(try await rawRequest(from: "127.0.0.1", port: port, api(token: GatewayHarness.adminToken)) == 200)
    }

    @Test func wrongBearerTokensOnTheAPIAreThrottledPerAddress() async throws {
        let h = try await GatewayHarness()
        defer { Task { await h.shutdown() } }
        let port = port(h)
        for _ in 0..<5 { #expect(try await rawRequest(from: "127.0.0.3", port: port, api(token: "guess-0123456789abcdef")) == 401) }
        #expect(try await rawRequest(from: "127.0.0.3", port: port, api(token: "guess-0123456789abcdef")) == 429)
        #expect(try await rawRequest(from: "127.0.0.1", port: port, api(token: GatewayHarness.adminToken)) == 200)
    }

    @Test func aForwardedForHeaderFromAnUntrustedPeerIsIgnored() async throws {
        let h = try await GatewayHarness()
        defer { Task { await h.shutdown() } }
        let port = port(h)
        // 127.0.0.2 blames 127.0.0.1 for its failures; the gateway blames 127.0.0.2.
        for _ in 0..<5 {
            #expect(try await rawRequest(from: "127.0.0.2", port: port, signIn(token: "wrong-token-0123456789", forwardedFor: "127.0.0.1")) == 401)
        }
        #expect(try await rawRequest(from: "127.0.0.2", port: port, signIn(token: "wrong", forwardedFor: "198.51.100.7")) == 429, "a new header is no way out")
        #expect(try await rawRequest(from: "127.0.0.1", port: port, signIn(token: GatewayHarness.adminToken)) == 303)
    }

    @Test func aTrustedProxysForwardedForNamesTheClient() async throws {
        let h = try await GatewayHarness(extraConfig: "server: { trusted_proxies: [127.0.0.2] }")
        defer { Task { await h.shutdown() } }
        let port = port(h)
        for _ in 0..<5 {
            #expect(try await rawRequest(from: "127.0.0.2", port: port, signIn(token: "wrong-token-0123456789", forwardedFor: "203.0.113.9")) == 401)
        }
        #expect(try await rawRequest(from: "127.0.0.2", port: port, signIn(token: GatewayHarness.adminToken, forwardedFor: "203.0.113.9")) == 429)
        // Another client behind the same proxy, and the proxy's own requests, are not limited.
        #expect(try await rawRequest(from: "127.0.0.2", port: port, signIn(token: GatewayHarness.adminToken, forwardedFor: "203.0.113.10")) == 303)
        #expect(
            try await rawRequest(from: "127.0.0.2", port: port, signIn(token: GatewayHarness.adminToken, forwardedFor: "10.9.9.9, 203.0.113.10")) == 303,
            "the nearest untrusted hop counts, not what the client wrote first")
    }
}

@Suite struct SignInRedirectTests {
    @Test(arguments: [
        "/\t/evil.example", "/%09/evil.example", "//evil.example", "/%2F/evil.example", "/%2f%2fevil.example", "/\\evil.example",
        "/%5Cevil.example", "/%5c%5cevil.example", "/\n/evil.example", "/%0d%0a/evil.example", "/%252F%252Fevil.example",
        "https://evil.example", "evil.example", "", "/\u{200B}/evil.example", "/%E2%80%8B/evil.example", "/%00/evil.example", "/%zz",
        " /followups", "/followups//x", "/%2509/evil.example",
    ])
    func hostileNextValuesFallBackToTheFollowUpsPage(next: String) {
        #expect(PageAuth.safeNext(next) == "/followups")
    }

    @Test(arguments: ["/followups", "/chats/abc", "/followups?search=ana&employee=alexey", "/followups%3Fsearch%3Dana", "/chats/%D0%B0%D0%B1"])
    func sameOriginPathsAreKept(next: String) {
        #expect(PageAuth.safeNext(next) == next)
    }

    @Test func signingInWithAHostileNextLandsOnTheFollowUpsPage() async throws {
        let h = try await GatewayHarness()
        defer { Task { await h.shutdown() } }
        // The form field as a browser posts it from /signin?next=/%09/evil.example.
        let body = "token=\(GatewayHarness.adminToken)&next=%2F%09%2Fevil.example"
        let port = Int(h.baseURL.split(separator: ":").last!)!
        let (code, head) = try await rawResponse(
            from: "127.0.0.1", port: port,
            "POST /signin HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)")
        #expect(code == 303)
        #expect(head.lowercased().contains("location: /followups\r\n"), "\(head)")
    }
}

@Suite(.serialized) struct ReadinessTests {
    @Test func readyWhenEverythingWorksAndNamesTheComposerWhenItFailsPermanently() async throws {
        let h = try await GatewayHarness()
        defer { Task { await h.shutdown() } }
        let ready = try await h.get("/readyz", token: nil)
        #expect(ready.0 == 200 && ready.1.contains(#""status":"ready""#), "\(ready)")
        #expect(try await h.get("/healthz", token: nil).0 == 200)

        h.gateway.composerHealth.fail("the API key was refused: set composer.api_key")
        let failing = try await h.get("/readyz", token: nil)
        #expect(failing.0 == 503)
        #expect(failing.1.contains(#""component":"composer""#) && failing.1.contains("composer.api_key"), "\(failing.1)")
        #expect(try await h.get("/healthz", token: nil).0 == 200, "liveness is not readiness")
        h.gateway.composerHealth.recover()
        #expect(try await h.get("/readyz", token: nil).0 == 200)
    }

    @Test func aChannelWhoseTokenIsRefusedMakesTheGatewayNotReady() async throws {
        let h = try await GatewayHarness(channelFiles: [
            "revoked.yaml": """
            type: telegram
            id: revoked
            employee: alexey
            token: "111:revoked-token"
            mode: polling
            api_base: {telegram_api}
            """
        ])
        defer { Task { await h.shutdown() } }
        try await eventually("channel down") { try await h.get("/readyz", token: nil).0 == 503 }
        let report = try await h.get("/readyz", token: nil).1
        #expect(report.contains(#""component":"channel:revoked""#), "\(report)")
        #expect(!report.contains("channel:tg"), "the working channel is fine")
        #expect(!report.contains("revoked-token"))
    }

    @Test func theReportNamesAStoreThatCannotWrite() {
        let report = ReadinessReport.assemble(store: "the store cannot write (disk I/O error)", channels: [], composer: ComponentHealth())
        #expect(!report.isReady && report.problems == [.init(component: "store", problem: "the store cannot write (disk I/O error)")])
        #expect(ReadinessReport.assemble(store: nil, channels: [("tg", ComponentHealth())], composer: ComponentHealth()).isReady)
    }

    @Test func metricsCanRequireAToken() async throws {
        let h = try await GatewayHarness(extraConfig: "server: { metrics_token: metrics-token-0123456789 }")
        defer { Task { await h.shutdown() } }
        #expect(try await h.get("/metrics", token: nil).0 == 401)
        #expect(try await h.get("/metrics", token: "wrong-token-0123456789").0 == 401)
        let metrics = try await h.get("/metrics", token: "metrics-token-0123456789")
        #expect(metrics.0 == 200)
    }
}

@Suite struct WebhookScreeningTests {
    /// The secret header is checked before the body is read: an oversized body without it is
    /// refused as unauthorized (401), not measured (413).
    @Test func aWebhookWithoutTheSecretIsRefusedBeforeItsBodyIsRead() async throws {
        let h = try await GatewayHarness()
        defer { Task { await h.shutdown() } }
        let big = String(repeating: "x", count: 2 << 20)
        #expect(try await h.deliver(big, secret: nil).0 == 401)
        #expect(try await h.deliver(big, secret: "wrong-secret").0 == 401)
        #expect(try await h.deliver(big).0 == 413, "with the secret, the size limit applies")
        #expect(try await h.deliver(GatewayHarness.textUpdate("Hello")).0 == 200)
    }
}
