import Foundation
import SwitchboardCore
import Testing

/// The client's turns as the stores record them: the employee's answer is keyed by the time of
/// the turn it answers, so no two turns may share that key.
struct ChatTurnTests {
    let t0 = Date(timeIntervalSince1970: 1_795_000_000)  // a whole second, as a test clock reads

    func chat(lastClientMessageAt: Date? = nil) -> Chat {
        Chat(id: "c", channelID: "mail", conversationKey: "a@example.org", employeeID: "alexey", title: "A", createdAt: t0,
             lastClientMessageAt: lastClientMessageAt)
    }

    @Test func aLaterTurnIsRecordedAtItsTime() {
        var chat = chat()
        chat.recordClientTurn(at: t0)
        #expect(chat.lastClientMessageAt == t0)
        chat.recordClientTurn(at: t0.addingTimeInterval(60))
        #expect(chat.lastClientMessageAt == t0.addingTimeInterval(60))
    }

    /// Two turns at one clock reading (a stopped clock, or another process's clock a little
    /// behind) are two answers owed, with two keys — also on sub-millisecond times.
    @Test(arguments: [0, 0.0004, 0.0009999, 0.123456])
    func aTurnNotLaterThanTheLastStillGetsItsOwnAnswerKey(fraction: Double) {
        let first = t0.addingTimeInterval(fraction)
        var chat = chat(lastClientMessageAt: first)
        var keys: Set<String> = [OutboxKey.reply(answering: first).rawValue]
        for time in [first, first, first.addingTimeInterval(-5)] {
            let before = chat.lastClientMessageAt!
            chat.recordClientTurn(at: time)
            #expect(chat.lastClientMessageAt! > before)
            #expect(chat.lastClientMessageAt!.timeIntervalSince(before) < 0.002, "only just past the last turn")
            #expect(keys.insert(OutboxKey.reply(answering: chat.lastClientMessageAt!).rawValue).inserted, "a key of its own")
        }
    }
}
