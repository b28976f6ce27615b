import Crypto
import Foundation
import SwitchboardChannelKit
import Synchronization

/// `X-Switchboard-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>` with
/// `X-Switchboard-Timestamp: <unix seconds>`, the same in both directions.
struct Signer: Sendable {
    static let signatureHeader = "X-Switchboard-Signature"
    static let timestampHeader = "X-Switchboard-Timestamp"
    /// How far a timestamp may be from real time, either way.
    static let tolerance: TimeInterval = 300

    /// Raw bytes rather than a `SymmetricKey`, which is not `Sendable`; making one per request is cheap.
    private let secret: [UInt8]

    init(secret: String) { self.secret = Array(secret.utf8) }

    /// The header value for `body` sent at `timestamp`.
    func signature(timestamp: Int64, body: some Collection<UInt8>) -> String {
        "sha256=" + hex(mac(timestamp: String(timestamp), body: body))
    }

    private func mac(timestamp: String, body: some Collection<UInt8>) -> [UInt8] {
        var hmac = HMAC<SHA256>(key: SymmetricKey(data: secret))
        hmac.update(data: Array(timestamp.utf8) + [UInt8(ascii: ".")])
        hmac.update(data: Array(body))
        return Array(hmac.finalize())
    }

    /// Why a request's signature headers were refused; each says what the sender should fix.
    struct Refusal: Error, Equatable {
        var message: String
    }

    /// Checks the headers against the raw body: the MAC first (in constant time), then that the
    /// timestamp is within ``tolerance`` of `now`. Returns the normalized signature, the key
    /// for replay detection.
    func verify(signature presented: String?, timestamp presentedTimestamp: String?, body: [UInt8], now: Date) throws(Refusal) -> String {
        guard let presented, let presentedTimestamp else {
            throw Refusal(message: "missing \(Self.signatureHeader) or \(Self.timestampHeader); sign the request as docs/http-channel.md shows")
        }
        let timestampText = presentedTimestamp.trimmingCharacters(in: .whitespaces)
        guard (1...12).contains(timestampText.count), timestampText.allSatisfy(\.isASCIIDigit), let timestamp = Int64(timestampText) else {
            throw Refusal(message: "\(Self.timestampHeader) must be the current time in unix seconds, such as \(Int64(now.timeIntervalSince1970))")
        }
        let lower = presented.trimmingCharacters(in: .whitespaces).lowercased()
        guard lower.hasPrefix("sha256=") else {
            throw Refusal(message: "\(Self.signatureHeader) must be sha256=<hex HMAC-SHA256 of \"<timestamp>.<body>\">")
        }
        let expected = Array(hex(mac(timestamp: timestampText, body: body)).utf8)
        guard constantTimeEquals(lower.utf8.dropFirst(7), expected) else {
            throw Refusal(message: "signature does not match; sign \"<timestamp>.<raw body>\" with the channel's secret, and send the body byte for byte as signed")
        }
        let age = now.timeIntervalSince1970 - TimeInterval(timestamp)
        guard abs(age) <= Self.tolerance else {
            throw Refusal(
                message:
                    "timestamp is \(Int(abs(age))) seconds \(age > 0 ? "old" : "in the future"); it must be within \(Int(Self.tolerance)) seconds of now: sign each request (and each retry) when you send it, and check the sender's clock"
            )
        }
        return lower
    }
}

private let hexDigits = Array("0123456789abcdef".utf8)

func hex(_ bytes: some Sequence<UInt8>) -> String {
    var out: [UInt8] = []
    out.reserveCapacity(64)
    for byte in bytes {
        out.append(hexDigits[Int(byte >> 4)])
        out.append(hexDigits[Int(byte & 0x0f)])
    }
    return String(decoding: out, as: UTF8.self)
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}

/// The signatures of requests accepted in the last few minutes, so an identical signed request
/// sent again (captured and replayed) is refused. Bounded: past `capacity` the oldest are
/// forgotten, which costs nothing but the refusal — a replayed message is still deduplicated on
/// its `message_id` by the store. Per process: several gateway processes each keep their own.
final class ReplayGuard: Sendable {
    private struct State {
        var seen: Set<String> = []
        /// In arrival order, which is close to expiry order: timestamps differ by minutes at most.
        var queue: [(signature: String, expires: Date)] = []
        var head = 0
    }

    private let state = Mutex(State())
    private let capacity: Int

    init(capacity: Int = 100_000) { self.capacity = capacity }

    /// Records `signature` until `expires`; `false` when it was already recorded (a replay).
    func firstSight(_ signature: String, expires: Date, now: Date) -> Bool {
        state.withLock { state in
            while state.head < state.queue.count, state.queue[state.head].expires < now || state.seen.count >= capacity {
                state.seen.remove(state.queue[state.head].signature)
                state.head += 1
            }
            // Compact once the dead prefix is the larger part, so memory stays bounded.
            if state.head > 1024, state.head * 2 > state.queue.count {
                state.queue.removeFirst(state.head)
                state.head = 0
            }
            guard state.seen.insert(signature).inserted else { return false }
            state.queue.append((signature, expires))
            return true
        }
    }

    /// Lets `signature` be accepted again (its request was not stored after all). Its queue
    /// entry stays until it expires; it only drops a signature no longer in `seen`.
    func forget(_ signature: String) { state.withLock { _ = $0.seen.remove(signature) } }

    var count: Int { state.withLock { $0.seen.count } }
}
