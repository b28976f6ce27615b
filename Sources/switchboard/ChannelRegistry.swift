import SwitchboardChannelKit
import SwitchboardConfig

/// Every channel type the gateway can run, by its YAML `type`. Adding a channel type is one line here.
enum ChannelRegistry {
    static let types: [ChannelType] = []

    static var validators: ConfigLoader.ChannelValidators {
        Dictionary(types.map { type in (type.name, { @Sendable decoder in try type.validate(decoder) }) }, uniquingKeysWith: { a, _ in a })
    }
}
