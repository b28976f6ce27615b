import Foundation
import Testing

@testable import EmailChannel

enum Fixtures {
    static func raw(_ name: String) throws -> [UInt8] {
        guard let url = Bundle.module.url(forResource: name, withExtension: "eml", subdirectory: "Fixtures") else {
            throw FixtureMissing(name: name)
        }
        return Array(try Data(contentsOf: url))
    }

    static func mail(_ name: String) throws -> ParsedMail { MIMEParser().parse(try raw(name)) }

    struct FixtureMissing: Error { var name: String }
}

@Suite("MIME parser")
struct MIMEParserTests {
    @Test func gmailAlternativePrefersThePlainPartAndDecodesQuotedPrintableUTF8() throws {
        let mail = try Fixtures.mail("gmail_reply")
        #expect(mail.from == MailAddress(name: "Ana K", address: "ana.k@gmail.com"))
        #expect(mail.subject == "Re: Your booking")
        #expect(mail.messageID == "<CAF=k2xZ9q8Lw_r4bTQ1+pY@mail.gmail.com>")
        #expect(mail.inReplyTo == ["<sb.1f2e3d4c5b6a79880011223344556677@example.com>"])
        #expect(mail.text.hasPrefix("Thanks! Could you also book a table for two at 8 pm? 😊"))
        #expect(mail.text.contains("5–7 December"))
        #expect(mail.html?.contains("gmail_quote") == true)
        #expect(mail.problems.isEmpty)
    }

    @Test func outlookBase64Body() throws {
        let mail = try Fixtures.mail("outlook_reply")
        #expect(mail.from?.address == "boris.b@outlook.com")
        #expect(mail.text.contains("Is parking included in the price?"))
        #expect(mail.problems.isEmpty)
    }

    @Test func koi8rEightBitBodyAndEncodedWordHeaders() throws {
        let mail = try Fixtures.mail("thunderbird_koi8r")
        #expect(mail.from?.name == "Дмитрий Петров")
        #expect(mail.subject == "Re: Трансфер")
        // format=flowed: the line ending in a space joins the next.
        #expect(mail.text.contains("есть ли трансфер из аэропорта? Прилетаем в 23:40."))
    }

    @Test func windows1251QuotedPrintableBodyAndSubjectSplitOverTwoEncodedWords() throws {
        let mail = try Fixtures.mail("first_mail_cp1251")
        #expect(mail.from == MailAddress(name: "Михаил Соколов", address: "mikhail@example.net"))
        #expect(mail.subject == "Бронирование номера на декабрь")
        #expect(mail.text.contains("Хочу забронировать номер на двоих с 5 по 7 декабря."))
        #expect(mail.problems.isEmpty)
    }

    @Test func mailRuWindows1251() throws {
        let mail = try Fixtures.mail("mailru_reply")
        #expect(mail.subject == "Re: Заселение")
        #expect(mail.from?.name == "Ольга Кузнецова")
        #expect(mail.text.hasPrefix("Здравствуйте! Можно ли заселиться раньше, в 10 утра?"))
    }

    @Test func yandexBase64Alternative() throws {
        let mail = try Fixtures.mail("yandex_reply")
        #expect(mail.from?.name == "Елена Смирнова")
        #expect(mail.subject == "Re: Бронирование")
        #expect(mail.text.hasPrefix("Спасибо, всё понятно. А завтрак во сколько?"))
    }

    @Test func attachmentsAreNotedWithNameTypeAndSizeNotDecodedIntoText() throws {
        let mail = try Fixtures.mail("mixed_attachment")
        #expect(mail.from == MailAddress(name: "Petrov, Ivan", address: "ivan.petrov@example.org"))
        #expect(mail.text.trimmingCharacters(in: .whitespacesAndNewlines) == "Please find our company details attached for the invoice.")
        #expect(mail.attachments.count == 1)
        let attachment = try #require(mail.attachments.first)
        #expect(attachment.name == "Реквизиты.pdf")
        #expect(attachment.contentType == "application/pdf")
        #expect(attachment.size == 9 + 256 * 40)
    }

    @Test func aDeliveryStatusNotificationIsRead() throws {
        let mail = try Fixtures.mail("bounce_dsn")
        let report = try #require(mail.report)
        #expect(report.isFailure)
        #expect(report.recipients == ["gone@example.net"])
        #expect(report.status == "5.1.1")
        #expect(report.diagnostic?.contains("User unknown") == true)
        #expect(report.originalMessageID == "<sb.deadbeefdeadbeefdeadbeefdeadbeef@example.com>")
        #expect(mail.returnPath == "")
    }

