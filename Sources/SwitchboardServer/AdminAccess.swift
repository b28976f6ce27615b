import Foundation
import Logging
import Synchronization
import SwitchboardChannelKit
import SwitchboardCore

/// Who may use the admin API and pages: the admin token in force (replaced when the config is
/// reloaded, so a leaked token is revoked without a restart), the signed-in browser sessions,
/// and the limiter on failed attempts that the sign-in form and the API share.
final class AdminAccess: Sendable {
    private let token: Mutex<Secret?>
    let sessions: AdminSessions
    let limiter: SignInLimiter

    /// Sessions and failed attempts are kept in `shared`: every process on the store sees them.
    init(token: Secret?, shared: any SharedStateStore) {
        self.token = Mutex(token)
        self.sessions = AdminSessions(shared: shared)
        self.limiter = SignInLimiter(shared: shared)
    }

    /// The token in force; `nil` closes the API and pages.
    var current: Secret? { token.withLock { $0 } }

    /// Whether `presented` is the token in force, compared in constant time.
    func accepts(_ presented: some StringProtocol) -> Bool {
        guard let current, !presented.isEmpty else { return false }
        return constantTimeEquals(Array(presented.utf8), Array(current.value.utf8))
    }

    /// Puts `new` in force. When it differs, every session signed in with the old token ends
    /// (a session holds the fingerprint of its token): revoking a leaked token also revokes
    /// what it opened. Returns whether it changed.
    @discardableResult
    func rotate(to new: Secret?) -> Bool {
        token.withLock { token in
            defer { token = new }
            return token != new
        }
    }
}

/// Why the gateway refuses to start; says what to change.
public struct GatewayStartupError: Error, CustomStringConvertible, Sendable {
    public let description: String

    init(_ description: String) { self.description = description }
}

/// Where the admin token comes from and which tokens the gateway refuses.
///
/// - `admin.token` set: used, unless it is shorter than 16 characters or a known placeholder —
///   then the gateway refuses to start when it listens beyond loopback, and warns on loopback.
/// - `admin.token` unset: a random token is generated on first start and kept in `admin-token`
///   beside the SQLite file (mode 0600); the log says once where it is, never what it is.
enum AdminTokenPolicy {
    static let minimumLength = 16
    static let fileName = "admin-token"

    /// Values that mean "fill me in": the one config.yaml used to ship, and the usual suspects.
    static func isPlaceholder(_ token: String) -> Bool {
        let lower = token.lowercased()
        if ["change-me", "changeme", "change_me", "replace-me", "placeholder", "your-token", "your-admin-token"].contains(where: { lower.contains($0) }) {
            return true
        }
        return ["admin", "password", "secret", "token", "admin-token", "test", "example"].contains(lower)
    }

    /// What is wrong with `token`, if anything, phrased for the log; never the token itself.
    static func weakness(of token: String) -> String? {
        if isPlaceholder(token) { return "admin.token is a placeholder value" }
        if token.count < minimumLength { return "admin.token is shorter than \(minimumLength) characters" }
        return nil
    }

    /// Whether `host` only accepts connections from this machine.
    static func isLoopback(host: String) -> Bool {
        let host = host.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        return host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    static func file(dataDirectory: String) -> String { (dataDirectory as NSString).appendingPathComponent(fileName) }

    /// The token to use for a gateway listening on `host`.
    /// - Parameter announce: where to say a token was generated (the sign-in URL).
    static func resolve(configured: Secret?, host: String, dataDirectory: String, signInURL: String, logger: Logger) throws -> Secret {
        if let configured {
            if let weakness = weakness(of: configured.value) {
                guard isLoopback(host: host) else {
                    throw GatewayStartupError(
                        "\(weakness) and the gateway listens on \(host), beyond this machine: refusing to start. "
                            + "Set a random one (export SWITCHBOARD_ADMIN_TOKEN=$(openssl rand -hex 32)), "
                            + "or remove admin.token to have one generated in \(file(dataDirectory: dataDirectory)).")
                }
                logger.warning(
                    "\(weakness); accepted only because the gateway listens on loopback (\(host)). It would refuse to start on any other address.")
            }
            return configured
        }
        let path = file(dataDirectory: dataDirectory)
        if let saved = try? String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines),
            weakness(of: saved) == nil
        {
            logger.info("admin token: the generated one in \(path)")
            return Secret(saved)
        }
        let token = Secret(AdminSessions.randomToken())
        do {
            try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
            try? FileManager.default.removeItem(atPath: path)
            guard FileManager.default.createFile(atPath: path, contents: Data((token.value + "\n").utf8), attributes: [.posixPermissions: 0o600]) else {
                throw GatewayStartupError("cannot write \(path)")
            }
        } catch {
            throw GatewayStartupError(
                "no admin.token is configured and the generated one cannot be saved to \(path) (\(error)): set admin.token, or make the data directory writable.")
        }
        logger.notice(
            """
            No admin.token in the config, so one was generated and saved to \(path) (readable by this user only). \
            Sign in at \(signInURL) with the token in that file (cat \(path)), or send it as `Authorization: Bearer` to /api. \
            It stays the same across restarts; set admin.token (or SWITCHBOARD_ADMIN_TOKEN) to choose your own.
            """)
        return token
    }
}
