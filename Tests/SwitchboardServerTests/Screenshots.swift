import Foundation

/// Where the browser tests save their screenshots.
///
/// By default `.build-screenshots/` at the package root, which git ignores, so `swift test`
/// leaves the clone clean. `scripts/refresh-screenshots.sh` sets
/// `SWITCHBOARD_REFRESH_SCREENSHOTS=1` to write them into `docs/screenshots/`, where the README
/// and the docs show them; commit those on purpose.
enum Screenshots {
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static let folder: URL =
        ProcessInfo.processInfo.environment["SWITCHBOARD_REFRESH_SCREENSHOTS"] == "1"
        ? packageRoot.appendingPathComponent("docs/screenshots")
        : packageRoot.appendingPathComponent(".build-screenshots")

    /// The file for one screenshot, such as `followups-list.png`.
    static func url(_ name: String) -> URL { folder.appendingPathComponent(name) }
}
