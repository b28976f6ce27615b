import Foundation
import Logging
import SwitchboardTesting
import Testing

@testable import SwitchboardServer

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// §8 and issue 9: nothing unauthenticated can hold the gateway's connections — header, body and
/// idle timeouts, a cap on open connections, and `400` plus a close for malformed framing.
@Suite(.serialized) struct ConnectionLimitsTests {
    static let limits = "server: { header_timeout: 1s, body_timeout: 2s, idle_timeout: 3s }"

    @Test func aHalfSentHeadIsAnswered408AndClosedAfterTheHeaderTimeout() async throws {
        let h = try await GatewayHarness(extraConfig: Self.limits)
        defer { Task { await h.shutdown() } }
        // Counted from before the connect: a loaded machine may resume this task long after the
        // server started its timer, and a clock started late would see the close come "early".
        let started = ContinuousClock.now
        let connection = try await RawConnection.open(port: h.boundPort)
        try await connection.send("POST /webhooks/tg HTTP/1.1\r\nHost: localhost\r\nX-Telegram-Bot-Api-Secret-Token: ")
        let answer = try await connection.readUntilClosed()
        let waited = started.duration(to: .now)
        #expect(answer.hasPrefix("HTTP/1.1 408"), "\(answer)")
        #expect(waited >= .milliseconds(900) && waited < .seconds(8), "closed after \(waited)")
    }

    @Test func aConnectionThatSendsNothingIsClosedAfterTheHeaderTimeout() async throws {
        let h = try await GatewayHarness(extraConfig: Self.limits)
        defer { Task { await h.shutdown() } }
        // Counted from before the connect: a loaded machine may resume this task long after the
        // server started its timer, and a clock started late would see the close come "early".
        let started = ContinuousClock.now
        let connection = try await RawConnection.open(port: h.boundPort)
        _ = try await connection.readUntilClosed()
        let waited = started.duration(to: .now)
        #expect(waited >= .milliseconds(900) && waited < .seconds(8), "closed after \(waited)")
    }

