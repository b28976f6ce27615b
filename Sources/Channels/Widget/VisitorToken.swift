import Crypto
import Foundation
import SwitchboardChannelKit
import SwitchboardCore

/// A visitor's identity as the widget keeps it in `localStorage`: issued and signed by the
/// gateway, so it cannot be made up or altered, and checked without a database lookup.
///
/// Wire form: `v1.<visitor-id>.<issued-at>.<mac>` where `issued-at` is Unix seconds and `mac` is
/// base64url(HMAC-SHA256(key, "switchboard-widget/v1/<channel-id>/<visitor-id>/<issued-at>")).
/// The channel id is signed in, so a token from one widget is worthless on another.
struct VisitorToken: Sendable, Hashable {
    /// 24 lowercase hex digits (96 random bits); the chat's conversation key.
    var visitorID: String
    var issuedAt: Date

    /// Why a token was refused (never shown with the token itself).
    enum Rejection: String, Error, Sendable, Hashable {
        case malformed, badSignature = "bad_signature", expired, fromTheFuture = "from_the_future"
    }

    static func newVisitorID() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<12).map { _ in String(format: "%02x", UInt8.random(in: .min ... .max, using: &generator)) }.joined()
    }

    /// The first characters of the visitor id, for titles such as "Visitor 3F9A".
    var shortID: String { String(visitorID.prefix(4)).uppercased() }

    func encoded(channelID: String, key: TokenKey) -> String {
        let seconds = Int64(issuedAt.timeIntervalSince1970.rounded(.down))
        let mac = Self.mac(channelID: channelID, visitorID: visitorID, issuedAt: seconds, key: key)
        return "v1.\(visitorID).\(seconds).\(Self.base64URL(mac))"
    }

    /// Verifies the signature (in constant time) and the age.
    static func verify(_ text: String, channelID: String, key: TokenKey, now: Date, ttl: TimeInterval) throws(Rejection) -> VisitorToken {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard text.utf8.count <= 200, parts.count == 4, parts[0] == "v1", isVisitorID(parts[1]), let seconds = Int64(parts[2]),
            let mac = fromBase64URL(parts[3]), mac.count == 32
        else { throw .malformed }
        let expected = Self.mac(channelID: channelID, visitorID: String(parts[1]), issuedAt: seconds, key: key)
        guard constantTimeEquals(mac, expected) else { throw .badSignature }
        let issuedAt = Date(timeIntervalSince1970: TimeInterval(seconds))
        // A little clock skew between gateway processes is tolerated.
        guard issuedAt <= now.addingTimeInterval(300) else { throw .fromTheFuture }
        guard now.timeIntervalSince(issuedAt) <= ttl else { throw .expired }
        return VisitorToken(visitorID: String(parts[1]), issuedAt: issuedAt)
    }

    static func isVisitorID<S: StringProtocol>(_ text: S) -> Bool {
        text.utf8.count == 24 && text.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }

    private static func mac(channelID: String, visitorID: String, issuedAt: Int64, key: TokenKey) -> [UInt8] {
        let message = Data("switchboard-widget/v1/\(channelID)/\(visitorID)/\(issuedAt)".utf8)
        return Array(HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: key.bytes)))
    }

    static func base64URL(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func fromBase64URL<S: StringProtocol>(_ text: S) -> [UInt8]? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        return Data(base64Encoded: base64).map(Array.init)
    }
}

/// 256 bits that sign visitor tokens (plain bytes: Crypto's `SymmetricKey` is not `Sendable` here).
struct TokenKey: Sendable, Hashable {
    let bytes: [UInt8]
}

/// The key visitor tokens are signed with: `token_secret` from the channel file, or a random
/// key generated once and kept in the store (a cursor), so every process on the same database
/// signs alike.
actor TokenKeyring {
    private let configured: Secret?
    private let cursors: any CursorStore
    private let cursorName: String
    private var loaded: TokenKey?

    init(configured: Secret?, cursors: any CursorStore, channelID: String) {
        self.configured = configured
        self.cursors = cursors
        self.cursorName = "widget:\(channelID):token-key"
    }

    func key() async throws -> TokenKey {
        if let loaded { return loaded }
        let key: TokenKey
        if let configured {
            // Stretch whatever the admin wrote into a 256-bit key.
            key = TokenKey(bytes: Array(SHA256.hash(data: Data(configured.value.utf8))))
        } else if let stored = try await cursors.cursor(cursorName), let bytes = VisitorToken.fromBase64URL(stored), bytes.count == 32 {
            key = TokenKey(bytes: bytes)
        } else {
            let fresh = SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }
            try await cursors.setCursor(cursorName, to: VisitorToken.base64URL(fresh))
            // Two processes starting at once on a new database may both write; use whichever won.
            let stored = try await cursors.cursor(cursorName).flatMap { VisitorToken.fromBase64URL($0) }
            key = TokenKey(bytes: stored.flatMap { $0.count == 32 ? $0 : nil } ?? fresh)
        }
        loaded = key
        return key
    }
}
