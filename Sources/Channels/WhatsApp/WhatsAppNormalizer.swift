import Foundation
import SwitchboardCore

/// Maps a decoded webhook payload to the gateway's messages and delivery statuses: every entry,
/// change, message and status, in order, each wamid once. Pure: the time for fields Meta left
/// out is passed in.
struct WhatsAppNormalizer: Sendable {
    let channelID: String
    let phoneNumberID: String

    struct Result: Sendable {
        var messages: [InboundMessage] = []
        var statuses: [DeliveryStatusUpdate] = []
        /// Items that were not understood at all (no id, wrong shape); acknowledged, logged.
        var dropped = 0
        /// Changes addressed to another number of the same WhatsApp Business Account.
        var otherNumbers = 0
    }

    func normalize(_ payload: WebhookPayload, now: Date) -> Result {
        var result = Result()
        var seenMessages = Set<String>()
        var seenStatuses = Set<String>()
        for entry in payload.entry ?? [] {
            for change in entry.changes ?? [] {
                guard let value = change.value else { continue }
                // Every number subscribed to the app posts to the same callback URL; the
                // metadata says which one an event is for.
                if let number = value.metadata?.phoneNumberId, number != phoneNumberID {
                    result.otherNumbers += 1
                    continue
                }
                let contacts = value.contacts ?? []
                for item in value.messages ?? [] {
                    guard let message = item.value, let id = message.id, !id.isEmpty, let from = message.from ?? message.fromUserId, !from.isEmpty
                    else {
                        result.dropped += 1
                        continue
                    }
                    // Meta delivers at least once; a batch may even repeat itself.
                    guard seenMessages.insert(id).inserted else { continue }
                    let name = Self.name(of: from, in: contacts)
                    let (kind, text) = Self.content(of: message)
                    result.messages.append(
                        InboundMessage(
                            channelID: channelID, conversationKey: from, providerMessageID: id, senderName: name, senderHandle: "+" + from,
                            chatTitle: name ?? "+" + from, receivedAt: Self.date(message.timestamp) ?? now, kind: kind, text: text))
                }
                for item in value.statuses ?? [] {
                    guard let status = item.value, let id = status.id, !id.isEmpty, let state = Self.state(status.status) else {
                        result.dropped += 1
                        continue
                    }
                    guard seenStatuses.insert("\(id)|\(state.rawValue)").inserted else { continue }
                    let error = state == .failed ? (status.errors?.first?.summary ?? "failed without a reason") : nil
                    let windowClosed = state == .failed && (status.errors ?? []).contains { $0.code == WhatsAppError.reengagementCode }
                    result.statuses.append(
                        DeliveryStatusUpdate(
                            channelID: channelID, providerMessageID: id, state: state, at: Self.date(status.timestamp) ?? now, error: error,
                            windowClosed: windowClosed))
                }
            }
        }
        return result
    }

    /// `played` (a voice note was listened to) is as far as `read` for the gateway.
    static func state(_ status: String?) -> DeliveryState? {
        switch status {
        case "sent": .sent
        case "delivered": .delivered
        case "read", "played": .read
        case "failed": .failed
        default: nil
        }
    }

    /// The client's profile name: the contact with this wa_id, or the only contact there is.
    static func name(of from: String, in contacts: [WebhookPayload.Contact]) -> String? {
        let contact = contacts.first { $0.waId == from || $0.userId == from } ?? (contacts.count == 1 ? contacts[0] : nil)
        guard let name = contact?.profile?.name?.trimmingCharacters(in: .whitespacesAndNewlines), !name.isEmpty else { return nil }
        return name
    }

    /// The kind and the text the employee reads. Media are never downloaded: the employee is
    /// told what arrived (and its caption), which is all a composer can use.
    static func content(of message: WireMessage) -> (MessageKind, String) {
        func labelled(_ label: String, _ caption: String?) -> String {
            guard let caption = caption?.trimmingCharacters(in: .whitespacesAndNewlines), !caption.isEmpty else { return label }
            return "\(label) \(caption)"
        }
        let type = message.type ?? ""
        switch type {
        case "text":
            if let body = message.text?.body { return (.text, body) }
        case "interactive":
            if let reply = message.interactive?.buttonReply ?? message.interactive?.listReply {
                let title = reply.title ?? reply.id ?? "[button]"
                let described = reply.description.map { "\(title) (\($0))" } ?? title
                return (.buttonReply, described)
            }
        case "button":
            if let button = message.button { return (.buttonReply, button.text ?? button.payload ?? "[button]") }
        case "reaction":
            if let reaction = message.reaction {
                guard let emoji = reaction.emoji, !emoji.isEmpty else { return (.reaction, "[removed a reaction]") }
                return (.reaction, "[reacted \(emoji)]")
            }
        case "image": return (.image, labelled("[photo]", message.image?.caption))
        case "video": return (.video, labelled("[video]", message.video?.caption))
        case "sticker": return (.sticker, message.sticker?.animated == true ? "[animated sticker]" : "[sticker]")
        case "document":
            let name = message.document?.filename.map { "[document \($0)]" } ?? "[document]"
            return (.document, labelled(name, message.document?.caption))
        case "audio":
            return message.audio?.voice == true ? (.voice, "[voice message]") : (.audio, "[audio]")
        case "location":
            if let location = message.location {
                let coordinates = [location.latitude, location.longitude].compactMap { $0.map { "\($0)" } }.joined(separator: ", ")
                let place = [location.name, location.address].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: ", ")
                return (.location, place.isEmpty ? "[location \(coordinates)]" : "[location \(coordinates)] \(place)")
            }
        case "contacts":
            let cards = (message.contacts ?? []).map { card in
                ([card.name?.formattedName] + (card.phones ?? []).map(\.phone)).compactMap { $0 }.joined(separator: " ")
            }
            return (.contact, cards.isEmpty ? "[contact]" : cards.map { "[contact \($0)]" }.joined(separator: " "))
        default:
            break
        }
        // `unsupported` (errors[] says why), `system`, and any type newer than this adapter:
        // stored visibly, so the employee can say it cannot open it.
        if let error = message.errors?.first {
            return (.unsupported, "[unsupported message: \(error.summary)]")
        }
        if let body = message.system?.body { return (.unsupported, "[\(type): \(body)]") }
        return (.unsupported, type.isEmpty ? "[unsupported message]" : "[unsupported message: \(type)]")
    }

    static func date(_ timestamp: LenientString?) -> Date? {
        guard let seconds = timestamp.flatMap({ TimeInterval($0.value) }) else { return nil }
        return Date(timeIntervalSince1970: seconds)
    }
}
