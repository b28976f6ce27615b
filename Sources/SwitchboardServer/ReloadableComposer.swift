import AsyncHTTPClient
import Logging
import SwitchboardComposer
import SwitchboardConfig
import SwitchboardCore
import Synchronization

/// The composer the config describes, replaced as a whole when `composer:` changes on reload —
/// a new `api_key` (a leaked key revoked), model or server applies to the next composition
/// without a restart. Compositions already under way finish with the composer they started with.
final class ReloadableComposer: Composer {
    private let current: Mutex<(settings: GatewayConfig.ComposerSettings, composer: any Composer)>
    private let httpClient: HTTPClient
    private let logger: Logger

    init(settings: GatewayConfig.ComposerSettings, httpClient: HTTPClient, logger: Logger) {
        self.httpClient = httpClient
        self.logger = logger
        current = Mutex((settings, Self.make(settings, httpClient: httpClient, logger: logger)))
    }

    func compose(_ request: CompositionRequest) async throws -> Composition {
        let composer = current.withLock { $0.composer }
        return try await composer.compose(request)
    }

    /// Puts `settings` in force; returns whether anything changed.
    @discardableResult
    func apply(_ settings: GatewayConfig.ComposerSettings) -> Bool {
        let replacement = Self.make(settings, httpClient: httpClient, logger: logger)
        return current.withLock { current in
            guard current.settings != settings else { return false }
            current = (settings, replacement)
            return true
        }
    }

    static func make(_ settings: GatewayConfig.ComposerSettings, httpClient: HTTPClient, logger: Logger) -> any Composer {
        guard let baseURL = settings.baseURL else { return OfflineComposer() }
        return OpenAIComposer(
            configuration: OpenAIComposer.Configuration(
                baseURL: baseURL, apiKey: settings.apiKey, model: settings.model, temperature: settings.temperature,
                maxTokens: settings.maxTokens, maxTokensField: OpenAIComposer.MaxTokensField(name: settings.maxTokensField) ?? .maxTokens,
                timeout: .seconds(settings.timeoutSeconds)),
            httpClient: httpClient, logger: logger)
    }
}
