/// The admin pages' stylesheet and script (`Assets/admin.css`, `Assets/admin.js`), embedded in
/// the binary and served by the gateway (no build step, no CDN).
enum AdminAssets {
    static let css = String(decoding: PackageResources.admin_css, as: UTF8.self)
    static let js = String(decoding: PackageResources.admin_js, as: UTF8.self)

    /// Changes with the files' content, so browsers never mix an old stylesheet with a new page
    /// and nobody has to remember to bump it.
    static let version: String = {
        // FNV-1a over both files: stable across runs (unlike `Hasher`), and enough to tell versions apart.
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in PackageResources.admin_css + PackageResources.admin_js {
            hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
        }
        return String(hash, radix: 36)
    }()
}
