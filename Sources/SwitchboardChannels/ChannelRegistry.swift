public import SwitchboardChannelKit
import EmailChannel
import HTTPChannel
import TelegramChannel
import WhatsAppChannel
import WidgetChannel

/// Every channel type the gateway can run, by its YAML `type`. Adding a channel type is its
/// folder under Sources/Channels, its target in Package.swift, and one line here: this is the
/// only target that imports channel modules; the server takes the catalog and imports none.
public enum ChannelRegistry {
    public static let catalog = ChannelCatalog([
        telegramChannelType,
        whatsAppChannelType,
        widgetChannelType,
        httpChannelType,
        emailChannelType,
    ])

    public static func type(named name: String) -> ChannelType? { catalog.type(named: name) }

    /// What `ConfigLoader` needs to validate each type's settings.
    public static var validators: [String: @Sendable (any Decoder) throws -> Void] { catalog.validators }
}
