import Foundation

// The slice of the Bot API's wire format the adapter reads and writes. Internal on purpose:
// the rest of the gateway sees only `InboundMessage`. Every field the adapter does not need
// is left out, and every field Telegram documents as optional is optional here, so a new
// Bot API version adding or dropping fields does not break decoding.

/// The JSON coders for the Bot API. Its keys are snake_case.
enum TelegramJSON {
    static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return decoder
    }

    static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        // Stable output makes captured requests comparable in tests and logs.
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }
}

/// The envelope around every Bot API answer.
struct TelegramResponse<Result: Decodable>: Decodable {
    var ok: Bool
    var result: Result?
    var description: String?
    var errorCode: Int?
    var parameters: ResponseParameters?
}

/// Extra information about a failed call.
struct ResponseParameters: Decodable {
    /// Seconds to wait before repeating a call that hit flood control.
    var retryAfter: Int?
    /// The supergroup a group chat was migrated to.
    var migrateToChatId: Int64?
}

/// One incoming update. At most one of the optional fields is set.
struct Update: Decodable {
    var updateId: Int64
    var message: Message?
    var editedMessage: Message?
    var callbackQuery: CallbackQuery?
    var myChatMember: ChatMemberUpdated?
}

/// An update in a `getUpdates` batch whose body may not decode. Keeping the id of an update
/// the adapter cannot read lets polling confirm it and move on instead of asking for it forever.
struct PolledUpdate: Decodable {
    var updateId: Int64
    var update: Update?

    private enum CodingKeys: String, CodingKey { case updateId }

    init(from decoder: any Decoder) throws {
        updateId = try decoder.container(keyedBy: CodingKeys.self).decode(Int64.self, forKey: .updateId)
        update = try? Update(from: decoder)
    }
}

struct User: Decodable {
    var id: Int64
    var isBot: Bool?
    var firstName: String
    var lastName: String?
    var username: String?
}

struct ChatInfo: Decodable {
    var id: Int64
    /// `private`, `group`, `supergroup` or `channel`.
    var type: String
    var title: String?
    var username: String?
    var firstName: String?
    var lastName: String?
}

struct Message: Decodable {
    var messageId: Int64
    var from: User?
    var chat: ChatInfo
    var date: Int64
    var editDate: Int64?
    var text: String?
    var caption: String?
    var photo: [PhotoSize]?
    var document: Document?
    var animation: Media?
    var voice: Media?
    var audio: Audio?
    var video: Media?
    var videoNote: Media?
    var sticker: Sticker?
    var location: Location?
    var venue: Venue?
    var contact: Contact?
    // Content the adapter cannot represent; only their presence matters.
    var poll: Present?
    var dice: Present?
    var game: Present?
    var story: Present?
    var invoice: Present?
    var paidMedia: Present?
}

/// Decodes any JSON value and keeps nothing: marks that a field was there.
struct Present: Decodable {
    init(from decoder: any Decoder) throws {}
}

struct PhotoSize: Decodable {
    var fileId: String
    var width: Int?
    var height: Int?
}

struct Document: Decodable {
    var fileId: String
    var fileName: String?
    var mimeType: String?
}

/// Voice, video, video note and animation share the fields the adapter reads.
struct Media: Decodable {
    var fileId: String
    var duration: Int?
}

struct Audio: Decodable {
    var fileId: String
    var duration: Int?
    var performer: String?
    var title: String?
    var fileName: String?
}

struct Sticker: Decodable {
    var fileId: String
    var emoji: String?
}

struct Location: Decodable {
    var latitude: Double
    var longitude: Double
}

struct Venue: Decodable {
    var location: Location
    var title: String
    var address: String?
}

struct Contact: Decodable {
    var phoneNumber: String
    var firstName: String
    var lastName: String?
    var userId: Int64?
}

struct CallbackQuery: Decodable {
    var id: String
    var from: User
    /// Missing when the button was on an inline-mode message or the message is too old.
    var message: Message?
    var data: String?
    var gameShortName: String?
}

struct ChatMemberUpdated: Decodable {
    var chat: ChatInfo
    var from: User
    var date: Int64
    var oldChatMember: ChatMember
    var newChatMember: ChatMember
}

struct ChatMember: Decodable {
    /// `creator`, `administrator`, `member`, `restricted`, `left` or `kicked`.
    var status: String
}

// MARK: - Requests

/// `chat_id`: an integer, or `@username` for channels and public groups.
enum ChatID: Encodable, Equatable {
    case id(Int64)
    case username(String)

    /// Reads a conversation key; `nil` when it is neither.
    init?(conversationKey: String) {
        if let id = Int64(conversationKey) {
            self = .id(id)
        } else if conversationKey.hasPrefix("@"), conversationKey.count > 1 {
            self = .username(conversationKey)
        } else {
            return nil
        }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .id(let id): try container.encode(id)
        case .username(let name): try container.encode(name)
        }
    }
}

struct SendMessageParameters: Encodable {
    var chatId: ChatID
    var text: String
}

struct SentMessage: Decodable {
    var messageId: Int64
}

struct GetUpdatesParameters: Encodable {
    var offset: Int64?
    var limit: Int
    var timeout: Int
    var allowedUpdates: [String]
}

struct SetWebhookParameters: Encodable {
    var url: String
    var secretToken: String
    var allowedUpdates: [String]
}

struct DeleteWebhookParameters: Encodable {
    var dropPendingUpdates: Bool
}

struct AnswerCallbackQueryParameters: Encodable {
    var callbackQueryId: String
}

/// The update types the adapter turns into messages; asking only for these keeps the rest
/// (channel posts, reactions, polls) from being delivered at all.
let subscribedUpdateTypes = ["message", "edited_message", "callback_query", "my_chat_member"]
