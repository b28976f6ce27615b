import Foundation
public import SwitchboardCore

/// `storage.postgres`: where the PostgreSQL database is, as a URL
/// (`postgres://user:pass@host:5432/db?sslmode=require`). Its password is a `Secret`, and the
/// URL describes itself without it, so neither a log line nor an error can show it.
public struct PostgresURL: Sendable, Hashable, RedactedDescription {
    /// libpq's `sslmode`. Default `prefer`: TLS when the server offers it, plain otherwise —
    /// what a server on loopback or a private network needs; name `require` (or `verify-full`)
    /// for a database across the internet.
    public enum SSLMode: String, Sendable, Hashable, CaseIterable {
        case disable, allow, prefer, require
        case verifyCA = "verify-ca"
        case verifyFull = "verify-full"
    }

    public var host: String
    public var port: Int
    public var user: String
    public var password: Secret?
    public var database: String
    public var sslMode: SSLMode

    public init(host: String, port: Int = 5432, user: String, password: Secret? = nil, database: String, sslMode: SSLMode = .prefer) {
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.database = database
        self.sslMode = sslMode
    }

    /// Reads a `postgres://` or `postgresql://` URL; the error says what is wrong with it.
    public static func parse(_ text: String) throws(PostgresURLError) -> PostgresURL {
        let example = "postgres://user:password@host:5432/database"
        guard let url = URLComponents(string: text.trimmingCharacters(in: .whitespaces)), let scheme = url.scheme?.lowercased(),
            scheme == "postgres" || scheme == "postgresql"
        else { throw PostgresURLError("'postgres' must be a URL such as \(example) (a password with '@', ':' or '/' is written %40, %3A, %2F)") }
        guard let host = url.host, !host.isEmpty else { throw PostgresURLError("'postgres' names no host: write \(example)") }
        guard let user = url.user?.removingPercentEncoding, !user.isEmpty else { throw PostgresURLError("'postgres' names no user: write \(example)") }
        let database = String(url.path.drop(while: { $0 == "/" })).removingPercentEncoding ?? ""
        guard !database.isEmpty, !database.contains("/") else { throw PostgresURLError("'postgres' names no database: write \(example)") }
        var parsed = PostgresURL(
            host: host, port: url.port ?? 5432, user: user, password: url.password?.removingPercentEncoding.map(Secret.init), database: database)
        for item in url.queryItems ?? [] {
            switch item.name {
            case "sslmode":
                guard let mode = item.value.flatMap(SSLMode.init(rawValue:)) else {
                    throw PostgresURLError("'sslmode' must be one of \(SSLMode.allCases.map(\.rawValue).joined(separator: ", ")), not '\(item.value ?? "")'")
                }
                parsed.sslMode = mode
            default:
                throw PostgresURLError("'postgres' takes only the sslmode parameter, not '\(item.name)'")
            }
        }
        return parsed
    }

    public var redactedFields: KeyValuePairs<String, Any> {
        ["host": host, "port": port, "user": user, "password": password as Any, "database": database, "sslMode": sslMode.rawValue]
    }
}

/// What is wrong with a `storage.postgres` URL. It never quotes the URL, which may hold the password.
public struct PostgresURLError: Error, Sendable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
