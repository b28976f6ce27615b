import AsyncHTTPClient
import Foundation
import NIOCore
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A small W3C WebDriver client for browser tests: starts `chromedriver` on a free port as a
/// subprocess and drives headless Chromium through it over HTTP — no Python, no Selenium.
///
///     let driver = try await ChromeDriver.start()
///     let browser = try await driver.session()
///     try await browser.navigate(to: "http://127.0.0.1:8080/")
///     try await browser.element("button.primary").click()
///     try await browser.saveScreenshot(to: url)
///     await driver.stop()   // quits the sessions and ends chromedriver
final class ChromeDriver: Sendable {
    /// `chromedriver` on the PATH or where Debian's `chromium-driver` puts it; `nil` when not installed.
    static let executable: String? = {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        let candidates = path.split(separator: ":").map { "\($0)/chromedriver" } + ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }()

    /// The Chromium binary to drive, when one of the usual ones is installed (chromedriver finds
    /// its own otherwise).
    static let browser: String? = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    }

    /// Browser tests run when chromedriver is installed, and always on CI (`CI=true`), where a
    /// missing chromedriver is a failure rather than a reason to skip.
    static var testsEnabled: Bool { executable != nil || ProcessInfo.processInfo.environment["CI"] == "true" }

    let baseURL: String
    let http = HTTPClient(eventLoopGroupProvider: .singleton)
    private let process: Mutex<Process?>
    private let sessions = Mutex<[WebDriverSession]>([])

    private init(baseURL: String, process: Process) {
        self.baseURL = baseURL
        self.process = Mutex(process)
    }

    /// Starts chromedriver on a free port and waits until it is ready.
    static func start(timeout: Duration = .seconds(20)) async throws -> ChromeDriver {
        guard let executable else {
            throw WebDriverError("chromedriver is not installed: apt-get install -y chromium chromium-driver")
        }
        let port = try freePort()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["--port=\(port)", "--allowed-ips=127.0.0.1", "--log-level=WARNING"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let driver = ChromeDriver(baseURL: "http://127.0.0.1:\(port)", process: process)
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let status = try? await driver.command(.GET, "/status"), status["ready"]?.bool == true { return driver }
            try await Task.sleep(for: .milliseconds(50))
        }
        await driver.stop()
        throw WebDriverError("chromedriver did not become ready within \(timeout)")
    }

    /// Opens a headless Chromium window of `width`×`height` CSS pixels. `mobile` emulates a
    /// phone's viewport (touch, device pixel ratio 2) instead of sizing a desktop window.
    func session(width: Int = 1280, height: Int = 900, mobile: Bool = false, arguments: [String] = []) async throws -> WebDriverSession {
        var options: [String: Any] = [
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars", "--window-size=\(width),\(height)"]
                + arguments
        ]
        if let browser = Self.browser { options["binary"] = browser }
        if mobile {
            options["mobileEmulation"] = ["deviceMetrics": ["width": width, "height": height, "pixelRatio": 2, "touch": true]]
        }
        let capabilities: [String: Any] = ["capabilities": ["alwaysMatch": ["browserName": "chrome", "goog:chromeOptions": options]]]
        let value = try await command(.POST, "/session", capabilities)
        guard let id = value["sessionId"]?.string else { throw WebDriverError("no session id in \(value)") }
        let session = WebDriverSession(driver: self, id: id)
        sessions.withLock { $0.append(session) }
        return session
    }

    /// Quits every session, ends chromedriver and closes the HTTP client.
    func stop() async {
        for session in sessions.withLock({ sessions in defer { sessions = [] }; return sessions }) {
            try? await session.quit()
        }
        process.withLock { process in
            if let running = process, running.isRunning {
                // SIGKILL, not terminate(): chromedriver is spawned from a thread that blocks
                // SIGTERM and inherits that mask, so SIGTERM never arrives and waitUntilExit()
                // would wait forever. Its sessions are quit above; it has nothing to flush.
                kill(running.processIdentifier, SIGKILL)
                running.waitUntilExit()
            }
            process = nil
        }
        try? await http.shutdown()
    }

    /// Sends one WebDriver command and returns its `value`; a WebDriver error becomes a `WebDriverError`.
    @discardableResult
    func command(_ method: WebDriverMethod, _ path: String, _ body: [String: Any]? = nil) async throws -> WebDriverValue {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = .init(rawValue: method.rawValue)
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json; charset=utf-8")
            request.body = .bytes(ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: body)))
        } else if method == .POST {
            request.headers.add(name: "Content-Type", value: "application/json; charset=utf-8")
            request.body = .bytes(ByteBuffer(string: "{}"))
        }
        let response = try await http.execute(request, timeout: .seconds(60))
        let bytes = try await response.body.collect(upTo: 64 << 20)
        let reply = try JSONDecoder().decode(WebDriverValue.self, from: Data(bytes.readableBytesView))
        let value = reply["value"] ?? .null
        if response.status.code >= 400 || value["error"] != nil {
            throw WebDriverError("\(method) \(path): \(value["error"]?.string ?? "HTTP \(response.status.code)"): \(value["message"]?.string ?? "")")
        }
        return value
    }

    private static func freePort() throws -> Int {
        #if canImport(Glibc)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw WebDriverError("socket() failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard bound == 0 else { throw WebDriverError("bind() failed") }
        let named = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard named == 0 else { throw WebDriverError("getsockname() failed") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

/// One browser window. Every method is one WebDriver command (or a few, for waits).
final class WebDriverSession: Sendable {
    let driver: ChromeDriver
    let id: String

    init(driver: ChromeDriver, id: String) {
        self.driver = driver
        self.id = id
    }

    @discardableResult
    func command(_ method: WebDriverMethod, _ path: String, _ body: [String: Any]? = nil) async throws -> WebDriverValue {
        try await driver.command(method, "/session/\(id)" + path, body)
    }

    func navigate(to url: String) async throws { try await command(.POST, "/url", ["url": url]) }
    func currentURL() async throws -> String { try await command(.GET, "/url").string ?? "" }
    func title() async throws -> String { try await command(.GET, "/title").string ?? "" }
    func pageSource() async throws -> String { try await command(.GET, "/source").string ?? "" }
    func back() async throws { try await command(.POST, "/back") }
    func refresh() async throws { try await command(.POST, "/refresh") }

    func setWindowSize(width: Int, height: Int) async throws {
        try await command(.POST, "/window/rect", ["width": width, "height": height])
    }

    /// The first element matching a CSS selector; throws when there is none.
    func element(_ css: String) async throws -> WebElement {
        let value = try await command(.POST, "/element", ["using": "css selector", "value": css])
        return try WebElement(session: self, value: value)
    }

    func elements(_ css: String) async throws -> [WebElement] {
        let value = try await command(.POST, "/elements", ["using": "css selector", "value": css])
        return try (value.array ?? []).map { try WebElement(session: self, value: $0) }
    }

    func activeElement() async throws -> WebElement {
        try WebElement(session: self, value: try await command(.GET, "/element/active"))
    }

    /// Runs JavaScript in the page (`arguments[0]`… are `arguments`) and returns its result.
    @discardableResult
    func execute(_ script: String, _ arguments: [Any] = []) async throws -> WebDriverValue {
        try await command(.POST, "/execute/sync", ["script": script, "args": arguments])
    }

    /// Types into whatever has focus; use `Key` for special keys.
    func type(_ text: String) async throws {
        let down = text.unicodeScalars.map { ["type": "keyDown", "value": String($0)] }
        let up = text.unicodeScalars.map { ["type": "keyUp", "value": String($0)] }
        let actions = zip(down, up).flatMap { [$0, $1] }
        try await command(.POST, "/actions", ["actions": [["type": "key", "id": "keyboard", "actions": actions]]])
        try await command(.DELETE, "/actions")
    }

    /// Polls `condition` until it holds; throws with `description` after `timeout`.
    func wait(_ description: String, timeout: Duration = .seconds(10), until condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        var lastError: (any Error)?
        while ContinuousClock.now < deadline {
            do {
                if try await condition() { return }
            } catch {
                lastError = error
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw WebDriverError("timed out waiting for \(description)\(lastError.map { " (last error: \($0))" } ?? "")")
    }

    /// Waits for an element matching `css` and returns it.
    @discardableResult
    func waitForElement(_ css: String, timeout: Duration = .seconds(10)) async throws -> WebElement {
        try await wait("element \(css)", timeout: timeout) { try await !elements(css).isEmpty }
        return try await element(css)
    }

    /// A PNG of the viewport.
    func screenshot() async throws -> Data {
        guard let base64 = try await command(.GET, "/screenshot").string, let data = Data(base64Encoded: base64) else {
            throw WebDriverError("the screenshot was not base64")
        }
        return data
    }

    /// A PNG of the whole page: the window is stretched to the document's height for the shot.
    func fullPageScreenshot() async throws -> Data {
        let height = try await execute("return Math.ceil(document.documentElement.scrollHeight)").int ?? 900
        let rect = try await command(.GET, "/window/rect")
        let width = rect["width"]?.int ?? 1280
        let originalHeight = rect["height"]?.int ?? 900
        try await setWindowSize(width: width, height: max(originalHeight, height + 140))
        // Restore the window before returning, so the next step sees the size it asked for.
        let shot: Result<Data, any Error>
        do { shot = .success(try await screenshot()) } catch { shot = .failure(error) }
        try? await setWindowSize(width: width, height: originalHeight)
        return try shot.get()
    }

    func saveScreenshot(to url: URL, fullPage: Bool = false) async throws {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try (fullPage ? await fullPageScreenshot() : await screenshot()).write(to: url)
    }

    func quit() async throws { try await driver.command(.DELETE, "/session/\(id)") }
}

/// An element of the page, by its WebDriver reference.
struct WebElement: Sendable {
    static let key = "element-6066-11e4-a52e-4f735466cecf"
    let session: WebDriverSession
    let id: String

    init(session: WebDriverSession, value: WebDriverValue) throws {
        guard let id = value[WebElement.key]?.string else { throw WebDriverError("not an element: \(value)") }
        self.session = session
        self.id = id
    }

    @discardableResult
    private func command(_ method: WebDriverMethod, _ path: String, _ body: [String: Any]? = nil) async throws -> WebDriverValue {
        try await session.command(method, "/element/\(id)" + path, body)
    }

    func click() async throws { try await command(.POST, "/click") }
    func clear() async throws { try await command(.POST, "/clear") }
    func sendKeys(_ text: String) async throws { try await command(.POST, "/value", ["text": text]) }
    func text() async throws -> String { try await command(.GET, "/text").string ?? "" }
    func attribute(_ name: String) async throws -> String? { try await command(.GET, "/attribute/\(name)").string }
    func property(_ name: String) async throws -> WebDriverValue { try await command(.GET, "/property/\(name)") }
    func isDisplayed() async throws -> Bool { try await command(.GET, "/displayed").bool ?? false }
    /// The element as a script argument.
    var reference: [String: String] { [WebElement.key: id] }
}

/// The HTTP methods WebDriver commands use.
enum WebDriverMethod: String, Sendable, CustomStringConvertible {
    case GET, POST, DELETE
    var description: String { rawValue }
}

/// Special keys for `sendKeys` and `type`.
enum Key {
    static let enter = "\u{E007}"
    static let tab = "\u{E004}"
    static let escape = "\u{E00C}"
    static let backspace = "\u{E003}"
    static let space = " "
}

/// A JSON value from WebDriver.
enum WebDriverValue: Decodable, Sendable, CustomStringConvertible {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([WebDriverValue])
    case object([String: WebDriverValue])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([WebDriverValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: WebDriverValue].self))
        }
    }

    subscript(key: String) -> WebDriverValue? {
        if case .object(let object) = self { return object[key] }
        return nil
    }

    var string: String? { if case .string(let value) = self { value } else { nil } }
    var bool: Bool? { if case .bool(let value) = self { value } else { nil } }
    var int: Int? { if case .number(let value) = self { Int(value) } else { nil } }
    var array: [WebDriverValue]? { if case .array(let value) = self { value } else { nil } }

    var description: String {
        switch self {
        case .null: "null"
        case .bool(let value): "\(value)"
        case .number(let value): "\(value)"
        case .string(let value): "\"\(value)\""
        case .array(let values): "[\(values.map(\.description).joined(separator: ", "))]"
        case .object(let object): "{\(object.map { "\"\($0.key)\": \($0.value)" }.sorted().joined(separator: ", "))}"
        }
    }
}

struct WebDriverError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
