import Foundation
import SwitchboardCore

/// The name and email a visitor chose to give, kept in the store (one cursor per visitor) so
/// every tab, page load and gateway process sees them.
struct VisitorProfiles: Sendable {
    let cursors: any CursorStore
    let channelID: String

    func load(_ visitorID: String) async throws -> WidgetProtocol.Profile {
        guard let json = try await cursors.cursor(cursorName(visitorID)) else { return WidgetProtocol.Profile() }
        var profile = (try? JSONDecoder().decode(WidgetProtocol.Profile.self, from: Data(json.utf8))) ?? WidgetProtocol.Profile()
        profile.type = nil
        return profile
    }

    func save(_ profile: WidgetProtocol.Profile, for visitorID: String) async throws {
        var stored = profile
        stored.type = nil
        try await cursors.setCursor(cursorName(visitorID), to: WidgetProtocol.encode(stored))
    }

    private func cursorName(_ visitorID: String) -> String { "widget:\(channelID):visitor:\(visitorID)" }

    /// Checks what a visitor typed: a name of at most 80 characters without control characters,
    /// an email that looks like one. Empty text clears the field.
    static func validated(name: String?, email: String?) -> WidgetProtocol.Profile? {
        let name = name?.trimmingCharacters(in: .whitespacesAndNewlines)
        let email = email?.trimmingCharacters(in: .whitespacesAndNewlines)
        if let name, name.count > 80 || name.unicodeScalars.contains(where: { CharacterSet.controlCharacters.contains($0) }) { return nil }
        if let email, !email.isEmpty, !isPlausibleEmail(email) { return nil }
        return WidgetProtocol.Profile(name: name?.isEmpty == false ? name : nil, email: email?.isEmpty == false ? email : nil)
    }

    static func isPlausibleEmail(_ text: String) -> Bool {
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        guard text.utf8.count <= 254, parts.count == 2, !parts[0].isEmpty, parts[0].utf8.count <= 64 else { return false }
        let domain = parts[1]
        return domain.contains(".") && !domain.hasPrefix(".") && !domain.hasSuffix(".")
            && !text.contains(where: { $0.isWhitespace || $0.isNewline || "<>()[],;:\\\"".contains($0) })
    }
}
