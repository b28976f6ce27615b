import Foundation

// The Graph API's JSON as the channel reads and writes it (protocols.md §2.4, §2.6). Inbound,
// almost everything is optional: a field Meta drops or renames must cost one message its detail,
// never the whole batch (an unparsable batch is redelivered for 7 days).

/// The body of a webhook POST.
struct WebhookPayload: Decodable {
    var object: String?
    var entry: [Entry]?

    struct Entry: Decodable {
        var id: String?
        var changes: [Change]?
    }

    struct Change: Decodable {
        var field: String?
        var value: ChangeValue?
    }

    struct ChangeValue: Decodable {
        var metadata: Metadata?
        var contacts: [Contact]?
        var messages: [Lossy<WireMessage>]?
        var statuses: [Lossy<WireStatus>]?
    }

    struct Metadata: Decodable {
        var phoneNumberId: String?
    }

    struct Contact: Decodable {
        var waId: String?
        var userId: String?
        var profile: Profile?
    }

    struct Profile: Decodable {
        var name: String?
    }
}

/// One inbound message of `value.messages[]`.
struct WireMessage: Decodable {
    var id: String?
    var from: String?
    var fromUserId: String?
    var timestamp: LenientString?
    var type: String?
    var text: Text?
    var image: Media?
    var video: Media?
    var sticker: Media?
    var document: Media?
    var audio: Media?
    var location: Location?
    var contacts: [SharedContact]?
    var interactive: Interactive?
    var button: Button?
    var reaction: Reaction?
    var system: System?
    var errors: [WireError]?

    struct Text: Decodable { var body: String? }

    struct Media: Decodable {
        var caption: String?
        var filename: String?
        var mimeType: String?
        var voice: Bool?
        var animated: Bool?
    }

    struct Location: Decodable {
        var latitude: Double?
        var longitude: Double?
        var name: String?
        var address: String?
    }

    struct SharedContact: Decodable {
        struct Name: Decodable { var formattedName: String? }
        struct Phone: Decodable { var phone: String? }
        var name: Name?
        var phones: [Phone]?
    }

    struct Interactive: Decodable {
        struct Reply: Decodable {
            var id: String?
            var title: String?
            var description: String?
        }
        var type: String?
        var buttonReply: Reply?
        var listReply: Reply?
    }

    struct Button: Decodable {
        var payload: String?
        var text: String?
    }

    struct Reaction: Decodable {
        var messageId: String?
        var emoji: String?
    }

    struct System: Decodable {
        var body: String?
    }
}

/// One report about a message the business sent, `value.statuses[]`.
struct WireStatus: Decodable {
    var id: String?
    var status: String?
    var timestamp: LenientString?
    var recipientId: String?
    var errors: [WireError]?
}

/// An error inside a message or a status, and the Graph envelope's `error` object.
struct WireError: Decodable {
    struct ErrorData: Decodable { var details: String? }
    var code: Int?
    var title: String?
    var message: String?
    var errorSubcode: Int?
    var type: String?
    var errorData: ErrorData?
    var errorUserTitle: String?
    var errorUserMsg: String?
    var fbtraceId: String?

    /// `"<code>: <title>"`, as the chat shows a failure.
    var summary: String {
        let title = self.title ?? message ?? "unknown error"
        return code.map { "\($0): \(title)" } ?? title
    }
}

/// One element of a list, or `nil` when it does not decode: one odd message must not cost the
/// batch around it (the channel counts and logs what it dropped).
struct Lossy<Element: Decodable>: Decodable {
    var value: Element?

    init(from decoder: any Decoder) throws { value = try? Element(from: decoder) }
}

/// A string that Meta sometimes sends as a number (`timestamp`).
struct LenientString: Decodable {
    var value: String

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let text = try? container.decode(String.self) {
            value = text
        } else if let number = try? container.decode(Int64.self) {
            value = String(number)
        } else {
            value = ""
        }
    }
}

/// The Graph error envelope of a refused call.
struct GraphErrorEnvelope: Decodable {
    var error: WireError
}

/// `POST /{phone-number-id}/messages` answered 200.
struct SendResponse: Decodable {
    struct Sent: Decodable { var id: String }
    var messages: [Sent]?
}

/// `POST /{phone-number-id}/messages` body.
struct SendRequest: Encodable {
    var messagingProduct = "whatsapp"
    var recipientType = "individual"
    var to: String
    var type: String
    var text: Text?
    var template: Template?

    struct Text: Encodable {
        var previewUrl = false
        var body: String
    }

    struct Template: Encodable {
        struct Language: Encodable { var code: String }
        struct Component: Encodable {
            var type = "body"
            var parameters: [Parameter]
        }
        struct Parameter: Encodable {
            var type = "text"
            var text: String
        }
        var name: String
        var language: Language
        var components: [Component]?
    }
}

enum WhatsAppJSON {
    static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return decoder
    }

    static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }
}
