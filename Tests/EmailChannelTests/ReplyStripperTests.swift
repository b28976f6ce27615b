import Foundation
import Testing

@testable import EmailChannel

@Suite("Reply stripper")
struct ReplyStripperTests {
    /// Each real-world sample: what the client wrote now, and a piece of what must be cut.
    @Test(arguments: [
        ("gmail_reply", "Thanks! Could you also book a table for two at 8 pm? 😊", "your room is confirmed"),
        ("outlook_reply", "Hi,\n\nIs parking included in the price?", "we have rooms free"),
        ("apple_mail_reply", "Perfect, noon works for us.", "late check-out until noon"),
        ("thunderbird_koi8r", "Добрый день!\n\nПодскажите, пожалуйста, есть ли трансфер из аэропорта? Прилетаем в 23:40.", "Номер забронирован"),
        ("yandex_reply", "Спасибо, всё понятно. А завтрак во сколько?", "Ждём вас 5 декабря"),
        ("mailru_reply", "Здравствуйте! Можно ли заселиться раньше, в 10 утра?", "Ваш номер готов"),
        ("first_mail_cp1251", "Здравствуйте!\n\nХочу забронировать номер на двоих с 5 по 7 декабря. Есть ли свободные?\n\nМихаил", ""),
    ])
    func realWorldSamples(_ fixture: String, _ reply: String, _ removedPiece: String) throws {
        let mail = try Fixtures.mail(fixture)
        let result = ReplyStripper.strip(mail.text)
        #expect(result.reply == reply)
        if removedPiece.isEmpty {
            #expect(result.removed.isEmpty)
        } else {
            #expect(result.removed.contains(removedPiece))
            #expect(!result.reply.contains(removedPiece))
        }
    }

    @Test func signaturesAreCut() {
        #expect(ReplyStripper.strip("Sure, thanks.\n\n-- \nAna K\nACME Ltd").reply == "Sure, thanks.")
        #expect(ReplyStripper.strip("Ok\n\nSent from my Galaxy").reply == "Ok")
        #expect(ReplyStripper.strip("Да\n\nОтправлено с iPhone").reply == "Да")
        #expect(ReplyStripper.strip("Ja\n\nVon meinem iPhone gesendet").reply == "Ja")
    }

    @Test func inlineAnswersBetweenQuotesAreKept() {
        let body = "> Which dates?\n5 to 7 December.\n> How many guests?\nTwo."
        #expect(ReplyStripper.strip(body).reply == body)
    }

    @Test func forwardedMailWithACommentKeepsTheComment() {
        let body = "Please see below.\n\n---------- Forwarded message ---------\nFrom: X <x@y>\nDate: Mon\nSubject: Hi\n\nOld text"
        let result = ReplyStripper.strip(body)
        #expect(result.reply == "Please see below.")
        #expect(result.removed.contains("Old text"))
    }

    @Test func russianOutlookHeaderBlock() {
        let body = "Спасибо!\n\nОт: Riverside Hotel <support@example.com>\nОтправлено: 23 ноября 2026 г. 10:15\nКому: Иван\nТема: Бронь\n\nСтарый текст"
        #expect(ReplyStripper.strip(body).reply == "Спасибо!")
    }

    @Test func aMailThatIsAllQuoteIsKeptWhole() {
        let body = "> just a quote\n> nothing else"
        #expect(ReplyStripper.strip(body).reply == body)
    }

    @Test func germanAndFrenchAttributions() {
        #expect(ReplyStripper.strip("Danke!\n\nAm 23.11.2026 um 10:15 schrieb Hotel <h@example.com>:\n> Hallo").reply == "Danke!")
        #expect(ReplyStripper.strip("Merci !\n\nLe lun. 23 nov. 2026 à 10:15, Hotel <h@example.com> a écrit :\n> Bonjour").reply == "Merci !")
    }
}
