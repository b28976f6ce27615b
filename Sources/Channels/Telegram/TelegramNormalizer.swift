import Foundation
import SwitchboardCore

/// Maps a decoded Update to the gateway's `InboundMessage`: one message per update, or none for
/// the update types the gateway ignores. Pure: the only time it needs (a button press carries
/// no date of its own) is passed in.
struct TelegramNormalizer: Sendable {
    let channelID: String

    func normalize(_ update: Update, receivedAt now: Date) -> InboundMessage? {
        // The update id is the dedup key Telegram documents (unique per bot; the channel id
        // scopes it). A message id would not do: it is unique only within a chat, and an edit
        // reuses it.
        let providerID = String(update.updateId)
        if let message = update.message {
            return normalize(message: message, providerID: providerID, isEdit: false)
        }
        if let message = update.editedMessage {
            return normalize(message: message, providerID: providerID, isEdit: true)
        }
        if let query = update.callbackQuery {
            return normalize(callback: query, providerID: providerID, now: now)
        }
        if let member = update.myChatMember {
            return normalize(membership: member, providerID: providerID)
        }
        return nil
    }

    private func normalize(message: Message, providerID: String, isEdit: Bool) -> InboundMessage? {
        guard let (kind, text) = content(of: message) else { return nil }
        return InboundMessage(
            channelID: channelID,
            conversationKey: String(message.chat.id),
            providerMessageID: providerID,
            senderName: message.from.map(Self.fullName),
            senderHandle: message.from?.username,
            chatTitle: Self.title(of: message.chat) ?? message.from.map(Self.fullName),
            receivedAt: Self.date(isEdit ? (message.editDate ?? message.date) : message.date),
            kind: kind,
            text: text,
            isEdit: isEdit)
    }

    private func normalize(callback query: CallbackQuery, providerID: String, now: Date) -> InboundMessage {
        // Without the message (an inline-mode button) the private chat with the presser is the
        // only conversation there is; its id equals the user id.
        let chatID = query.message?.chat.id ?? query.from.id
        let text = query.data ?? query.gameShortName.map { "[game \($0)]" } ?? "[button]"
        return InboundMessage(
            channelID: channelID,
            conversationKey: String(chatID),
            providerMessageID: providerID,
            senderName: Self.fullName(query.from),
            senderHandle: query.from.username,
            chatTitle: query.message.flatMap { Self.title(of: $0.chat) } ?? Self.fullName(query.from),
            receivedAt: now,
            kind: .buttonReply,
            text: text)
    }

    private func normalize(membership update: ChatMemberUpdated, providerID: String) -> InboundMessage? {
        // In a private chat `kicked` means the client blocked the bot. In a group, `kicked` or
        // `left` means the bot was removed. Either way nothing more can be delivered. Unblocking
        // (`kicked` → `member`) has no event in the contract yet, so it is not reported.
        let status = update.newChatMember.status
        guard status == "kicked" || (status == "left" && update.chat.type != "private") else { return nil }
        let text = update.chat.type == "private" ? "[the client blocked the bot]" : "[the bot was removed from the chat]"
        return InboundMessage(
            channelID: channelID,
            conversationKey: String(update.chat.id),
            providerMessageID: providerID,
            senderName: Self.fullName(update.from),
            senderHandle: update.from.username,
            chatTitle: Self.title(of: update.chat) ?? Self.fullName(update.from),
            receivedAt: Self.date(update.date),
            kind: .system,
            text: text,
            event: .unreachable)
    }

    /// The kind and the text the employee reads. Media become a placeholder naming what arrived,
    /// with the caption when there is one. `nil` for service messages (a member joined, a title
    /// changed): nothing the client said.
    private func content(of message: Message) -> (MessageKind, String)? {
        func captioned(_ placeholder: String) -> String {
            guard let caption = message.caption, !caption.isEmpty else { return placeholder }
            return caption
        }
        if let text = message.text { return (.text, text) }
        if message.photo != nil { return (.image, captioned("[photo]")) }
        // An animation also sets `document`, so it is checked first.
        if message.animation != nil { return (.video, captioned("[animation]")) }
        if message.video != nil { return (.video, captioned("[video]")) }
        if let note = message.videoNote { return (.video, "[video message\(Self.seconds(note.duration))]") }
        if let voice = message.voice { return (.voice, captioned("[voice message\(Self.seconds(voice.duration))]")) }
        if let audio = message.audio {
            let name = [audio.performer, audio.title].compactMap { $0 }.joined(separator: " – ")
            let label = name.isEmpty ? (audio.fileName ?? "") : name
            return (.audio, captioned(label.isEmpty ? "[audio]" : "[audio \(label)]"))
        }
        if let document = message.document {
            return (.document, captioned(document.fileName.map { "[document \($0)]" } ?? "[document]"))
        }
        if let sticker = message.sticker { return (.sticker, sticker.emoji.map { "[sticker \($0)]" } ?? "[sticker]") }
        // A venue also sets `location`, so it is checked first.
        if let venue = message.venue {
            let place = [venue.title, venue.address].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: ", ")
            return (.location, "[location \(Self.coordinates(venue.location))] \(place)")
        }
        if let location = message.location { return (.location, "[location \(Self.coordinates(location))]") }
        if let contact = message.contact {
            let name = [contact.firstName, contact.lastName].compactMap { $0 }.joined(separator: " ")
            return (.contact, "[contact \(name) \(contact.phoneNumber)]")
        }
        let unsupported: [(Present?, String)] = [
            (message.poll, "poll"), (message.dice, "dice"), (message.game, "game"), (message.story, "story"),
            (message.invoice, "invoice"), (message.paidMedia, "paid media"),
        ]
        if let (_, name) = unsupported.first(where: { $0.0 != nil }) { return (.unsupported, "[\(name)]") }
        return nil
    }

    static func fullName(_ user: User) -> String {
        [user.firstName, user.lastName].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: " ")
    }

    /// The client's name for a private chat, the title for a group.
    static func title(of chat: ChatInfo) -> String? {
        if chat.type == "private" {
            let name = [chat.firstName, chat.lastName].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: " ")
            return name.isEmpty ? chat.username : name
        }
        return chat.title ?? chat.username
    }

    private static func date(_ unixSeconds: Int64) -> Date { Date(timeIntervalSince1970: TimeInterval(unixSeconds)) }

    private static func seconds(_ duration: Int?) -> String { duration.map { " \($0) s" } ?? "" }

    private static func coordinates(_ location: Location) -> String { "\(location.latitude), \(location.longitude)" }
}
