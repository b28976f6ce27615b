/// Every channel file of one configuration, by id → its `type`, handed to each channel's
/// settings decoder (`Decoder.userInfo[.configuredChannels]`) while the configuration is
/// checked: a setting that names another channel (the widget's `email_fallback`) is judged
/// with the rest of that channel's settings, so `switchboard check` reports it on its line.
/// Absent when settings are decoded outside a full check (a channel built at runtime).
public struct ConfiguredChannels: Sendable, Hashable {
    public var types: [String: String]

    public init(types: [String: String]) { self.types = types }
}

extension CodingUserInfoKey {
    /// `ConfiguredChannels`: the other channels of the configuration being checked.
    public static let configuredChannels = CodingUserInfoKey(rawValue: "switchboard.configuredChannels")!
}
