import AsyncHTTPClient
import EmailChannel
import Foundation
import Logging
import SwitchboardChannelKit
import SwitchboardCore
import SwitchboardTesting
import Synchronization

/// Counts what the channel hands in; stores nothing, so the figure is the channel's own cost
/// (IMAP round trips, fetching, parsing, stripping) without the database's.
private final class CountingIntake: InboundIntake {
    private let count = Mutex(0)
    var messages: Int { count.withLock { $0 } }
    func receive(_ messages: [InboundMessage]) async throws { count.withLock { $0 += messages.count } }
    func receiveStatuses(_ updates: [DeliveryStatusUpdate]) async throws {}
}

private final class MemoryCursors: CursorStore {
    private let values = Mutex<[String: String]>([:])
    func cursor(_ name: String) async throws -> String? { values.withLock { $0[name] } }
    func setCursor(_ name: String, to value: String) async throws { values.withLock { $0[name] = value } }
}

/// Mails a second the email channel ingests from a real Dovecot on loopback: `mails` realistic
/// client mails (QP windows-1251 Cyrillic with a Gmail-style quote, 2–3 KB each) are APPENDed,
/// then each round re-reads them all from UID 1 with `pollOnce()` (EXAMINE, UID SEARCH, one
/// UID FETCH per mail over one connection, MIME parse, reply stripping). Side by side: the
/// same mails parsed from memory, the ceiling the IMAP round trips are measured against.
func benchEmailIngest(mails: Int, rounds: Int = 5) async throws {
    let dovecot = try DovecotTestServer.start()
    defer { dovecot.stop() }
    let body = String(repeating: "Здравствуйте! Хочу забронировать номер на двоих с 5 по 7 декабря. Есть ли свободные? ", count: 12)
    let quoted = String(repeating: "> Здравствуйте, ждём вас. Номер готов к заселению в 14:00.\n", count: 8)
    func qp1251(_ text: String) -> String {
        // windows-1251 quoted-printable, as Outlook in a Russian locale writes it.
        var out = ""
        var lineLength = 0
        for scalar in text.unicodeScalars {
            let token: String
            if scalar == "\n" {
                out += "\r\n"
                lineLength = 0
                continue
            } else if scalar.isASCII, scalar != "=" {
                token = String(scalar)
            } else if let byte = cp1251[scalar] {
                token = String(format: "=%02X", byte)
            } else {
                token = "?"
            }
            if lineLength + token.count > 75 {
                out += "=\r\n"
                lineLength = 0
            }
            out += token
            lineLength += token.count
        }
        return out
    }
    let raws: [[UInt8]] = (0..<mails).map { n in
        Array(
            ("From: =?windows-1251?Q?=CC=E8=F5=E0=E8=EB?= <client\(n % 200)@example.net>\r\nTo: support@example.com\r\n"
                + "Subject: =?windows-1251?Q?=C1=F0=EE=ED=E8=F0=EE=E2=E0=ED=E8=E5?= \(n)\r\nMessage-ID: <bench-\(n)@example.net>\r\n"
                + "In-Reply-To: <sb.\(n)@example.com>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=windows-1251\r\n"
                + "Content-Transfer-Encoding: quoted-printable\r\n\r\n" + qp1251(body + "\n\nOn Mon, 23 Nov 2026 at 10:15, Riverside <support@example.com> wrote:\n" + quoted)
                + "\r\n").utf8)
    }
    let appendTime = try await seconds { try dovecot.append(raws) }
    print("email: \(mails) mails appended to Dovecot in \(format(appendTime, "s")) (\(raws.map(\.count).reduce(0, +) / mails) bytes each)")

    let cursors = MemoryCursors()
    let intake = CountingIntake()
    let configuration = EmailChannel.Configuration(
        address: "support@example.com", smtp: .init(url: "smtp://127.0.0.1:9"),
        imap: .init(url: dovecot.url, username: DovecotTestServer.username, password: Secret(DovecotTestServer.password), pollInterval: .seconds(30)))
    let environment = ChannelEnvironment(
        channelID: "mail", employeeID: "alexey", httpClient: HTTPClient.shared, logger: Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() }),
        clock: ScaledClock(), intake: intake, cursors: cursors)
    let channel = try EmailChannel(configuration: configuration, environment: environment)
    _ = try await channel.pollOnce()  // places the cursor after the appended mail
    guard let placed = try await cursors.cursor("email:mail:imap"), let json = try JSONSerialization.jsonObject(with: Data(placed.utf8)) as? [String: Any],
        let validity = json["uidValidity"] as? Int
    else { throw BenchFailure("no mailbox cursor after the first poll") }

    var imapRates: [Double] = []
    var parseRates: [Double] = []
    for _ in 0..<rounds {
        try await cursors.setCursor("email:mail:imap", to: #"{"uidValidity":\#(validity),"lastUID":0,"lastPoll":0}"#)
        let before = intake.messages
        var read = 0
        let imapTime = try await seconds { read = try await channel.pollOnce() }
        guard read == mails, intake.messages > before else { throw BenchFailure("read \(read) of \(mails) mails") }
        imapRates.append(Double(mails) / imapTime)
        let parseTime = await seconds { for raw in raws { _ = EmailChannel.readForBenchmark(raw) } }
        parseRates.append(Double(mails) / parseTime)
    }
    let imap = median(imapRates)
    let parse = median(parseRates)
    print("email: ingest over IMAP (fetch + parse + strip, one connection): median \(format(imap, "mails/s")) over \(rounds) rounds of \(mails)")
    print("email: the same mails parsed from memory (no IMAP):               median \(format(parse, "mails/s")); IMAP ingest is \(format(imap / parse * 100, "%")) of it")
}

struct BenchFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

private let cp1251: [Unicode.Scalar: UInt8] = {
    var map: [Unicode.Scalar: UInt8] = [:]
    // А–я are 0xC0–0xFF in windows-1251; Ё/ё are 0xA8/0xB8; the dashes and quotes used above.
    for offset in 0..<64 { map[Unicode.Scalar(0x410 + offset)!] = UInt8(0xC0 + offset) }
    map["Ё"] = 0xA8
    map["ё"] = 0xB8
    map["—"] = 0x97
    map["–"] = 0x96
    return map
}()
