import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import SwitchboardStoreSQLite
import Synchronization
import SwitchboardTesting
import Testing

@testable import SwitchboardServer

/// §8 and issue 9: a seeded subset of `bench/fuzz.py` run in-process on every `swift test` —
/// hostile inputs on every route that takes outside input (the Telegram webhook, the widget's
/// HTTP endpoints and socket frames, sign-in, the admin API, raw HTTP framing), with and without
/// valid credentials. None may get a 5xx, the gateway must keep serving, and the inputs without
/// credentials must not write a single row.
///
/// `SWITCHBOARD_FUZZ_CASES` (default 2000) and `SWITCHBOARD_FUZZ_SEED` (default 20261123)
/// replay or widen a run; a failure prints the seed and the cases that failed.
@Suite(.serialized) struct FuzzTests {
    static let environment = ProcessInfo.processInfo.environment
    static let cases = min(Int(environment["SWITCHBOARD_FUZZ_CASES"] ?? "") ?? 2000, 200_000)
    static let seed = UInt64(environment["SWITCHBOARD_FUZZ_SEED"] ?? "") ?? 20_261_123

    @Test func hostileInputsGetNo5xxAndWithoutCredentialsWriteNothing() async throws {
        let widget = """
            type: widget
            id: web
            employee: alexey
            allowed_origins: [http://localhost:8000]
            token_secret: fuzz-widget-secret-0123456789abcdef0123
            """
        // Errors only: refused tokens are logged as warnings, and there are hundreds of them here.
        var logger = Logger(label: "fuzz")
        logger.logLevel = .error
        let h = try await GatewayHarness(
            extraConfig: "server: { header_timeout: 2s, body_timeout: 2s, idle_timeout: 5s }", logger: logger, channelFiles: ["widget.yaml": widget])
        defer { Task { await h.shutdown() } }
        let store = try #require(h.gateway.store as? SQLiteStore)

        // Valid visitor tokens, the way the widget gets them.
        var tokens: [String] = []
        for _ in 0..<4 {
            let (status, body) = try await h.send("POST", "/widget/web/session", headers: [("Content-Type", "text/plain")], body: Array(#"{"visitor_token": null}"#.utf8))
            let token = try #require(
                (try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])?["visitor_token"] as? String, "\(status) \(body)")
            tokens.append(token)
        }

        var generator = FuzzCaseGenerator(seed: Self.seed, tokens: tokens)
        let authenticated = (0..<(Self.cases / 2)).map { _ in generator.next(authenticated: true) }
        let unauthenticated = (0..<(Self.cases - Self.cases / 2)).map { _ in generator.next(authenticated: false) }

        // With credentials first: its messages are answered (rows written, as they should be);
        // then, once the store is quiet, nothing without credentials may add a row.
        let withCredentials = await run(authenticated, on: h)
        let before = try await settled(store)
        let without = await run(unauthenticated, on: h)
        try await Task.sleep(for: .milliseconds(300))
        let after = try await store.rowCounts()

        for (phase, outcome) in [("with credentials", withCredentials), ("without credentials", without)] {
            #expect(outcome.fiveXX.isEmpty, "seed \(Self.seed), \(phase): 5xx for \(outcome.fiveXX.prefix(10))")
            #expect(outcome.silent.isEmpty, "seed \(Self.seed), \(phase): well-formed requests closed without an answer: \(outcome.silent.prefix(10))")
        }
        // Failed tokens and new widget visitors are counted per client address in the shared
        // state (that is what limits them across processes): a few rows for the one address
        // the fuzzer sends from, lapsing on their own — and nothing else.
        let counters = (after["shared_state"] ?? 0) - (before["shared_state"] ?? 0)
        #expect(counters <= 3, "seed \(Self.seed): requests without credentials added \(counters) shared-state rows")
        #expect(before.filter { $0.key != "shared_state" } == after.filter { $0.key != "shared_state" },
                "seed \(Self.seed): requests without credentials wrote rows: \(before) → \(after)")
        #expect(try await h.get("/healthz", token: nil).0 == 200, "the gateway still serves")
        #expect(withCredentials.statuses.keys.contains(200), "the run reached the routes: \(withCredentials.statuses)")
        #expect(withCredentials.statuses.keys.contains(101), "the run reached the widget's socket: \(withCredentials.statuses)")
    }

    /// Runs the cases eight at a time; collects status codes, 5xx and silent closes.
    private func run(_ cases: [FuzzCase], on h: GatewayHarness) async -> FuzzOutcome {
        let outcome = OutcomeBox()
        await withTaskGroup(of: Void.self) { group in
            for (index, fuzzCase) in cases.enumerated() {
                if index >= 8 { await group.next() }
                group.addTask {
                    let status = await fuzzCase.perform(on: h)
                    outcome.value.withLock { $0.record(fuzzCase, status: status) }
                }
            }
        }
        return outcome.value.withLock { $0 }
    }

    /// Row counts once nothing is being written any more (replies to the messages with credentials).
    private func settled(_ store: SQLiteStore) async throws -> [String: Int] {
        var last = try await store.rowCounts()
        for _ in 0..<100 {
            try await Task.sleep(for: .milliseconds(200))
            let now = try await store.rowCounts()
            if now == last { return now }
            last = now
        }
        return last
    }
}

