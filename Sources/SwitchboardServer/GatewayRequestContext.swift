import Foundation
import Hummingbird
import NIOCore

/// The request context of every HTTP route: Hummingbird's basics plus the connection's peer
/// address, which the per-client limits on admin sign-in and the admin API key on.
struct GatewayRequestContext: RequestContext, RemoteAddressRequestContext {
    var coreContext: CoreRequestContextStorage
    /// The TCP peer — a browser, a provider, or a reverse proxy in front of the gateway.
    let remoteAddress: SocketAddress?

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }
}

/// Who a request comes from, for per-client limits: the TCP peer's IP address; when that peer is
/// one of `server.trusted_proxies`, the nearest address in `X-Forwarded-For` that is not a trusted
/// proxy. A header from any other peer is ignored: anyone can write one.
struct ClientAddressResolver: Sendable {
    /// Canonical IP addresses of the proxies whose `X-Forwarded-For` is believed.
    let trustedProxies: Set<String>

    init(trustedProxies: [String]) {
        self.trustedProxies = Set(trustedProxies.map(Self.canonical))
    }

    func client(_ request: Request, context: some RequestContext) -> String {
        guard let peer = (context as? any RemoteAddressRequestContext)?.remoteAddress?.ipAddress else { return "unknown" }
        let canonicalPeer = Self.canonical(peer)
        guard trustedProxies.contains(canonicalPeer) else { return canonicalPeer }
        // Each proxy appends the address it saw; walk back from the nearest hop.
        let hops = request.headers[values: .xForwardedForHeader].flatMap { $0.split(separator: ",") }
            .map { Self.canonical($0.trimmingCharacters(in: .whitespaces)) }
        for hop in hops.reversed() where !trustedProxies.contains(hop) {
            return hop.isEmpty ? canonicalPeer : hop
        }
        return canonicalPeer
    }

    /// One spelling per address (`::FFFF:1.2.3.4` and `1.2.3.4` differ only in spelling).
    static func canonical(_ address: String) -> String {
        let trimmed = address.trimmingCharacters(in: CharacterSet(charactersIn: "[] "))
        guard let parsed = try? SocketAddress(ipAddress: trimmed, port: 0), let ip = parsed.ipAddress else { return trimmed.lowercased() }
        if ip.lowercased().hasPrefix("::ffff:"), ip.contains(".") { return String(ip.dropFirst(7)) }
        return ip
    }
}
