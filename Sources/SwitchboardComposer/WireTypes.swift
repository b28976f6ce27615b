import Foundation

// The chat-completions wire format (protocols.md §5), internal to the module. Decoding is
// tolerant: OpenAI, Ollama, llama.cpp and vLLM each leave out or reshape different fields.

/// The request body. `max_tokens` goes under the configured field name.
struct ChatCompletionRequest: Encodable {
    var model: String
    var messages: [PromptBuilder.Message]
    var temperature: Double
    var maxTokens: Int
    var maxTokensField: String

    private struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ string: String) { stringValue = string }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Key.self)
        try container.encode(model, forKey: Key("model"))
        try container.encode(messages, forKey: Key("messages"))
        try container.encode(temperature, forKey: Key("temperature"))
        try container.encode(maxTokens, forKey: Key(maxTokensField))
        try container.encode(false, forKey: Key("stream"))
    }
}

/// The parts of a chat completion the composer uses.
struct ChatCompletionResponse: Decodable {
    struct Choice: Decodable {
        var content: String?
        var finishReason: String?

        private enum CodingKeys: String, CodingKey { case message, finishReason = "finish_reason" }
        private enum MessageKeys: String, CodingKey { case content }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            finishReason = try? container.decodeIfPresent(String.self, forKey: .finishReason)
            // `content` may be null (tool calls, refusals) or, on some servers, an array of parts.
            let message = try? container.nestedContainer(keyedBy: MessageKeys.self, forKey: .message)
            content = (try? message?.decodeIfPresent(String.self, forKey: .content)) ?? nil
        }
    }

    struct Usage: Decodable {
        var promptTokens: Int?
        var completionTokens: Int?

        private enum CodingKeys: String, CodingKey { case promptTokens = "prompt_tokens", completionTokens = "completion_tokens" }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            promptTokens = try? container.decodeIfPresent(Int.self, forKey: .promptTokens)
            completionTokens = try? container.decodeIfPresent(Int.self, forKey: .completionTokens)
        }
    }

    var model: String?
    var choices: [Choice]
    var usage: Usage?

    private enum CodingKeys: String, CodingKey { case model, choices, usage }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        model = try? container.decodeIfPresent(String.self, forKey: .model)
        // `choices` is the one field a chat completion cannot lack: its absence means the URL
        // points at something else, and decoding fails.
        choices = try container.decode([Choice].self, forKey: .choices)
        usage = try? container.decodeIfPresent(Usage.self, forKey: .usage)
    }
}

/// `{"error": {"message", "type", "param", "code"}}`, where llama.cpp sends `code` as an
/// integer and some servers send `error` as a bare string.
struct ErrorEnvelope: Decodable {
    var message: String?
    var type: String?
    var code: String?

    private enum CodingKeys: String, CodingKey { case error }
    private enum ErrorKeys: String, CodingKey { case message, type, code }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        if let text = try? container.decode(String.self, forKey: .error) {
            message = text
            return
        }
        let error = try container.nestedContainer(keyedBy: ErrorKeys.self, forKey: .error)
        message = try? error.decodeIfPresent(String.self, forKey: .message)
        type = try? error.decodeIfPresent(String.self, forKey: .type)
        if let text = try? error.decodeIfPresent(String.self, forKey: .code) {
            code = text
        } else if let number = try? error.decodeIfPresent(Int.self, forKey: .code) {
            code = String(number)
        }
    }

    static func decode(_ data: Data) -> ErrorEnvelope? {
        try? JSONDecoder().decode(ErrorEnvelope.self, from: data)
    }
}
