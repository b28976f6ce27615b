import Crypto
import Foundation

/// `widget.js` and the demo page, rendered once per channel from the files in this folder
/// (embedded in the binary at build time) and the channel's settings.
struct WidgetAssets: Sendable {
    let script: [UInt8]
    /// A strong validator for `If-None-Match`: the script changes only with the settings or a new build.
    let scriptETag: String
    let demoPage: [UInt8]

    /// What the script needs to draw itself before it has talked to the gateway.
    struct ScriptSettings: Encodable {
        var channel: String
        var title: String
        var subtitle: String?
        var greeting: String
        var employeeName: String?
        var accent: String
        var accentText: String
        var position: String
        var launcherLabel: String
        var askContact: Bool
        var maxTextLength: Int
    }

    static let configMarker = "/*@config*/{}"

    init(channelID: String, configuration: WidgetChannel.Configuration, employeeName: String?) {
        let settings = ScriptSettings(
            channel: channelID, title: configuration.title, subtitle: configuration.subtitle, greeting: configuration.greeting,
            employeeName: employeeName, accent: configuration.accentColor, accentText: configuration.accentTextColor,
            position: configuration.position.rawValue, launcherLabel: configuration.launcherLabel, askContact: configuration.askContact,
            maxTextLength: configuration.maxTextLength)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Strings and numbers only: encoding cannot fail.
        let json = (try? encoder.encode(settings)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        let source = String(decoding: PackageResources.widget_js, as: UTF8.self)
        script = Array(source.replacingOccurrences(of: Self.configMarker, with: json).utf8)
        scriptETag = "\"" + SHA256.hash(data: script).prefix(12).map { String(format: "%02x", $0) }.joined() + "\""

        let page = String(decoding: PackageResources.demo_html, as: UTF8.self)
        let values = [
            "{{title}}": configuration.title, "{{employee}}": employeeName ?? "the employee", "{{channel}}": channelID,
            "{{script}}": "/widget/\(channelID)/widget.js",
        ]
        demoPage = Array(values.reduce(page) { $0.replacingOccurrences(of: $1.key, with: Self.escapeHTML($1.value)) }.utf8)
    }

    static func escapeHTML(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.count)
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }
}
