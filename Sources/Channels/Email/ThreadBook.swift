import Foundation
import SwitchboardCore

/// Per-client mail state in the channel's cursor store, so it survives restarts and is shared
/// by every gateway process on one database: the thread a reply goes into, and when the
/// client last got AI replies (the loop guard's count).
struct ThreadBook: Sendable {
    var channelID: String
    var cursors: any CursorStore

    private func threadName(_ address: String) -> String { "email:\(channelID):thread:\(address.lowercased())" }
    private func repliesName(_ address: String) -> String { "email:\(channelID):replies:\(address.lowercased())" }

    func thread(for address: String) async throws -> MailThread? {
        guard let text = try await cursors.cursor(threadName(address)) else { return nil }
        return try? JSONDecoder().decode(MailThread.self, from: Data(text.utf8))
    }

    func save(_ thread: MailThread, for address: String) async throws {
        let data = try JSONEncoder().encode(thread)
        try await cursors.setCursor(threadName(address), to: String(decoding: data, as: UTF8.self))
    }

    /// The client's new mail becomes the thread's latest.
    func received(_ mail: ParsedMail, from address: String) async throws {
        let previous = try await thread(for: address)
        try await save(MailThread.after(mail, previous: previous), for: address)
    }

    func recordSent(_ messageID: String, to address: String, thread: MailThread, isReply: Bool, now: Date) async throws {
        try await save(thread.adding(sent: messageID), for: address)
        guard isReply else { return }
        var times = try await replyTimes(address).filter { now.timeIntervalSince($0) < 3600 }
        times.append(now)
        try await cursors.setCursor(repliesName(address), to: times.map { String($0.timeIntervalSince1970) }.joined(separator: ","))
    }

    /// AI replies sent to `address` in the hour before `now` (gateway time).
    func repliesInLastHour(to address: String, now: Date) async throws -> Int {
        try await replyTimes(address).filter { now.timeIntervalSince($0) < 3600 && $0 <= now }.count
    }

    private func replyTimes(_ address: String) async throws -> [Date] {
        guard let text = try await cursors.cursor(repliesName(address)) else { return [] }
        return text.split(separator: ",").compactMap { Double($0).map(Date.init(timeIntervalSince1970:)) }
    }
}