final class OutcomeBox: Sendable {
    let value = Mutex(FuzzOutcome())
}

struct FuzzOutcome: Sendable {
    var statuses: [Int: Int] = [:]
    var fiveXX: [String] = []
    var silent: [String] = []

    mutating func record(_ fuzzCase: FuzzCase, status: Int?) {
        statuses[status ?? -1, default: 0] += 1
        if let status, status >= 500 { fiveXX.append("\(status) \(fuzzCase.label)") }
        if status == nil, fuzzCase.expectsAnswer { silent.append(fuzzCase.label) }
    }
}

/// One hostile input: a well-formed HTTP request with hostile contents (sent with AsyncHTTPClient),
/// raw bytes on a socket (broken framing), or a widget socket with hostile frames.
struct FuzzCase: Sendable {
    enum Kind: Sendable {
        case http(method: String, path: String, headers: [(String, String)], body: [UInt8])
        case raw(bytes: [UInt8], closeWrite: Bool)
        case socket(path: String, origin: String?, frames: [[UInt8]])
    }

    let kind: Kind
    let label: String

    /// A well-formed request always gets an answer; broken framing may get `400` or a close.
    var expectsAnswer: Bool {
        if case .http = kind { return true }
        return false
    }

    /// The status code, or `nil` when the connection closed without one.
    func perform(on h: GatewayHarness) async -> Int? {
        switch kind {
        case .http(let method, let path, let headers, let body):
            return try? await h.send(method, path, headers: headers, body: body).0
        case .raw(let bytes, let closeWrite):
            guard let connection = try? await RawConnection.open(port: h.boundPort, receiveTimeout: .seconds(6)) else { return nil }
            defer { connection.close() }
            try? await connection.send(bytes)
            if closeWrite { try? await connection.shutdownWrite() }
            return (try? await connection.readUntilClosed()).flatMap(Self.status)
        case .socket(let path, let origin, let frames):
            guard let connection = try? await RawConnection.open(port: h.boundPort, receiveTimeout: .milliseconds(300)) else { return nil }
            defer { connection.close() }
            var handshake = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            handshake += "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
            if let origin { handshake += "Origin: \(origin)\r\n" }
            try? await connection.send(Array((handshake + "\r\n").utf8))
            guard let head = try? await connection.readResponse(), let status = Self.status(head) else { return nil }
            guard status == 101 else { return status }
            for frame in frames { try? await connection.send(frame) }
            _ = try? await connection.readUntilClosed()
            return status
        }
    }

    static func status(_ text: String) -> Int? {
        guard text.hasPrefix("HTTP/1.1 "), let code = Int(text.dropFirst(9).prefix(3)) else { return nil }
        return code
    }
}

/// Generates hostile cases the way `bench/fuzz.py` does, from a seed.
struct FuzzCaseGenerator {
    var rng: SplitMix64
    let tokens: [String]
    private var updateID = 5_000_000

    init(seed: UInt64, tokens: [String]) {
        rng = SplitMix64(seed: seed)
        self.tokens = tokens
    }

