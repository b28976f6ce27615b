import CCurl
import Foundation
import SwitchboardCore

/// How a mail server URL is reached: the scheme decides TLS (protocols.md §3.1, §3.3).
struct MailServer: Sendable, Hashable {
    enum Security: Sendable, Hashable {
        /// `smtps://`, `imaps://`: TLS from the first byte.
        case implicitTLS
        /// `smtp://`, `imap://` to another host: STARTTLS is required (`CURLUSESSL_ALL`); no
        /// credentials ever travel in plain text.
        case startTLS
        /// `smtp://`, `imap://` to a loopback address: a local relay or a test server, plain.
        case plainLoopback
    }

    /// `scheme://host:port`, no path.
    var origin: String
    var host: String
    /// The path after the origin, percent-decoded (`INBOX` for IMAP).
    var path: String
    var security: Security
    var username: String?
    var password: Secret?

    var useSSL: curl_usessl {
        switch security {
        case .implicitTLS: CURLUSESSL_NONE
        case .startTLS: CURLUSESSL_ALL
        case .plainLoopback: CURLUSESSL_NONE
        }
    }

    /// Parses `url` for `protocol` (`smtp` or `imap`). Returns an error in words on failure.
    static func parse(_ url: String, protocol name: String) -> Result<MailServer, ConfigurationProblem> {
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(), let host = components.host, !host.isEmpty else {
            return .failure(ConfigurationProblem("\(name).url must look like \(name)s://mail.example.com\(name == "imap" ? ":993/INBOX" : ":465")"))
        }
        let security: Security
        switch scheme {
        case "\(name)s": security = .implicitTLS
        case name: security = isLoopback(host) ? .plainLoopback : .startTLS
        default:
            return .failure(ConfigurationProblem("\(name).url must start with \(name)s:// (TLS) or \(name):// (STARTTLS); got \(scheme)://"))
        }
        if components.user != nil || components.password != nil {
            return .failure(ConfigurationProblem("put the \(name) credentials in \(name).username and \(name).password, not in the URL"))
        }
        let port = components.port.map { ":\($0)" } ?? ""
        let bracketed = host.contains(":") ? "[\(host)]" : host
        var path = components.percentEncodedPath
        while path.hasPrefix("/") { path.removeFirst() }
        return .success(
            MailServer(origin: "\(scheme)://\(bracketed)\(port)", host: host, path: path.removingPercentEncoding ?? path, security: security))
    }

    static func isLoopback(_ host: String) -> Bool {
        let lower = host.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        if lower == "localhost" || lower == "::1" { return true }
        let octets = lower.split(separator: ".")
        return octets.count == 4 && octets.first == "127" && octets.allSatisfy { UInt8($0) != nil }
    }
}

/// A configuration value that cannot work, in words that say what to write instead.
struct ConfigurationProblem: Error, Sendable {
    var message: String
    init(_ message: String) { self.message = message }
}

// MARK: - IMAP

/// What the poller needs from a mailbox, over one libcurl handle that keeps its connection
/// (and selected mailbox) between calls. Used by one task at a time.
final class IMAPMailbox: @unchecked Sendable {
    // @unchecked: the handle is used only inside `CurlPool.run` by the one poller task that owns
    // this object, one call at a time (the poller awaits each call).
    private let server: MailServer
    private let mailbox: String
    private let transfer: CurlTransfer
    private let timeout: Int

    struct Status: Sendable, Hashable {
        var uidValidity: UInt32
        var uidNext: UInt32?
    }

    enum Fetched: Sendable {
        case message([UInt8])
        /// Larger than allowed: only the header block was fetched.
        case tooLarge(headers: [UInt8])
        /// Nothing under that UID any more (expunged between search and fetch).
        case gone
    }

    init(server: MailServer, timeout: Int) throws {
        self.server = server
        self.mailbox = server.path.isEmpty ? "INBOX" : server.path
        self.timeout = timeout
        self.transfer = try CurlTransfer()
    }

    func abort() { transfer.abort.store(true, ordering: .relaxed) }

