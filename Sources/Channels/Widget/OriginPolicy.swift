import Foundation

/// Which web pages may talk to the widget: the configured origins, compared exactly (scheme,
/// host, port), and always the gateway's own origin. Browsers send `Origin` on every WebSocket
/// handshake and cross-site `POST`; a request without one is not from a browser page, which the
/// Origin rule is not about (a script can forge any header), so it is let through to the
/// token check.
///
/// "Exactly" is one rule for both sides. The configured origins are normalized once, at load
/// (`https://Riverside.example/` is written `https://riverside.example`), which forgives an
/// admin's typing. The header is not normalized: browsers always send an origin in its one
/// serialized form (RFC 6454 §6.2: lowercase scheme and host, no default port, no path — no
/// trailing slash), so a header in any other spelling is not a browser's and is refused.
struct OriginPolicy: Sendable, Hashable {
    /// Normalized origins (`https://riverside.example`, `http://localhost:8000`).
    let allowed: Set<String>

    init(allowed: [String]) {
        self.allowed = Set(allowed.compactMap(Self.normalize))
    }

    enum Verdict: Sendable, Hashable {
        /// No `Origin` header: not a browser page.
        case noOrigin
        case sameOrigin
        case allowed
        case refused
    }

    /// - Parameters:
    ///   - origin: the request's `Origin` header.
    ///   - host: the request's `Host` header: a page from the gateway itself (the demo) is
    ///     same-origin whatever the scheme a proxy in front of it terminates.
    func judge(origin: String?, host: String?) -> Verdict {
        guard let origin = origin?.trimmingCharacters(in: .whitespaces), !origin.isEmpty else { return .noOrigin }
        // "null" is what sandboxed frames and file:// pages send: never an allowed site. Any
        // spelling but the serialized one (a trailing slash, capitals, a default port) is refused.
        guard let normalized = Self.normalize(origin), normalized == origin else { return .refused }
        if let host = host.flatMap(Self.normalizeAuthority), Self.authority(ofNormalized: normalized) == host { return .sameOrigin }
        return allowed.contains(normalized) ? .allowed : .refused
    }

    func allows(origin: String?, host: String?) -> Bool { judge(origin: origin, host: host) != .refused }

    /// `scheme://host[:port]` in lowercase without a default port, or `nil` when `text` is not an
    /// http(s) origin (a path, a query, user info, or no host).
    static func normalize(_ text: String) -> String? {
        let lower = text.trimmingCharacters(in: .whitespaces).lowercased()
        let scheme: String
        if lower.hasPrefix("https://") {
            scheme = "https"
        } else if lower.hasPrefix("http://") {
            scheme = "http"
        } else {
            return nil
        }
        var rest = Substring(lower.dropFirst(scheme.count + 3))
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        guard !rest.isEmpty, !rest.contains(where: { "/?#@ \\".contains($0) }) else { return nil }
        guard var authority = normalizeAuthority(String(rest)) else { return nil }
        let defaultPort = scheme == "https" ? ":443" : ":80"
        if authority.hasSuffix(defaultPort) { authority = String(authority.dropLast(defaultPort.count)) }
        return "\(scheme)://\(authority)"
    }

    /// `host[:port]` lowercased, validated loosely (IPv6 in brackets allowed).
    static func normalizeAuthority(_ text: String) -> String? {
        let lower = text.trimmingCharacters(in: .whitespaces).lowercased()
        guard !lower.isEmpty, lower.count <= 300 else { return nil }
        let hostPart: Substring
        var portPart: Substring?
        if lower.hasPrefix("[") {
            guard let close = lower.firstIndex(of: "]") else { return nil }
            hostPart = lower[lower.startIndex...close]
            let after = lower[lower.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { return nil }
                portPart = after.dropFirst()
            }
        } else {
            let pieces = lower.split(separator: ":", omittingEmptySubsequences: false)
            guard pieces.count <= 2 else { return nil }
            hostPart = pieces[0]
            if pieces.count == 2 { portPart = pieces[1] }
        }
        guard !hostPart.isEmpty, hostPart.allSatisfy({ $0.isLetter || $0.isNumber || "-.[]:_".contains($0) }) else { return nil }
        if let portPart {
            guard let port = Int(portPart), (1...65535).contains(port) else { return nil }
            return "\(hostPart):\(port)"
        }
        return String(hostPart)
    }

    /// The `host[:port]` of a normalized origin (`Host` headers omit default ports, as
    /// normalized origins do).
    private static func authority(ofNormalized origin: String) -> String {
        // `normalize` always writes "scheme://".
        guard let separator = origin.range(of: "://") else { return origin }
        return String(origin[separator.upperBound...])
    }
}