    @Test func brokenMailIsReadAsFarAsPossibleWithItsProblemsNoted() throws {
        let mail = try Fixtures.mail("broken")
        #expect(mail.from?.address == "someone@example.com")
        #expect(mail.messageID == nil)
        #expect(mail.text.contains("Hello été"))
        #expect(mail.text.contains("Hello world"))
        #expect(mail.problems.contains { $0.contains("unknown charset") })
        #expect(mail.problems.contains { $0.contains("closing boundary") })
    }

    @Test(arguments: [
        ("=?UTF-8?B?0J/RgNC40LLQtdGC?=", "Привет"),
        ("=?utf-8?q?caf=C3=A9_au_lait?=", "café au lait"),
        ("=?ISO-8859-1?Q?Andr=E9?= Pirard", "André Pirard"),
        ("=?iso-8859-5?B?vtHe4N7i?=", "Оборот"),
        ("=?UTF-8?B?0J/RgNC4?= =?UTF-8?B?0LLQtdGC?=", "Привет"),
        ("plain =? not a word", "plain =? not a word"),
        ("=?unknown-cs?Q?abc?=", "abc"),
    ])
    func encodedWords(_ input: String, _ expected: String) {
        #expect(EncodedWords.decode(input) == expected)
    }

    @Test(arguments: [
        ("koi8-r", [0xF0, 0xD2, 0xC9, 0xD7, 0xC5, 0xD4] as [UInt8], "Привет"),
        ("windows-1251", [0xCF, 0xF0, 0xE8, 0xE2, 0xE5, 0xF2], "Привет"),
        ("cp1251", [0xCF, 0xF0, 0xE8, 0xE2, 0xE5, 0xF2], "Привет"),
        ("ISO-8859-5", [0xBF, 0xE0, 0xD8, 0xD2, 0xD5, 0xE2], "Привет"),
        ("iso-8859-2", [0x50, 0xF8, 0xED, 0x6C, 0x69, 0xB9], "Příliš"),
        ("ISO-8859-15", [0xA4], "€"),
        ("iso-8859-1", [0x93, 0x68, 0x69, 0x94], "“hi”"),
        ("us-ascii", [0x68, 0x69], "hi"),
    ])
    func charsets(_ label: String, _ bytes: [UInt8], _ expected: String) {
        let decoded = Charset.decode(bytes, charset: label)
        #expect(decoded.text == expected)
        #expect(decoded.problem == nil)
    }

    @Test func aHugeBase64AttachmentIsMeasuredQuickly() throws {
        // 20 MB of base64 in a mixed mail: read without decoding it into memory as text.
        let line = String(repeating: "QUJD", count: 19) + "\r\n"
        let body = String(repeating: line, count: 20 * 1024 * 1024 / 57)
        let raw = Array(
            ("From: a@example.net\r\nSubject: big\r\nMessage-ID: <big@example.net>\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n"
                + "Content-Type: text/plain\r\n\r\nSee attached.\r\n--x\r\nContent-Type: application/octet-stream; name=big.bin\r\n"
                + "Content-Transfer-Encoding: base64\r\n\r\n" + body + "--x--\r\n").utf8)
        let started = ContinuousClock.now
        let mail = MIMEParser().parse(raw)
        #expect(mail.text.trimmingCharacters(in: .whitespacesAndNewlines) == "See attached.")
        #expect(mail.attachments.first?.name == "big.bin")
        #expect((mail.attachments.first?.size ?? 0) > 19 * 1024 * 1024)
        #expect(ContinuousClock.now - started < .seconds(20))
    }

    @Test func htmlOnlyMailBecomesTextWithQuotesMarked() {
        let raw = Array(
            """
            From: X <x@example.net>\r
            Content-Type: text/html; charset=utf-8\r
            \r
            <html><head><style>p{color:red}</style></head><body><p>Yes, please &amp; thanks!</p>\
            <div class="gmail_quote">On Mon, Nov 23, 2026 at 10:15 AM Hotel &lt;h@example.com&gt; wrote:<br>\
            <blockquote>Shall we book?</blockquote></div></body></html>\r

            """.utf8)
        let mail = MIMEParser().parse(raw)
        #expect(mail.text.contains("Yes, please & thanks!"))
        #expect(mail.text.contains("> Shall we book?"))
        #expect(!mail.text.contains("color:red"))
        #expect(ReplyStripper.strip(mail.text).reply == "Yes, please & thanks!")
    }

    @Test func addressLists() {
        #expect(MIMEParser.parseAddressList("\"K, Ana\" <ana@x.org>, bob@y.org (Bob B), Team: c@z.org, d@z.org;").map(\.address) == [
            "ana@x.org", "bob@y.org", "c@z.org", "d@z.org",
        ])
        #expect(MIMEParser.parseAddressList("bob@y.org (Bob B)").first?.name == "Bob B")
        #expect(MIMEParser.parseIDs("<a@b> <c@d>\r\n <e@f>") == ["<a@b>", "<c@d>", "<e@f>"])
    }
}