    private var mailboxURL: String {
        server.origin + "/" + (mailbox.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: ";/?"))) ?? mailbox)
    }

    private func prepare(_ url: String) {
        transfer.prepare(
            url: url, username: server.username, password: server.password?.value, useSSL: server.useSSL, connectTimeout: 15, timeout: timeout)
    }

    /// `EXAMINE` (read-only select): the mailbox's UIDVALIDITY and UIDNEXT.
    func status() async throws -> Status {
        try await CurlPool.run { [self] in
            prepare(server.origin + "/")
            transfer.set(CURLOPT_CUSTOMREQUEST, "EXAMINE \(Self.quoted(mailbox))")
            let text = String(decoding: try transfer.perform(), as: UTF8.self)
            guard let validity = Self.bracketNumber("UIDVALIDITY", in: text) else {
                throw CurlError(code: 0, message: "the server's EXAMINE answer has no UIDVALIDITY", responseCode: 0, serverReply: String(text.prefix(300)))
            }
            return Status(uidValidity: validity, uidNext: Self.bracketNumber("UIDNEXT", in: text))
        }
    }

    /// UIDs above `after`, ascending. The URL pins UIDVALIDITY: if it changed, libcurl refuses
    /// (`remoteFileNotFound`) rather than returning numbers from another numbering.
    func uids(after: UInt32, uidValidity: UInt32) async throws -> [UInt32] {
        try await search("UID SEARCH UID \(after + 1):*", uidValidity: uidValidity).filter { $0 > after }
    }

    /// UIDs of mail that arrived on or after `day` (IMAP's SINCE has day granularity).
    func uids(since day: Date, uidValidity: UInt32) async throws -> [UInt32] {
        try await search("UID SEARCH SINCE \(Self.imapDate(day))", uidValidity: uidValidity)
    }

    private func search(_ command: String, uidValidity: UInt32) async throws -> [UInt32] {
        try await CurlPool.run { [self] in
            prepare(mailboxURL + ";UIDVALIDITY=\(uidValidity)")
            transfer.set(CURLOPT_CUSTOMREQUEST, command)
            let text = String(decoding: try transfer.perform(), as: UTF8.self)
            var uids: [UInt32] = []
            for line in text.split(whereSeparator: \.isNewline) where line.hasPrefix("* SEARCH") {
                uids += line.dropFirst("* SEARCH".count).split(separator: " ").compactMap { UInt32($0) }
            }
            return uids.sorted()
        }
    }

    /// The raw message under `uid` (libcurl's `UID FETCH n BODY[]`, which marks it `\Seen`).
    func fetch(uid: UInt32, uidValidity: UInt32, maxBytes: Int) async throws -> Fetched {
        try await CurlPool.run { [self] in
            let url = mailboxURL + ";UIDVALIDITY=\(uidValidity)/;UID=\(uid)"
            prepare(url)
            transfer.limitDownload(to: maxBytes)
            do {
                let body = try transfer.perform()
                return body.isEmpty ? .gone : .message(body)
            } catch let error as CurlError {
                guard error.code == CurlError.writeError, transfer.exceededLimit else { throw error }
                prepare(url + "/;SECTION=HEADER")
                transfer.limitDownload(to: 1 << 20)
                return .tooLarge(headers: try transfer.perform())
            }
        }
    }

    /// Appends a raw message (tests and the benchmark fill mailboxes this way).
    func append(_ message: [UInt8]) async throws {
        try await CurlPool.run { [self] in
            prepare(mailboxURL)
            transfer.setUpload(message)
            _ = try transfer.perform()
        }
    }

    static func quoted(_ mailbox: String) -> String {
        "\"" + mailbox.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    static func bracketNumber(_ name: String, in text: String) -> UInt32? {
        guard let range = text.range(of: "[\(name) ") else { return nil }
        return UInt32(text[range.upperBound...].prefix { $0.isNumber })
    }

    /// `23-Nov-2026`, in UTC.
    static func imapDate(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? .current
        let c = calendar.dateComponents([.year, .month, .day], from: date)
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        return "\(c.day ?? 1)-\(months[(c.month ?? 1) - 1])-\(c.year ?? 1970)"
    }
}

// MARK: - SMTP

/// Sends one mail per call over SMTP submission.
struct SMTPSubmission: Sendable {
    var server: MailServer
    /// The name we give in EHLO: our address's domain (libcurl would use the machine's name,
    /// which some servers refuse).
    var heloName: String
    var timeout: Int

    /// Delivers `message` from `sender` (the envelope sender, where bounces go) to `recipients`.
    func send(_ message: [UInt8], from sender: String, to recipients: [String]) async throws(CurlError) {
        let server = self.server
        let url = server.origin + "/" + heloName
        let timeout = self.timeout
        do {
            try await CurlPool.run {
                let transfer = try CurlTransfer()
                transfer.prepare(
                    url: url, username: server.username, password: server.password?.value, useSSL: server.useSSL, connectTimeout: 15, timeout: timeout)
                transfer.set(CURLOPT_MAIL_FROM, "<\(sender)>")
                transfer.setRecipients(recipients)
                transfer.setUpload(message)
                _ = try transfer.perform()
            }
        } catch let error as CurlError {
            throw error
        } catch {
            throw CurlError(code: 0, message: "the mail thread pool is shut down: \(error)", responseCode: 0)
        }
    }
}