    static let invalidUTF8: [[UInt8]] = [
        [0xFF], [0xC0, 0xAF], [0xE0, 0x80, 0xAF], [0xF0, 0x80, 0x80, 0xAF], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xC3], [0x80, 0x80],
        [0xFE, 0xFE, 0xFF, 0xFF],
    ]
    static let hugeNumbers = [
        "1e999999", "-1e999999", "99999999999999999999999999999999999999", "-9223372036854775809", "18446744073709551616", "NaN", "Infinity",
        "-0", String(repeating: "1", count: 5000), "0x10", "+1",
    ]
    static let weirdStrings = [
        "", " ", "\u{0}", "\u{202E}abc", "'; DROP TABLE chats; --", "<script>alert(1)</script>", "../../../etc/passwd", "${SWITCHBOARD_ADMIN_TOKEN}",
        "\r\nSet-Cookie: x=y", String(repeating: "a", count: 70_000), String(repeating: "михаил", count: 1000), String(repeating: "😀", count: 200),
    ]

    mutating func pick<T>(_ values: [T]) -> T { values[Int.random(in: 0..<values.count, using: &rng)] }
    mutating func chance(_ p: Double) -> Bool { Double.random(in: 0..<1, using: &rng) < p }
    mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &rng) }
    mutating func bytes(_ count: Int? = nil) -> [UInt8] {
        let n = count ?? pick([0, 1, 7, 64, 512, 4096])
        return (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }
    }

    mutating func scalar() -> String {
        switch int(0...6) {
        case 0: return pick(Self.hugeNumbers)
        case 1: return jsonString(pick(Self.weirdStrings))
        case 2: return pick(["true", "false", "null", "[]", "{}", "\"\""])
        case 3: return "\(Int64.random(in: .min ... .max, using: &rng))"
        case 4: return "\"\\ud800\\u0000\\uZZZZ\""
        case 5: return jsonString(String(repeating: "x", count: pick([1000, 100_000])))
        default: return jsonString(pick(["alexey", "tg", "web", "1", "0", "-1"]))
        }
    }

    func jsonString(_ text: String) -> String {
        (try? String(decoding: JSONSerialization.data(withJSONObject: [text], options: [.fragmentsAllowed]), as: UTF8.self).dropFirst().dropLast())
            .map(String.init) ?? "\"\""
    }

    /// A body for a JSON endpoint: broken, or a valid document with hostile values.
    mutating func jsonBody(template: String) -> [UInt8] {
        switch int(0...8) {
        case 0: return bytes()
        case 1:
            let depth = pick([10, 100, 1000, 10_000, 100_000])
            let (open, close) = pick([("[", "]"), ("{\"a\":", "}")])
            return Array((String(repeating: open, count: depth) + scalar() + String(repeating: close, count: depth)).utf8)
        case 2: return Array(template.utf8.prefix(int(0...max(0, template.utf8.count - 1))))  // truncated
        case 3: return Array(repeating: pick(Self.invalidUTF8), count: int(1...50)).flatMap { $0 }
        case 4:  // invalid UTF-8 inside the document
            var body = Array(template.utf8)
            body.insert(contentsOf: pick(Self.invalidUTF8), at: int(0...body.count))
            return body
        case 5:  // every value of the template replaced by a hostile one
            var text = template
            for key in ["\"text\":", "\"update_id\":", "\"id\":", "\"enabled\":", "\"visitor_token\":", "\"date\":"] where chance(0.5) {
                if let range = text.range(of: key) { text.insert(contentsOf: scalar() + ",\"_\":", at: range.upperBound) }
            }
            return Array(text.utf8)
        case 6: return Array(("[" + (0..<int(1...500)).map { _ in scalar() }.joined(separator: ",") + "]").utf8)
        case 7: return Array(scalar().utf8)
        default: return Array(template.utf8)
        }
    }

    mutating func telegramUpdate() -> String {
        updateID += 1
        let chat = int(1...50)
        return """
            {"update_id": \(updateID), "message": {"message_id": \(updateID), "date": 1763880000, "text": "fuzz \(updateID)",
             "from": {"id": \(chat), "is_bot": false, "first_name": "Fuzz"}, "chat": {"id": \(chat), "type": "private", "first_name": "Fuzz"}}}
            """
    }

    mutating func next(authenticated: Bool) -> FuzzCase {
        let roll = Double.random(in: 0..<1, using: &rng)
        if roll < 0.30 { return webhook(authenticated) }
        if roll < 0.45 { return adminAPI(authenticated) }
        if roll < 0.55 { return signIn(authenticated) }
        if roll < 0.68 { return widgetHTTP(authenticated) }
        if roll < 0.80 { return widgetSocket(authenticated) }
        return framing(authenticated)
    }

    mutating func webhook(_ authenticated: Bool) -> FuzzCase {
        var headers = [("Content-Type", pick(["application/json", "text/plain", "application/json; charset=utf-16"]))]
        if authenticated {
            headers.append(("X-Telegram-Bot-Api-Secret-Token", GatewayHarness.secret))
        } else if let wrong = pick([nil, "", "wrong", String(GatewayHarness.secret.dropLast()), GatewayHarness.secret + "x", GatewayHarness.secret.uppercased()]) {
            headers.append(("X-Telegram-Bot-Api-Secret-Token", wrong))
        }
        let path = pick(["/webhooks/tg", "/webhooks/tg", "/webhooks/tg", "/webhooks/web", "/webhooks/nope", "/webhooks/tg?x=" + String(repeating: "y", count: 2000)])
        let method = chance(0.95) ? "POST" : pick(["GET", "PUT", "DELETE"])
        return FuzzCase(kind: .http(method: method, path: path, headers: headers, body: jsonBody(template: telegramUpdate())), label: "webhook \(method) \(path.prefix(40))")
    }

    mutating func adminAPI(_ authenticated: Bool) -> FuzzCase {
        let (method, path, template): (String, String, String?) = pick([
            ("GET", "/api/employees", nil), ("GET", "/api/followups?search=" + pick(["", "%ff%fe", String(repeating: "a", count: 300), "%00"]), nil),
            ("GET", "/api/followups?limit=" + pick(["-1", "0", "999999999999999999999", "abc"]), nil),
            ("GET", "/api/chats/" + pick(["1", "-1", "99999999999999999999", "%ff", String(repeating: "x", count: 500)]), nil),
            ("POST", "/api/chats/" + pick(["1", "2", "x", "%c0%af"]) + "/followup", #"{"enabled": false}"#),
            ("POST", "/api/chats/" + pick(["1", "2", "x"]) + "/messages", #"{"text": "hello"}"#),
            ("GET", "/api/usage?employee=alexey&from=" + pick(["2026-01-01", "x", "9999-99-99"]) + "&to=" + pick(["2026-02-01", "", "0000-00-00"]), nil),
            ("GET", "/api/" + pick(["", "..", "%2e%2e/", "chats"]), nil),
        ])
        var headers = [("Content-Type", "application/json")]
        if authenticated {
            headers.append(("Authorization", "Bearer \(GatewayHarness.adminToken)"))
        } else if let wrong = pick([
            nil, "Bearer", "Bearer \(GatewayHarness.adminToken.dropLast())", "bearer \(GatewayHarness.adminToken)", "Basic YWRtaW46YWRtaW4=",
            "Bearer " + String(repeating: "x", count: 5000),
        ]) {
            headers.append(("Authorization", wrong))
        }
        let body = template.map { jsonBody(template: $0) } ?? []
        return FuzzCase(kind: .http(method: method, path: path, headers: headers, body: body), label: "api \(method) \(path.prefix(60))")
    }

    mutating func signIn(_ authenticated: Bool) -> FuzzCase {
        let token = authenticated ? GatewayHarness.adminToken : pick(["", "wrong", String(GatewayHarness.adminToken.dropLast()), "%00"])
        let body: [UInt8]
        switch int(0...4) {
        case 0: body = bytes()
        case 1: body = Array(String(repeating: "&", count: int(1...5000)).utf8)
        case 2: body = Array("token=\(token)&next=".utf8) + Array(pick(["/%09/evil.example", "//evil", "\\\\evil", "/followups", "%ff%fe"]).utf8)
        case 3: body = Array("token=".utf8) + pick(Self.invalidUTF8) + Array("&next=%".utf8) + bytes(3)
        default: body = Array("token=\(token)".utf8)
        }
        let (method, path) = pick([
            ("POST", "/signin"), ("GET", "/signin?next=" + pick(["/%09/x", "//x", "%ff"])), ("POST", "/signout"), ("POST", "/chats/1/followup"),
            ("GET", "/followups?search=%ff"), ("GET", "/chats/%00"),
        ])
        return FuzzCase(
            kind: .http(method: method, path: path, headers: [("Content-Type", "application/x-www-form-urlencoded")], body: body), label: "signin \(method) \(path)")
    }

    mutating func widgetHTTP(_ authenticated: Bool) -> FuzzCase {
        let path = "/widget/" + pick(["web", "web", "web", "tg", "nope"]) + "/" + pick(["session", "session", "session", "widget.js", "demo", "ws", "x"])
        let method = pick(["POST", "POST", "POST", "GET", "OPTIONS", "HEAD"])
        var headers = [("Content-Type", "text/plain;charset=UTF-8")]
        if let origin = pick([nil, "http://localhost:8000", "null", "https://evil.example", "http://localhost:8000/"]) { headers.append(("Origin", origin)) }
        let token = authenticated ? pick(tokens) : forgedToken()
        return FuzzCase(
            kind: .http(method: method, path: path, headers: headers, body: jsonBody(template: "{\"visitor_token\": \"\(token)\"}")),
            label: "widget \(method) \(path)")
    }

    mutating func forgedToken() -> String {
        let good = pick(tokens)
        switch int(0...3) {
        case 0: return String(good.dropLast(2)) + "AA"
        case 1: return good.replacingOccurrences(of: "v1.", with: "v2.")
        case 2: return "v1." + bytes(20).map { String(format: "%02x", $0) }.joined()
        default: return String(pick(Self.weirdStrings).prefix(500))
        }
    }

    /// A WebSocket frame from a client (masked unless told otherwise).
    func frame(_ opcode: UInt8, _ payload: [UInt8], fin: Bool = true, masked: Bool = true, rsv: UInt8 = 0, length: Int? = nil) -> [UInt8] {
        var out: [UInt8] = [(fin ? 0x80 : 0) | (rsv << 4) | opcode]
        let n = length ?? payload.count
        let maskBit: UInt8 = masked ? 0x80 : 0
        if n < 126 {
            out.append(maskBit | UInt8(n))
        } else if n < 65536 {
            out.append(maskBit | 126)
            out += [UInt8(n >> 8), UInt8(n & 0xFF)]
        } else {
            out.append(maskBit | 127)
            out += (0..<8).reversed().map { UInt8((UInt64(n) >> (UInt64($0) * 8)) & 0xFF) }
        }
        guard masked else { return out + payload }
        let key: [UInt8] = [0x12, 0x34, 0x56, 0x78]
        return out + key + payload.enumerated().map { $0.element ^ key[$0.offset % 4] }
    }

    mutating func widgetSocket(_ authenticated: Bool) -> FuzzCase {
        let token = authenticated ? pick(tokens) : forgedToken()
        var frames: [[UInt8]] = []
        if chance(0.8) {
            frames.append(frame(1, Array("{\"type\":\"auth\",\"visitor_token\":\(jsonString(token)),\"last_seq\":\(pick(["null", "0", "-1", "1e99", "\"x\""]))}".utf8)))
        }
        for _ in 0..<int(1...4) {
            switch int(0...10) {
            case 0: frames.append(frame(1, jsonBody(template: #"{"type": "message", "client_msg_id": "abc", "text": "hi"}"#)))
            case 1: frames.append(frame(2, bytes()))
            case 2: frames.append(frame(1, Array(repeating: pick(Self.invalidUTF8), count: 5).flatMap { $0 }))
            case 3: frames.append(frame(pick([3, 4, 5, 6, 7, 11, 12, 15]), bytes(5)))
            case 4: frames.append(frame(1, Array(#"{"type":"message""#.utf8), fin: false) + frame(0, Array(repeating: 0x61, count: 20_000), fin: false))
            case 5: frames.append(Array(frame(1, Array("{}".utf8), length: 1 << 40).prefix(14)))
            case 6: frames.append(frame(1, Array(#"{"type":"ping"}"#.utf8), masked: false))
            case 7: frames.append(Array(repeating: frame(9, bytes(pick([0, 125]))), count: int(1...50)).flatMap { $0 })
            case 8:
                frames.append(
                    frame(1, Array("{\"type\":\"message\",\"client_msg_id\":\(jsonString(pick(["", String(repeating: "x", count: 65), "../", "ok_\(int(1...1_000_000))"]))),\"text\":\(jsonString(String(pick(Self.weirdStrings).prefix(5000))))}".utf8)))
            case 9: frames.append(frame(1, Array("x".utf8), rsv: UInt8(int(1...7))))
            default: frames.append(bytes(pick([1, 10, 100])))
            }
        }
        let path = "/widget/" + pick(["web", "web", "web", "nope"]) + "/ws"
        return FuzzCase(kind: .socket(path: path, origin: pick([nil, "http://localhost:8000", "https://evil.example", "null"]), frames: frames), label: "socket \(path)")
    }

    mutating func framing(_ authenticated: Bool) -> FuzzCase {
        let path = pick(["/webhooks/tg", "/api/chats/1/messages", "/signin", "/widget/web/session"])
        var head = "POST \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        if authenticated { head += "X-Telegram-Bot-Api-Secret-Token: \(GatewayHarness.secret)\r\nAuthorization: Bearer \(GatewayHarness.adminToken)\r\n" }
        let body = jsonBody(template: telegramUpdate())
        var closeWrite = false
        let bytes: [UInt8]
        switch int(0...9) {
        case 0: bytes = Array((head + "Content-Length: \(pick(["-1", "abc", "1e3", "0x10", " ", "99999999999999999999"]))\r\n\r\n").utf8) + body
        case 1: bytes = Array((head + "Content-Length: \(body.count)\r\nContent-Length: 3\r\n\r\n").utf8) + body
        case 2:  // announces more than it sends, then stops sending
            bytes = Array((head + "Content-Length: \(body.count + int(1...1000))\r\n\r\n").utf8) + body
            closeWrite = true
        case 3: bytes = Array((head + "Content-Length: \(max(0, body.count - int(1...10)))\r\n\r\n").utf8) + body
        case 4: bytes = self.bytes(pick([1, 16, 300, 5000]))
        case 5:
            let method: String = pick(["GET", "G\u{0}T", "PRI", "GET GET"])
            let target: String = pick(["/", "*", "http://evil/", "/%", "/" + String(repeating: "a", count: 70_000)])
            let version: String = pick(["HTTP/1.1", "HTTP/9.9", "", "HTTP/1"])
            bytes = Array("\(method) \(target) \(version)\r\n\r\n".utf8)
        case 6: bytes = Array((head + "X-Big: \(String(repeating: "a", count: pick([20_000, 40_000, 100_000])))\r\nContent-Length: \(body.count)\r\n\r\n").utf8) + body
        case 7:
            bytes = Array((head + "Transfer-Encoding: chunked\r\n\r\n").utf8) + Array(pick(["zz\r\n", "fffffffffffffffff\r\n", "5\r\nab\r\n0\r\n\r\n", "-1\r\n"]).utf8)
            closeWrite = true
        case 8: bytes = Array((head + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n5\r\nhello\r\n0\r\n\r\n").utf8)
        default:  // a head that never ends
            bytes = Array((head + String(repeating: "X-A: b\r\n", count: pick([10, 3000]))).utf8)
            closeWrite = true
        }
        return FuzzCase(kind: .raw(bytes: bytes, closeWrite: closeWrite), label: "framing \(path) \(bytes.prefix(60).map { $0 < 128 && $0 >= 32 ? Character(UnicodeScalar($0)) : "." })")
    }
}

extension GatewayHarness {
    /// Any request, sent as is; returns the status and the body as text.
    func send(_ method: String, _ path: String, headers: [(String, String)], body: [UInt8]) async throws -> (Int, String) {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = .init(rawValue: method)
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if !body.isEmpty || method == "POST" { request.body = .bytes(ByteBuffer(bytes: body)) }
        let response = try await client.execute(request, timeout: .seconds(15))
        return (Int(response.status.code), String(buffer: try await response.body.collect(upTo: 1 << 22)))
    }
}
