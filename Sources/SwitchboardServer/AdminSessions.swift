import Foundation
import Synchronization

/// Browsers signed in to the admin pages with the admin token.
///
/// A session is a random 256-bit id in an `HttpOnly`, `SameSite=Strict` cookie, with its own
/// random CSRF token that every state-changing form must echo. Sessions live in this process's
/// memory: they end when the gateway restarts (admins sign in again), and several gateway
/// processes behind one address need sticky sessions.
final class AdminSessions: Sendable {
    struct Session: Sendable {
        let csrfToken: String
        let expires: ContinuousClock.Instant
    }

    static let cookieName = "switchboard_session"
    /// How long a sign-in lasts, in real time (a demo's `time_scale` does not shorten it).
    static let lifetime: Duration = .seconds(12 * 3600)
    /// Sessions kept at most; signing in beyond this drops the ones closest to expiry.
    static let capacity = 1000

    private let sessions = Mutex<[String: Session]>([:])

    /// Starts a session; returns its id (the cookie's value) and the session.
    func start() -> (id: String, session: Session) {
        let id = AdminSessions.randomToken()
        let session = Session(csrfToken: AdminSessions.randomToken(), expires: .now + AdminSessions.lifetime)
        sessions.withLock { sessions in
            let now = ContinuousClock.now
            sessions = sessions.filter { $0.value.expires > now }
            if sessions.count >= AdminSessions.capacity,
                let oldest = sessions.min(by: { $0.value.expires < $1.value.expires })?.key
            {
                sessions[oldest] = nil
            }
            sessions[id] = session
        }
        return (id, session)
    }

    /// The live session with this id, if any.
    func session(id: String?) -> Session? {
        guard let id, !id.isEmpty else { return nil }
        return sessions.withLock { sessions in
            guard let session = sessions[id] else { return nil }
            guard session.expires > .now else {
                sessions[id] = nil
                return nil
            }
            return session
        }
    }

    func end(id: String) {
        _ = sessions.withLock { $0.removeValue(forKey: id) }
    }

    /// Ends every session (the admin token changed).
    func endAll() {
        sessions.withLock { $0.removeAll() }
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
        /// Clients remembered at most; beyond it the client whose last failure is oldest is forgotten.
        var clientCapacity = 10_000
    }

    let configuration: Configuration
    private let failures = Mutex<[String: [ContinuousClock.Instant]]>([:])

    init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    /// How long `client` must wait before trying again; `nil` when it may try now.
    func retryAfter(client: String) -> Duration? {
        let now = ContinuousClock.now
        let window = configuration.window
        return failures.withLock { failures in
            let mine = failures[client, default: []].filter { now - $0 < window }
            failures[client] = mine.isEmpty ? nil : mine
            if mine.count >= configuration.perClient, let oldest = mine.first { return window - (now - oldest) }
            return nil
        }
    }

    func recordFailure(client: String) {
        let now = ContinuousClock.now
        let window = configuration.window
        failures.withLock { failures in
            if failures[client] == nil, failures.count >= configuration.clientCapacity {
                failures = failures.filter { now - ($0.value.last ?? now) < window }
                if failures.count >= configuration.clientCapacity,
                    let stalest = failures.min(by: { ($0.value.last ?? now) < ($1.value.last ?? now) })?.key
                {
                    failures[stalest] = nil
                }
            }
            failures[client, default: []].append(now)
            // Only the last `perClient` failures matter.
            if failures[client, default: []].count > configuration.perClient { failures[client]?.removeFirst() }
        }
    }

    func recordSuccess(client: String) {
        _ = failures.withLock { $0.removeValue(forKey: client) }
    }
}
