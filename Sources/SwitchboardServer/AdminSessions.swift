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

/// Limits failed sign-ins, so the admin token cannot be guessed through the sign-in form:
/// a few failures per client and a larger budget across all clients within a sliding window.
/// While limited, the form does not even check the token.
final class SignInLimiter: Sendable {
    struct Configuration: Sendable {
        /// Failed attempts one client may make per window.
        var perClient = 5
        /// Failed attempts all clients together may make per window (clients can lie about who they are).
        var overall = 30
        var window: Duration = .seconds(15 * 60)
        /// Clients remembered at most.
        var clientCapacity = 10_000
    }

    private struct State {
        var failures: [String: [ContinuousClock.Instant]] = [:]
        var all: [ContinuousClock.Instant] = []
    }

    let configuration: Configuration
    private let state = Mutex(State())

    init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    /// How long `client` must wait before trying again; `nil` when it may try now.
    func retryAfter(client: String) -> Duration? {
        let now = ContinuousClock.now
        let window = configuration.window
        return state.withLock { state in
            state.all.removeAll { now - $0 >= window }
            let mine = state.failures[client, default: []].filter { now - $0 < window }
            state.failures[client] = mine.isEmpty ? nil : mine
            if mine.count >= configuration.perClient, let oldest = mine.first { return window - (now - oldest) }
            if state.all.count >= configuration.overall, let oldest = state.all.first { return window - (now - oldest) }
            return nil
        }
    }

    func recordFailure(client: String) {
        let now = ContinuousClock.now
        state.withLock { state in
            if state.failures[client] == nil, state.failures.count >= configuration.clientCapacity {
                state.failures.removeAll()
            }
            state.failures[client, default: []].append(now)
            state.all.append(now)
        }
    }

    func recordSuccess(client: String) {
        _ = state.withLock { $0.failures.removeValue(forKey: client) }
    }
}
