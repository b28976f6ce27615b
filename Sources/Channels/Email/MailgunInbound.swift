import Crypto
import Foundation
import Synchronization

/// Mailgun's inbound route (`forward("https://gw.example.com/webhooks/<id>")`, protocols.md §3.4):
/// a form (urlencoded, or multipart when there are attachments) signed with the webhook signing
/// key. Verified first — HMAC-SHA256(key, timestamp + token) in constant time, a timestamp
/// within 5 minutes of real time, each token once — then read as a mail: the raw MIME from
/// `body-mime` when the route asks for it, else rebuilt from the parsed fields.
struct MailgunInbound: Sendable {
    static let tolerance: TimeInterval = 300

    let signingKey: [UInt8]
    let tokens = TokenCache()

    enum Verdict: Sendable {
        case accepted(raw: [UInt8], token: String)
        /// 401: not from Mailgun (or a replay); nothing stored.
        case forged(String)
        /// 406: from Mailgun but unusable; Mailgun does not retry it.
        case rejected(String)
    }

    func read(body: [UInt8], contentType: String?, now: Date) -> Verdict {
        let fields = Self.formFields(body: body, contentType: contentType)
        guard let timestamp = fields["timestamp"], let token = fields["token"], let signature = fields["signature"] else {
            return .forged("timestamp, token and signature are required (Mailgun signs every request)")
        }
        let mac = HMAC<SHA256>.authenticationCode(for: Array((timestamp + token).utf8), using: SymmetricKey(data: signingKey))
        let expected = mac.map { String(format: "%02x", $0) }.joined()
        guard constantTimeEqual(Array(expected.utf8), Array(signature.lowercased().utf8)) else {
            return .forged("the signature does not match the signing key")
        }
        guard let seconds = Double(timestamp), abs(now.timeIntervalSince1970 - seconds) <= Self.tolerance else {
            return .forged("the timestamp is more than 5 minutes away from now")
        }
        guard tokens.firstSight(token, now: now) else { return .forged("this token was already used (a replay)") }
        if let mime = fields["body-mime"], !mime.isEmpty { return .accepted(raw: Array(mime.utf8), token: token) }
        guard let from = fields["from"] ?? fields["sender"], !from.isEmpty else { return .rejected("the mail has no sender") }
        return .accepted(raw: Self.rebuild(fields: fields, from: from), token: token)
    }

    /// A mail from Mailgun's parsed fields: the original headers (`message-headers`, a JSON list
    /// of pairs) minus the ones describing a body we do not have, and `body-plain` as UTF-8.
    static func rebuild(fields: [String: String], from: String) -> [UInt8] {
        var headers: [(String, String)] = []
        if let json = fields["message-headers"], let pairs = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String]] {
            for pair in pairs where pair.count == 2 {
                let name = pair[0].lowercased()
                if name == "content-type" || name == "content-transfer-encoding" || name == "mime-version" { continue }
                headers.append((pair[0], pair[1].replacingOccurrences(of: "\r", with: " ").replacingOccurrences(of: "\n", with: " ")))
            }
        }
        if !headers.contains(where: { $0.0.lowercased() == "from" }) { headers.append(("From", from)) }
        if !headers.contains(where: { $0.0.lowercased() == "subject" }), let subject = fields["subject"] { headers.append(("Subject", subject)) }
        headers += [("MIME-Version", "1.0"), ("Content-Type", "text/plain; charset=utf-8"), ("Content-Transfer-Encoding", "8bit")]
        let head = headers.map { "\($0.0): \($0.1)\r\n" }.joined()
        let body = (fields["body-plain"] ?? fields["stripped-text"] ?? "").replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\n", with: "\r\n")
        return Array((head + "\r\n" + body).utf8)
    }

    /// Text fields of an `application/x-www-form-urlencoded` or `multipart/form-data` body
    /// (files are skipped: attachments are noted by the mail, not stored).
    static func formFields(body: [UInt8], contentType: String?) -> [String: String] {
        let type = ContentType(contentType)
        if type.value == "multipart/form-data", let boundary = type.parameters["boundary"] {
            var fields: [String: String] = [:]
            var ignored: [String] = []
            for part in MIMEParser.splitMultipart(body, body: 0..<body.count, boundary: boundary, problems: &ignored) {
                let (h, b) = MIMEParser.split(body, in: part)
                let headers = MIMEParser.parseHeaders(body[h], problems: &ignored)
                let disposition = ContentType(headers["Content-Disposition"])
                guard let name = disposition.parameters["name"], disposition.parameters["filename"] == nil else { continue }
                fields[name] = String(decoding: body[b], as: UTF8.self)
            }
            return fields
        }
        var fields: [String: String] = [:]
        for pair in String(decoding: body, as: UTF8.self).split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let decode = { (text: Substring) in text.replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(text) }
            guard let key = parts.first else { continue }
            fields[decode(key)] = parts.count > 1 ? decode(parts[1]) : ""
        }
        return fields
    }

    private func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(truncatingIfNeeded: a.count ^ b.count)
        for index in 0..<max(a.count, b.count) {
            difference |= (index < a.count ? a[index] : 0) ^ (index < b.count ? b[index] : 0)
        }
        return difference == 0
    }

    /// Tokens seen within the timestamp window; older ones are dropped (a replay that old fails
    /// the timestamp check anyway).
    final class TokenCache: Sendable {
        private let seen = Mutex<[String: Date]>([:])

        func firstSight(_ token: String, now: Date) -> Bool {
            seen.withLock { seen in
                if seen.count > 10_000 { seen = seen.filter { now.timeIntervalSince($0.value) < 2 * MailgunInbound.tolerance } }
                guard seen[token] == nil else { return false }
                seen[token] = now
                return true
            }
        }

        func forget(_ token: String) { _ = seen.withLock { $0.removeValue(forKey: token) } }
    }
}