    @Test func aStalledBodyIsAnswered408AndClosedAfterTheBodyTimeoutAndNothingIsStored() async throws {
        let h = try await GatewayHarness(extraConfig: Self.limits)
        defer { Task { await h.shutdown() } }
        let update = GatewayHarness.textUpdate("stalled")
        // Counted from before the connect: a loaded machine may resume this task long after the
        // server started its timer, and a clock started late would see the close come "early".
        let started = ContinuousClock.now
        let connection = try await RawConnection.open(port: h.boundPort)
        // Valid secret, a body announced 100 bytes longer than what is sent.
        try await connection.send(
            "POST /webhooks/tg HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                + "X-Telegram-Bot-Api-Secret-Token: \(GatewayHarness.secret)\r\nContent-Length: \(update.utf8.count + 100)\r\n\r\n\(update)")
        let answer = try await connection.readUntilClosed()
        let waited = started.duration(to: .now)
        #expect(answer.hasPrefix("HTTP/1.1 408"), "\(answer)")
        #expect(waited >= .milliseconds(1900) && waited < .seconds(10), "closed after \(waited)")
        #expect(try await h.chat == nil, "a cut-short body is never acted on")
    }

    @Test func aBodyCutShortByTheClientIsNeverActedOn() async throws {
        let h = try await GatewayHarness(extraConfig: Self.limits)
        defer { Task { await h.shutdown() } }
        let update = GatewayHarness.textUpdate("cut short")
        let connection = try await RawConnection.open(port: h.boundPort)
        // The whole JSON, but the announced length is longer; then the client stops sending.
        // Hummingbird alone would take the closed input for the end of the body and store it.
        try await connection.send(
            "POST /webhooks/tg HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                + "X-Telegram-Bot-Api-Secret-Token: \(GatewayHarness.secret)\r\nContent-Length: \(update.utf8.count + 5)\r\n\r\n\(update)")
        try await connection.shutdownWrite()
        let answer = try await connection.readUntilClosed()
        #expect(!answer.hasPrefix("HTTP/1.1 200"), "\(answer)")
        try await Task.sleep(for: .milliseconds(200))
        #expect(try await h.chat == nil, "a cut-short body is never acted on")
    }

    @Test func anIdleKeptAliveConnectionIsClosedAfterTheIdleTimeout() async throws {
        let h = try await GatewayHarness(extraConfig: Self.limits)
        defer { Task { await h.shutdown() } }
        let connection = try await RawConnection.open(port: h.boundPort)
        // Counted from before the request: the server's idle timer starts when it has answered,
        // which on a loaded machine may be well before this task hears the answer.
        let started = ContinuousClock.now
        try await connection.send("GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        let first = try await connection.readResponse()
        #expect(first.hasPrefix("HTTP/1.1 200"), "\(first)")
        let rest = try await connection.readUntilClosed()
        let waited = started.duration(to: .now)
        #expect(rest.isEmpty, "an idle connection is closed without a word: \(rest)")
        // The upper bound only says "closed, not kept open": a busy machine may be slow to report it.
        #expect(waited >= .milliseconds(2900) && waited < .seconds(30), "closed after \(waited)")
    }

    @Test(arguments: [
        ("negative", "Content-Length: -5\r\n"),
        ("non-numeric", "Content-Length: abc\r\n"),
        ("repeated", "Content-Length: 5\r\nContent-Length: 6\r\n"),
        ("list", "Content-Length: 5, 6\r\n"),
        ("huge", "Content-Length: 99999999999999999999999\r\n"),
        ("with chunked", "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n"),
        ("oversized head", "X-Padding: \(String(repeating: "a", count: 40 * 1024))\r\n"),
        ("bad chunk", "Transfer-Encoding: chunked\r\n\r\nzz\r\n"),
    ])
    func malformedFramingGets400AndAClosedConnection(name: String, headers: String) async throws {
        let h = try await GatewayHarness(extraConfig: Self.limits)
        defer { Task { await h.shutdown() } }
        for path in ["/webhooks/tg", "/api/chats/x/messages", "/signin", "/widget/none/session"] {
            let connection = try await RawConnection.open(port: h.boundPort)
            let started = ContinuousClock.now
            let head = "POST \(path) HTTP/1.1\r\nHost: localhost\r\n\(headers)"
            try await connection.send(head.hasSuffix("\r\n\r\nzz\r\n") ? head : head + "\r\nhello")
            let answer = try await connection.readUntilClosed()
            #expect(answer.hasPrefix("HTTP/1.1 400"), "\(name) on \(path): \(answer)")
            // 400, not the header timeout's 408, says it was refused for its framing; the time
            // bound is only a sanity check (a busy machine may take a while to answer at all).
            #expect(started.duration(to: .now) < .seconds(10), "\(name) on \(path): answered, not held")
        }
        // The gateway still serves.
        #expect(try await h.get("/healthz", token: nil).0 == 200)
    }

    @Test func connectionsBeyondTheCapAreAnswered503AndClosedWhileOpenOnesKeepWorking() async throws {
        let capture = LogCapture()
        let h = try await GatewayHarness(extraConfig: "server: { max_connections: 3 }", logger: capture.logger(level: .warning))
        defer { Task { await h.shutdown() } }
        var open: [RawConnection] = []
        for _ in 0..<3 {
            let connection = try await RawConnection.open(port: h.boundPort)
            try await connection.send("GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
            #expect(try await connection.readResponse().hasPrefix("HTTP/1.1 200"))
            open.append(connection)
        }
        for _ in 0..<3 {
            let extra = try await RawConnection.open(port: h.boundPort)
            let answer = try await extra.readUntilClosed()
            #expect(answer.hasPrefix("HTTP/1.1 503") && answer.contains("Retry-After: 1"), "\(answer)")
        }
        // An open connection is not disturbed.
        try await open[0].send("GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        #expect(try await open[0].readResponse().hasPrefix("HTTP/1.1 200"))
        let warnings = capture.all.filter { $0.contains("server.max_connections") }
        #expect(warnings.count == 1, "one line, not one per refused connection: \(warnings)")
        // A closed connection frees its place.
        open.removeLast().close()
        try await eventually("a place is free") { h.gateway.connectionEvents.openConnections < 3 }
        #expect(try await h.get("/healthz", token: nil).0 == 200)
        let metrics = try await h.get("/metrics", token: nil).1
        #expect(metrics.contains(#"switchboard_connections_closed_total{reason="max_connections"} 3"#), "\(metrics)")
        open.forEach { $0.close() }
    }
}

/// A client without credentials must not be able to write the log at will: a limited client's
/// every retry is not a warning, only the moment it becomes limited is.
@Suite(.serialized) struct RefusalLoggingTests {
    @Test func wrongTokensGiveOneWarningPerLockoutNotOnePerRequest() async throws {
        let capture = LogCapture()
        let h = try await GatewayHarness(logger: capture.logger(level: .warning))
        defer { Task { await h.shutdown() } }
        for _ in 0..<30 { _ = try await h.get("/api/employees", token: "wrong-token-0123456789") }
        for _ in 0..<30 { _ = try await h.send("POST", "/signin", headers: [("Content-Type", "application/x-www-form-urlencoded")], body: Array("token=wrong".utf8)) }
        let warnings = capture.all.filter { $0.contains(" warning ") }
        #expect(warnings.count == 1, "one for the lockout (the API and the sign-in share the limiter), none per retry: \(warnings)")
    }
}

/// The timer rules without sockets.
@Suite struct RequestTimeoutStateTests {
    @Test func headerThenBodyThenNothingWhileAnsweringThenIdle() {
        var state = RequestTimeoutState()
        #expect(state.connected() == .header)
        #expect(state.readHead() == .body)
        #expect(state.readEnd() == nil && state.armed == nil)
        state.wroteHead()
        #expect(state.wroteEnd() == .idle)
        #expect(state.fired(.idle) == .close)
    }

    @Test func aTimerThatWasReplacedDoesNothing() {
        var state = RequestTimeoutState()
        _ = state.connected()
        _ = state.readHead()
        #expect(state.fired(.header) == nil)
        #expect(state.fired(.body) == .answerAndClose)
    }

    @Test func aBodyTimeoutAfterTheAnswerBeganClosesWithoutASecondAnswer() {
        var state = RequestTimeoutState()
        _ = state.connected()
        _ = state.readHead()
        state.wroteHead()  // e.g. 401 before reading the body
        #expect(state.wroteEnd() == nil, "still reading the body: the body timer keeps running")
        #expect(state.armed == .body)
        #expect(state.fired(.body) == .close)
    }

    @Test func aPipelinedRequestIsNotAnsweredOverAnother() {
        var state = RequestTimeoutState()
        _ = state.connected()
        _ = state.readHead()
        _ = state.readEnd()
        _ = state.readHead()  // the second request arrives while the first is answered
        #expect(state.canAnswer == false)
        #expect(state.fired(.body) == .close)
    }
}

/// A blocking TCP client for framing tests. Every call runs on a thread of its own: blocking
/// the few threads of Swift's cooperative pool would stall the gateway under test as well.
final class RawConnection: Sendable {
    let fd: Int32

    private init(fd: Int32) { self.fd = fd }

    static func open(port: Int, receiveTimeout: Duration = .seconds(15)) async throws -> RawConnection {
        try await onOwnThread {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { throw ContractViolation(description: "socket() failed") }
            let (seconds, attoseconds) = receiveTimeout.components
            var timeout = timeval(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            inet_pton(AF_INET, "127.0.0.1", &address.sin_addr)
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard connected == 0 else {
                closeSocket(fd)
                throw ContractViolation(description: "cannot connect to 127.0.0.1:\(port)")
            }
            return RawConnection(fd: fd)
        }
    }

    func send(_ text: String) async throws { try await send(Array(text.utf8)) }

    func send(_ bytes: [UInt8]) async throws {
        let fd = self.fd
        try await onOwnThread {
            var sent = 0
            while sent < bytes.count {
                let n = bytes[sent...].withUnsafeBytes { sendBytes(fd, $0.baseAddress, $0.count) }
                guard n > 0 else { throw ContractViolation(description: "send failed after \(sent) bytes") }
                sent += n
            }
        }
    }

    func shutdownWrite() async throws {
        let fd = self.fd
        try await onOwnThread { shutdownWriting(fd) }
    }

    /// Everything the server sends until it closes the connection (or resets it), as text.
    func readUntilClosed() async throws -> String {
        let fd = self.fd
        return try await onOwnThread {
            var received: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 16 * 1024)
            while true {
                let n = recv(fd, &buffer, buffer.count, 0)
                if n > 0 {
                    received += buffer.prefix(n)
                } else if n == 0 || errno == ECONNRESET {
                    return String(decoding: received, as: UTF8.self)
                } else {
                    throw ContractViolation(description: "not closed in time (errno \(errno)); got \(String(decoding: received, as: UTF8.self))")
                }
            }
        }
    }

    /// One response whose head ends the first read (small bodies: `/healthz`).
    func readResponse() async throws -> String {
        let fd = self.fd
        return try await onOwnThread {
            var buffer = [UInt8](repeating: 0, count: 16 * 1024)
            let n = recv(fd, &buffer, buffer.count, 0)
            guard n > 0 else { throw ContractViolation(description: "no response (recv \(n), errno \(errno))") }
            return String(decoding: buffer.prefix(n), as: UTF8.self)
        }
    }

    func close() { closeSocket(fd) }
}

// The system calls under names the methods above do not shadow.
private func closeSocket(_ fd: Int32) { close(fd) }
private func sendBytes(_ fd: Int32, _ bytes: UnsafeRawPointer?, _ count: Int) -> Int { send(fd, bytes, count, Int32(MSG_NOSIGNAL)) }
private func shutdownWriting(_ fd: Int32) { _ = shutdown(fd, Int32(SHUT_WR)) }

extension GatewayHarness {
    var boundPort: Int { Int(baseURL.split(separator: ":").last ?? "") ?? 0 }
}

func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread { continuation.resume(with: Result { try body() }) }
    }
}
