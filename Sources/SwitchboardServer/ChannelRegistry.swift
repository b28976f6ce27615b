public import SwitchboardChannelKit
public import SwitchboardConfig
import TelegramChannel
import WidgetChannel

/// Every channel type the gateway can run, by its YAML `type`. Adding a channel type is one
/// line here (and its folder under Sources/Channels).
public enum ChannelRegistry {
    public static let types: [ChannelType] = [
        telegramChannelType,
        widgetChannelType,
    ]

    public static func type(named name: String) -> ChannelType? { types.first { $0.name == name } }

    /// What `ConfigLoader` needs to validate each type's settings.
    public static var validators: ConfigLoader.ChannelValidators {
        Dictionary(types.map { type in (type.name, { @Sendable decoder in try type.validate(decoder) }) }, uniquingKeysWith: { a, _ in a })
    }
}
