import Crypto
import Foundation
import SwitchboardChannelKit
import SwitchboardCore

/// Browsers signed in to the admin pages with the admin token.
///
/// A session is a random 256-bit id in an `HttpOnly`, `SameSite=Strict` cookie, with its own
/// random CSRF token that every state-changing form must echo. Sessions live in the store's
/// shared state, so every gateway process behind one address knows them (no sticky sessions)
/// and they survive a restart. The store keeps a hash of the id, never the id itself, and a
/// fingerprint of the admin token it was signed in with: a session opened with a token that is
/// no longer in force is no session (rotating a leaked token revokes what it opened, in every
/// process, once each has loaded the new token).
final class AdminSessions: Sendable {
    struct Session: Sendable {
        let csrfToken: String
    }

    static let cookieName = "switchboard_session"
    /// How long a sign-in lasts, in real time (a demo's `time_scale` does not shorten it).
    static let lifetime: Duration = .seconds(12 * 3600)

    let shared: any SharedStateStore

    init(shared: any SharedStateStore) { self.shared = shared }

    /// Starts a session for `token`; returns its id (the cookie's value) and the session.
    func start(token: Secret) async throws -> (id: String, session: Session) {
        let id = AdminSessions.randomToken()
        let session = Session(csrfToken: AdminSessions.randomToken())
        let now = Date()
        let value = SharedValue(session.csrfToken + " " + Self.fingerprint(token), expires: now.addingTimeInterval(Self.lifetime.seconds))
        try await shared.updateShared(Self.name(id), now: now) { $0 = value }
        return (id, session)
    }

    /// The live session with this id, opened with `token`, if any.
    func session(id: String?, token: Secret) async throws -> Session? {
        guard let id, !id.isEmpty, id.utf8.count <= 128 else { return nil }
        guard let value = try await shared.shared(Self.name(id), now: Date()) else { return nil }
        let parts = value.value.split(separator: " ")
        guard parts.count == 2, constantTimeEquals(Array(parts[1].utf8), Array(Self.fingerprint(token).utf8)) else { return nil }
        return Session(csrfToken: String(parts[0]))
    }

    func end(id: String) async throws {
        try await shared.updateShared(Self.name(id), now: Date()) { $0 = nil }
    }

    private static func name(_ id: String) -> String {
        "admin-session:" + SHA256.hash(data: Data(id.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// Tells tokens apart without keeping one: a salted hash, shortened.
    private static func fingerprint(_ token: Secret) -> String {
        SHA256.hash(data: Data(("switchboard admin session\n" + token.value).utf8)).prefix(12).map { String(format: "%02x", $0) }.joined()
    }

    /// 32 bytes from the system's cryptographically secure generator, as hex.
    static func randomToken() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<4).map { _ in
            let word = generator.next() as UInt64
            let hex = String(word, radix: 16)
            return String(repeating: "0", count: 16 - hex.count) + hex
        }.joined()
    }
}

/// Limits failed admin tokens — at the sign-in form and on `/api` — so the token cannot be
/// guessed: a few failures per client within a sliding window, after which that client is
/// refused without its token being checked. Clients are told apart by their real address
/// (`ClientAddressResolver`), so one client's failures never lock out another; there is no
/// shared budget an attacker could spend for everyone. Guessing across many addresses is what
/// the token's length (at least 16 characters beyond loopback, 64 when generated) is for.
final class SignInLimiter: Sendable {
    struct Configuration: Sendable {
        /// Failed attempts one client may make per window.
        var perClient = 5
        var window: Duration = .seconds(15 * 60)
    }

    let configuration: Configuration
    /// Failures are counted in the store's shared state, so a client guessing across the
    /// processes behind a load balancer is limited as if there were one. Each client's record
    /// lapses a window after its last failure.
    let shared: any SharedStateStore

    init(shared: any SharedStateStore, configuration: Configuration = Configuration()) {
        self.shared = shared
        self.configuration = configuration
    }

    private func name(_ client: String) -> String { "signin-failures:" + client }

    /// The failures of `value` still inside the window at `now`, oldest first.
    private func recent(_ value: SharedValue?, now: Date) -> [Date] {
        (value?.value.split(separator: " ") ?? []).compactMap { Double($0) }.map { Date(timeIntervalSince1970: $0) }
            .filter { now.timeIntervalSince($0) < configuration.window.seconds }
    }

    /// How long `client` must wait before trying again; `nil` when it may try now.
    func retryAfter(client: String) async throws -> Duration? {
        let now = Date()
        let mine = recent(try await shared.shared(name(client), now: now), now: now)
        guard mine.count >= configuration.perClient, let oldest = mine.first else { return nil }
        return .seconds(configuration.window.seconds - now.timeIntervalSince(oldest))
    }

    func recordFailure(client: String) async throws {
        let now = Date()
        let window = configuration.window.seconds
        let keep = configuration.perClient
        try await shared.updateShared(name(client), now: now) { [self] value in
            // Only the last `perClient` failures matter.
            let mine = (recent(value, now: now) + [now]).suffix(keep)
            value = SharedValue(mine.map { String($0.timeIntervalSince1970) }.joined(separator: " "), expires: now.addingTimeInterval(window))
        }
    }

    func recordSuccess(client: String) async throws {
        try await shared.updateShared(name(client), now: Date()) { $0 = nil }
    }
}
